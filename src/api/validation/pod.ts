import type { Container, PodSpec, Probe, Volume, ContainerPort, LifecycleHandler } from 'kubernetes-types/core/v1.js';
import type { FieldError } from '../status.js';
import { duplicate, forbiddenField, invalidValue, notFoundField, notSupported, required } from './field.js';
import { isCIdentifier, isConfigMapKey, isDNS1123Label, isDNS1123Subdomain, isEnvVarName, isQualifiedName, isValidLabelValue, isValidPortName, isValidPortNum } from './names.js';
import { parseQuantity, QuantityError } from '../quantity.js';
import { volumeSourcesOf } from '../defaults/pod.js';
import { deepEqual } from '../../util/deep-equal.js';

const restartPolicies = ['Always', 'OnFailure', 'Never'];
const dnsPolicies = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];
const pullPolicies = ['Always', 'IfNotPresent', 'Never'];
const protocols = ['SCTP', 'TCP', 'UDP'];
const terminationMessagePolicies = ['File', 'FallbackToLogsOnError'];
const tolerationOperators = ['Equal', 'Exists'];
const taintEffects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

interface SpecContext {
  /** `spec` for pods, `spec.template.spec` for workloads. */
  readonly path: string;
  readonly volumes: Map<string, Volume>;
  readonly isTemplate: boolean;
}

function validateQuantity(errs: FieldError[], field: string, q: unknown): bigint | undefined {
  try {
    const v = parseQuantity(q as string);
    if (v < 0n) { errs.push(invalidValue(field, q, 'must be greater than or equal to 0')); return undefined; }
    return v;
  } catch (e) {
    if (e instanceof QuantityError) errs.push(invalidValue(field, q, e.message));
    else throw e;
    return undefined;
  }
}

function validateResources(errs: FieldError[], c: Container, path: string): void {
  const limits = new Map<string, bigint>();
  for (const [name, q] of Object.entries(c.resources?.limits ?? {})) {
    const v = validateQuantity(errs, `${path}.resources.limits[${name}]`, q);
    if (v !== undefined) limits.set(name, v);
  }
  for (const [name, q] of Object.entries(c.resources?.requests ?? {})) {
    const v = validateQuantity(errs, `${path}.resources.requests[${name}]`, q);
    const lim = limits.get(name);
    if (v !== undefined && lim !== undefined && v > lim) {
      errs.push(invalidValue(`${path}.resources.requests`, q, `must be less than or equal to ${name} limit of ${c.resources!.limits![name]}`));
    }
  }
}

function validatePorts(errs: FieldError[], ports: ContainerPort[] | undefined, path: string, portNames: Set<string>): void {
  (ports ?? []).forEach((p, i) => {
    const f = `${path}.ports[${i}]`;
    if (p.name !== undefined && p.name !== '') {
      for (const m of isValidPortName(p.name)) errs.push(invalidValue(`${f}.name`, p.name, m));
      if (portNames.has(p.name)) errs.push(duplicate(`${f}.name`, p.name));
      portNames.add(p.name);
    }
    if (p.containerPort === undefined || p.containerPort === 0) errs.push(required(`${f}.containerPort`));
    else for (const m of isValidPortNum(p.containerPort)) errs.push(invalidValue(`${f}.containerPort`, p.containerPort, m));
    if (p.hostPort !== undefined && p.hostPort !== 0) for (const m of isValidPortNum(p.hostPort)) errs.push(invalidValue(`${f}.hostPort`, p.hostPort, m));
    if (p.protocol === undefined || p.protocol === '') errs.push(required(`${f}.protocol`));
    else if (!protocols.includes(p.protocol)) errs.push(notSupported(`${f}.protocol`, p.protocol, protocols));
  });
}

function validateHandler(errs: FieldError[], h: LifecycleHandler | Probe, path: string, probe: boolean): void {
  const set = (['exec', 'httpGet', 'tcpSocket', 'grpc', 'sleep'] as const).filter((k) => (h as Record<string, unknown>)[k] !== undefined);
  if (set.length === 0) { errs.push(required(path, 'must specify a handler type')); return; }
  if (set.length > 1) { errs.push(forbiddenField(`${path}.${set[1]}`, 'may not specify more than 1 handler type')); return; }
  const port = (h as Probe).httpGet?.port ?? (h as Probe).tcpSocket?.port ?? (probe ? (h as Probe).grpc?.port : undefined);
  if (h.exec && (!h.exec.command || h.exec.command.length === 0)) errs.push(required(`${path}.exec.command`));
  if (port !== undefined) {
    const f = `${path}.${set[0]}.port`;
    if (typeof port === 'number') for (const m of isValidPortNum(port)) errs.push(invalidValue(f, port, m));
    else for (const m of isValidPortName(port)) errs.push(invalidValue(f, port, m));
  } else if (h.httpGet || h.tcpSocket) errs.push(required(`${path}.${set[0]}.port`));
}

function validateProbe(errs: FieldError[], p: Probe | undefined, path: string): void {
  if (!p) return;
  validateHandler(errs, p, path, true);
  for (const k of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold'] as const) {
    const v = p[k];
    if (v !== undefined && v < 0) errs.push(invalidValue(`${path}.${k}`, v, 'must be greater than or equal to 0'));
  }
}

function validateContainer(errs: FieldError[], c: Container, path: string, ctx: SpecContext, names: Set<string>, portNames: Set<string>, kind: 'container' | 'init'): void {
  if (!c.name) errs.push(required(`${path}.name`));
  else {
    for (const m of isDNS1123Label(c.name)) errs.push(invalidValue(`${path}.name`, c.name, m));
    if (names.has(c.name)) errs.push(duplicate(`${path}.name`, c.name));
    names.add(c.name);
  }
  if (!c.image || c.image.trim() === '') {
    // Templates may leave the image to be filled in later only with upstream's "optional image" rule; pods never.
    errs.push(required(`${path}.image`));
  } else if (c.image !== c.image.trim()) {
    errs.push(invalidValue(`${path}.image`, c.image, 'must not have leading or trailing whitespace'));
  }
  if (c.imagePullPolicy && !pullPolicies.includes(c.imagePullPolicy)) errs.push(notSupported(`${path}.imagePullPolicy`, c.imagePullPolicy, pullPolicies));
  if (c.terminationMessagePolicy && !terminationMessagePolicies.includes(c.terminationMessagePolicy)) {
    errs.push(notSupported(`${path}.terminationMessagePolicy`, c.terminationMessagePolicy, terminationMessagePolicies));
  }
  validatePorts(errs, c.ports, path, portNames);
  const envNames = new Set<string>();
  (c.env ?? []).forEach((e, i) => {
    const f = `${path}.env[${i}]`;
    if (!e.name) errs.push(required(`${f}.name`));
    else for (const m of isEnvVarName(e.name)) errs.push(invalidValue(`${f}.name`, e.name, m));
    envNames.add(e.name);
    if (e.valueFrom) {
      const sources = (['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef'] as const).filter((k) => e.valueFrom![k] !== undefined);
      if (e.value !== undefined && e.value !== '') errs.push(invalidValue(`${f}.valueFrom`, '', 'may not be specified when `value` is not empty'));
      if (sources.length === 0) errs.push(invalidValue(`${f}.valueFrom`, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
      else if (sources.length > 1) errs.push(invalidValue(`${f}.valueFrom`, '', 'may not have more than one field specified at a time'));
      const keyRef = e.valueFrom.configMapKeyRef ?? e.valueFrom.secretKeyRef;
      if (keyRef) {
        const kf = `${f}.valueFrom.${e.valueFrom.configMapKeyRef ? 'configMapKeyRef' : 'secretKeyRef'}`;
        if (!keyRef.key) errs.push(required(`${kf}.key`));
        else for (const m of isConfigMapKey(keyRef.key)) errs.push(invalidValue(`${kf}.key`, keyRef.key, m));
      }
      if (e.valueFrom.fieldRef && !e.valueFrom.fieldRef.fieldPath) errs.push(required(`${f}.valueFrom.fieldRef.fieldPath`));
    }
  });
  (c.envFrom ?? []).forEach((e, i) => {
    if (e.prefix) for (const m of isCIdentifier(e.prefix)) errs.push(invalidValue(`${path}.envFrom[${i}].prefix`, e.prefix, m));
    if (!e.configMapRef && !e.secretRef) errs.push(invalidValue(`${path}.envFrom[${i}]`, '', 'must specify one of: `configMapRef` or `secretRef`'));
  });
  const mountPaths = new Set<string>();
  (c.volumeMounts ?? []).forEach((m, i) => {
    const f = `${path}.volumeMounts[${i}]`;
    if (!m.name) errs.push(required(`${f}.name`));
    else if (!ctx.volumes.has(m.name)) errs.push(notFoundField(`${f}.name`, m.name));
    if (!m.mountPath) errs.push(required(`${f}.mountPath`));
    else if (mountPaths.has(m.mountPath)) errs.push(invalidValue(`${f}.mountPath`, m.mountPath, 'must be unique'));
    else mountPaths.add(m.mountPath);
    if (m.subPath && (m.subPath.startsWith('/') || m.subPath.split('/').includes('..'))) {
      errs.push(invalidValue(`${f}.subPath`, m.subPath, "must be a relative path without '..'"));
    }
  });
  validateResources(errs, c, path);
  const sidecar = kind === 'init' && c.restartPolicy === 'Always';
  if (c.restartPolicy !== undefined) {
    if (kind !== 'init') errs.push(forbiddenField(`${path}.restartPolicy`, 'may not be set for non-init containers'));
    else if (c.restartPolicy !== 'Always') errs.push(notSupported(`${path}.restartPolicy`, c.restartPolicy, ['Always']));
  }
  if (kind === 'init' && !sidecar) {
    for (const k of ['livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle'] as const) {
      if (c[k] !== undefined) errs.push(forbiddenField(`${path}.${k}`, 'may not be set for init containers without restartPolicy=Always'));
    }
  } else {
    validateProbe(errs, c.livenessProbe, `${path}.livenessProbe`);
    validateProbe(errs, c.readinessProbe, `${path}.readinessProbe`);
    validateProbe(errs, c.startupProbe, `${path}.startupProbe`);
    if (c.livenessProbe && c.livenessProbe.successThreshold !== undefined && c.livenessProbe.successThreshold !== 1) {
      errs.push(invalidValue(`${path}.livenessProbe.successThreshold`, c.livenessProbe.successThreshold, 'must be 1'));
    }
    if (c.startupProbe && c.startupProbe.successThreshold !== undefined && c.startupProbe.successThreshold !== 1) {
      errs.push(invalidValue(`${path}.startupProbe.successThreshold`, c.startupProbe.successThreshold, 'must be 1'));
    }
    if (c.lifecycle?.postStart) validateHandler(errs, c.lifecycle.postStart, `${path}.lifecycle.postStart`, false);
    if (c.lifecycle?.preStop) validateHandler(errs, c.lifecycle.preStop, `${path}.lifecycle.preStop`, false);
  }
  const sc = c.securityContext;
  if (sc) {
    if (sc.runAsUser !== undefined && sc.runAsUser < 0) errs.push(invalidValue(`${path}.securityContext.runAsUser`, sc.runAsUser, 'must be between 0 and 2147483647, inclusive'));
    if (sc.runAsGroup !== undefined && sc.runAsGroup < 0) errs.push(invalidValue(`${path}.securityContext.runAsGroup`, sc.runAsGroup, 'must be between 0 and 2147483647, inclusive'));
    if (sc.privileged && sc.allowPrivilegeEscalation === false) errs.push(invalidValue(`${path}.securityContext`, sc, 'cannot set `allowPrivilegeEscalation` to false and `privileged` to true'));
  }
}

function validateVolume(errs: FieldError[], v: Volume, path: string): void {
  if (!v.name) errs.push(required(`${path}.name`));
  else for (const m of isDNS1123Label(v.name)) errs.push(invalidValue(`${path}.name`, v.name, m));
  const sources = volumeSourcesOf(v);
  if (sources.length === 0) errs.push(required(path, 'must specify a volume type'));
  else if (sources.length > 1) errs.push(forbiddenField(`${path}.${sources[1]}`, 'may not specify more than 1 volume type'));
  if (v.hostPath) {
    if (!v.hostPath.path) errs.push(required(`${path}.hostPath.path`));
    const types = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'];
    if (v.hostPath.type !== undefined && !types.includes(v.hostPath.type)) errs.push(notSupported(`${path}.hostPath.type`, v.hostPath.type, types.filter((t) => t)));
  }
  if (v.configMap && !v.configMap.name) errs.push(required(`${path}.configMap.name`));
  if (v.secret && !v.secret.secretName) errs.push(required(`${path}.secret.secretName`));
  if (v.persistentVolumeClaim && !v.persistentVolumeClaim.claimName) errs.push(required(`${path}.persistentVolumeClaim.claimName`));
  if (v.emptyDir?.sizeLimit !== undefined) validateQuantity(errs, `${path}.emptyDir.sizeLimit`, v.emptyDir.sizeLimit);
  if (v.emptyDir?.medium !== undefined && !['', 'Memory', 'HugePages'].includes(v.emptyDir.medium) && !v.emptyDir.medium.startsWith('HugePages-')) {
    errs.push(notSupported(`${path}.emptyDir.medium`, v.emptyDir.medium, ['', 'Memory', 'HugePages']));
  }
}

/** Upstream's ValidatePodSpec (the parts skiff acts on), for pods (`spec`) and templates (`spec.template.spec`). */
export function validatePodSpec(spec: PodSpec | undefined, path: string, isTemplate: boolean): FieldError[] {
  const errs: FieldError[] = [];
  if (!spec) return [required(path)];
  const volumes = new Map<string, Volume>();
  (spec.volumes ?? []).forEach((v, i) => {
    validateVolume(errs, v, `${path}.volumes[${i}]`);
    if (v.name) {
      if (volumes.has(v.name)) errs.push(duplicate(`${path}.volumes[${i}].name`, v.name));
      volumes.set(v.name, v);
    }
  });
  const ctx: SpecContext = { path, volumes, isTemplate };
  const names = new Set<string>();
  const portNames = new Set<string>();
  if (!spec.containers || spec.containers.length === 0) errs.push(required(`${path}.containers`));
  (spec.initContainers ?? []).forEach((c, i) => validateContainer(errs, c, `${path}.initContainers[${i}]`, ctx, names, new Set(), 'init'));
  (spec.containers ?? []).forEach((c, i) => validateContainer(errs, c, `${path}.containers[${i}]`, ctx, names, portNames, 'container'));
  if (spec.restartPolicy !== undefined && !restartPolicies.includes(spec.restartPolicy)) errs.push(notSupported(`${path}.restartPolicy`, spec.restartPolicy, restartPolicies));
  if (spec.dnsPolicy !== undefined && !dnsPolicies.includes(spec.dnsPolicy)) errs.push(notSupported(`${path}.dnsPolicy`, spec.dnsPolicy, dnsPolicies));
  if (spec.dnsPolicy === 'None' && (!spec.dnsConfig || !spec.dnsConfig.nameservers || spec.dnsConfig.nameservers.length === 0)) {
    errs.push(required(`${path}.dnsConfig.nameservers`, 'must provide at least one DNS nameserver when dnsPolicy is None'));
  }
  if (spec.terminationGracePeriodSeconds !== undefined && spec.terminationGracePeriodSeconds < 0) {
    errs.push(invalidValue(`${path}.terminationGracePeriodSeconds`, spec.terminationGracePeriodSeconds, 'must be greater than or equal to 0'));
  }
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds <= 0) {
    errs.push(invalidValue(`${path}.activeDeadlineSeconds`, spec.activeDeadlineSeconds, 'must be between 1 and 2147483647, inclusive'));
  }
  for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) {
    for (const m of isQualifiedName(k)) errs.push(invalidValue(`${path}.nodeSelector`, k, m));
    for (const m of isValidLabelValue(v)) errs.push(invalidValue(`${path}.nodeSelector`, v, m));
  }
  if (spec.nodeName) for (const m of isDNS1123Subdomain(spec.nodeName)) errs.push(invalidValue(`${path}.nodeName`, spec.nodeName, m));
  if (spec.hostname) for (const m of isDNS1123Label(spec.hostname)) errs.push(invalidValue(`${path}.hostname`, spec.hostname, m));
  if (spec.subdomain) for (const m of isDNS1123Label(spec.subdomain)) errs.push(invalidValue(`${path}.subdomain`, spec.subdomain, m));
  if (spec.serviceAccountName) for (const m of isDNS1123Subdomain(spec.serviceAccountName)) errs.push(invalidValue(`${path}.serviceAccountName`, spec.serviceAccountName, m));
  (spec.tolerations ?? []).forEach((t, i) => {
    const f = `${path}.tolerations[${i}]`;
    if (t.key) for (const m of isQualifiedName(t.key)) errs.push(invalidValue(`${f}.key`, t.key, m));
    if (t.operator !== undefined && t.operator !== '' && !tolerationOperators.includes(t.operator)) errs.push(notSupported(`${f}.operator`, t.operator, tolerationOperators));
    if (t.operator === 'Exists' && t.value) errs.push(invalidValue(`${f}.operator`, t.value, 'value must be empty when `operator` is \'Exists\''));
    if (!t.key && t.operator !== 'Exists') errs.push(invalidValue(`${f}.operator`, t.operator ?? '', 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    if (t.effect && !taintEffects.includes(t.effect)) errs.push(notSupported(`${f}.effect`, t.effect, taintEffects));
    if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') errs.push(invalidValue(`${f}.effect`, t.effect ?? '', "effect must be 'NoExecute' when `tolerationSeconds` is set"));
  });
  const hostPorts = new Set<string>();
  for (const [i, c] of (spec.containers ?? []).entries()) {
    (c.ports ?? []).forEach((p, j) => {
      if (!p.hostPort) return;
      const id = `${p.hostPort}/${p.protocol ?? 'TCP'}/${p.hostIP ?? ''}`;
      if (hostPorts.has(id)) errs.push(duplicate(`${path}.containers[${i}].ports[${j}].hostPort`, id));
      hostPorts.add(id);
      if (spec.hostNetwork && p.hostPort !== p.containerPort) {
        errs.push(invalidValue(`${path}.containers[${i}].ports[${j}].containerPort`, p.containerPort, 'must match `hostPort` when `hostNetwork` is true'));
      }
    });
  }
  if (spec.priority !== undefined && !Number.isInteger(spec.priority)) errs.push(invalidValue(`${path}.priority`, spec.priority, 'must be an integer'));
  return errs;
}

/**
 * Fields of a running pod that an update may change, as upstream allows: images, activeDeadlineSeconds,
 * added tolerations, terminationGracePeriodSeconds; everything else in `spec` is fixed at creation.
 */
export function validatePodSpecUpdate(spec: PodSpec, old: PodSpec): FieldError[] {
  // Most pod updates (status, labels, bindings) leave the spec alone.
  if (deepEqual(spec, old)) return [];
  const errs: FieldError[] = [];
  if (old.nodeName && spec.nodeName !== old.nodeName) errs.push(invalidValue('spec.nodeName', spec.nodeName ?? '', 'field is immutable'));
  const a = structuredClone(spec) as PodSpec & Record<string, unknown>;
  const b = structuredClone(old) as PodSpec & Record<string, unknown>;
  // Blank out what may change, then anything left that differs is forbidden.
  for (const s of [a, b]) {
    for (const c of [...(s.containers ?? []), ...(s.initContainers ?? [])]) delete c.image;
    delete s.activeDeadlineSeconds;
    delete s.terminationGracePeriodSeconds;
    delete s.tolerations;
    if (!old.nodeName) delete s.nodeName;
  }
  const oldTol = (old.tolerations ?? []).map((t) => JSON.stringify(t));
  const newTol = new Set((spec.tolerations ?? []).map((t) => JSON.stringify(t)));
  const removedTolerations = oldTol.some((t) => !newTol.has(t));
  if (old.activeDeadlineSeconds !== undefined && (spec.activeDeadlineSeconds === undefined || spec.activeDeadlineSeconds > old.activeDeadlineSeconds)) {
    errs.push(invalidValue('spec.activeDeadlineSeconds', spec.activeDeadlineSeconds ?? null, 'must be less than or equal to previous value'));
  }
  const changed = diffPaths(a, b, 'spec');
  if (changed.length > 0 || removedTolerations) {
    const what = removedTolerations ? [...changed, 'spec.tolerations (removed)'] : changed;
    errs.push(forbiddenField('spec', 'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)' + `; changed: ${what.slice(0, 5).join(', ')}`));
  }
  return errs;
}

/** Paths where two JSON values differ, for explaining a forbidden update. */
export function diffPaths(a: unknown, b: unknown, path: string): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return [path];
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return [path];
    return a.flatMap((x, i) => diffPaths(x, b[i], `${path}[${i}]`));
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].flatMap((k) => diffPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`));
}

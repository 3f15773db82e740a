import type { ConfigMap, Endpoints, Event as CoreEvent, Namespace, Node, Secret, Service, ServiceAccount } from 'kubernetes-types/core/v1.js';
import type { Event as EventsV1 } from 'kubernetes-types/events/v1.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import { defineResource, statusSubresource } from './define.js';
import { dns1123LabelName, dns1123SubdomainName, validateObjectMeta, validateObjectMetaUpdate, type NameValidator } from '../validation/object-meta.js';
import { immutable, invalidValue, notSupported, required, forbiddenField, duplicate } from '../validation/field.js';
import { isConfigMapKey, isDNS1035Label, isDNS1123Label, isQualifiedName, isValidPortName, isValidPortNum } from '../validation/names.js';
import {
  configMapPrinter, endpointsPrinter, eventPrinter, leasePrinter, namespacePrinter, nodePrinter, secretPrinter,
  serviceAccountPrinter, servicePrinter,
} from '../printers/core.js';
import type { FieldError } from '../status.js';
import type { KubeObject, Mutable } from '../types.js';

type K<T> = Mutable<T> & KubeObject;

export const namespaces = defineResource<K<Namespace>>({
  group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false,
  openapiName: 'io.k8s.api.core.v1.Namespace',
  shortNames: ['ns'],
  subresources: [statusSubresource('', 'v1', 'Namespace'), { name: 'finalize', kind: { group: '', version: 'v1', kind: 'Namespace' }, verbs: ['update'] }],
  statusSubresource: true,
  nameRule: dns1123LabelName,
  defaults(ns) {
    ns.spec ??= {};
    ns.spec.finalizers ??= ['kubernetes'];
    // Every namespace carries its own name as a label, so selectors can pick namespaces by name.
    if (ns.metadata.name) ns.metadata.labels = { ...(ns.metadata.labels ?? {}), 'kubernetes.io/metadata.name': ns.metadata.name };
  },
  prepareForCreate(ns) { ns.status = { phase: 'Active' }; },
  prepareForUpdate(ns, old) {
    ns.status = old.status;
    // spec.finalizers change only through the finalize subresource, as upstream.
    ns.spec = { ...(ns.spec ?? {}), finalizers: old.spec?.finalizers };
  },
  validate(ns) { return validateObjectMeta(ns.metadata, false, dns1123LabelName); },
  validateUpdate(ns, old) { return validateObjectMetaUpdate(ns.metadata, old.metadata); },
  fields: { 'status.phase': (ns: Namespace) => ns.status?.phase },
  printer: namespacePrinter,
});

const taintEffects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

function validateNodeSpec(node: Node): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  (node.spec?.taints ?? []).forEach((t, i) => {
    const f = `spec.taints[${i}]`;
    if (!t.key) errs.push(required(`${f}.key`));
    else for (const m of isQualifiedName(t.key)) errs.push(invalidValue(`${f}.key`, t.key, m));
    if (!t.effect) errs.push(required(`${f}.effect`));
    else if (!taintEffects.includes(t.effect)) errs.push(notSupported(`${f}.effect`, t.effect, taintEffects));
    const id = `${t.key}:${t.effect}`;
    if (seen.has(id)) errs.push(duplicate(`spec.taints`, id));
    seen.add(id);
  });
  return errs;
}

export const nodes = defineResource<K<Node>>({
  group: '', version: 'v1', kind: 'Node', plural: 'nodes', namespaced: false,
  openapiName: 'io.k8s.api.core.v1.Node',
  shortNames: ['no'],
  storagePrefix: '/registry/minions/',
  subresources: [statusSubresource('', 'v1', 'Node')],
  statusSubresource: true,
  defaults(node) {
    const st = node.status;
    if (st?.capacity && !st.allocatable) st.allocatable = { ...st.capacity };
  },
  // The agent registers its node with status filled in, as the kubelet does.
  prepareForUpdate(node, old) { node.status = old.status; },
  validate(node) { return [...validateObjectMeta(node.metadata, false, dns1123SubdomainName), ...validateNodeSpec(node)]; },
  validateUpdate(node, old) {
    const errs = [...validateObjectMetaUpdate(node.metadata, old.metadata), ...validateNodeSpec(node)];
    if (old.spec?.podCIDR && node.spec?.podCIDR !== old.spec.podCIDR) errs.push(forbiddenField('spec.podCIDR', 'node updates may not change podCIDR except from "" to valid'));
    return errs;
  },
  fields: { 'spec.unschedulable': (n: Node) => String(n.spec?.unschedulable ?? false) },
  printer: nodePrinter,
});

const eventFields = {
  'involvedObject.kind': (e: CoreEvent) => e.involvedObject?.kind,
  'involvedObject.namespace': (e: CoreEvent) => e.involvedObject?.namespace,
  'involvedObject.name': (e: CoreEvent) => e.involvedObject?.name,
  'involvedObject.uid': (e: CoreEvent) => e.involvedObject?.uid,
  'involvedObject.apiVersion': (e: CoreEvent) => e.involvedObject?.apiVersion,
  'involvedObject.resourceVersion': (e: CoreEvent) => e.involvedObject?.resourceVersion,
  'involvedObject.fieldPath': (e: CoreEvent) => e.involvedObject?.fieldPath,
  reason: (e: CoreEvent) => e.reason,
  reportingComponent: (e: CoreEvent) => e.reportingComponent,
  source: (e: CoreEvent) => e.source?.component,
  type: (e: CoreEvent) => e.type,
};

function validateEvent(e: CoreEvent): FieldError[] {
  const errs: FieldError[] = [];
  if (!e.involvedObject) errs.push(required('involvedObject'));
  const ns = e.involvedObject?.namespace;
  if (ns && e.metadata.namespace && ns !== e.metadata.namespace) errs.push(invalidValue('involvedObject.namespace', ns, 'does not match event.namespace'));
  if (e.type && !['Normal', 'Warning'].includes(e.type)) errs.push(notSupported('type', e.type, ['Normal', 'Warning']));
  return errs;
}

export const events = defineResource<K<CoreEvent>>({
  group: '', version: 'v1', kind: 'Event', plural: 'events', namespaced: true,
  openapiName: 'io.k8s.api.core.v1.Event',
  shortNames: ['ev'],
  allowCreateOnUpdate: true,
  ttlSeconds: 3600,
  validate(e) { return [...validateObjectMeta(e.metadata, true, dns1123SubdomainName), ...validateEvent(e)]; },
  validateUpdate(e, old) { return [...validateObjectMetaUpdate(e.metadata, old.metadata), ...validateEvent(e)]; },
  fields: eventFields,
  printer: eventPrinter,
});

/** events.k8s.io/v1 is a second view of the core events: the same storage, renamed fields. */
function eventsV1ToCore(e: EventsV1 & KubeObject): KubeObject {
  const out: Record<string, unknown> = {
    apiVersion: 'v1', kind: 'Event', metadata: e.metadata,
    involvedObject: e.regarding ?? {}, reason: e.reason, message: e.note, type: e.type,
    eventTime: e.eventTime, series: e.series, action: e.action, related: e.related,
    reportingComponent: e.reportingController ?? '', reportingInstance: e.reportingInstance ?? '',
    source: e.deprecatedSource, firstTimestamp: e.deprecatedFirstTimestamp, lastTimestamp: e.deprecatedLastTimestamp,
    count: e.deprecatedCount,
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out as unknown as KubeObject;
}

function coreToEventsV1(e: KubeObject): EventsV1 & KubeObject {
  const c = e as unknown as CoreEvent;
  const out: Record<string, unknown> = {
    apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: c.metadata,
    eventTime: c.eventTime ?? null, series: c.series, reportingController: c.reportingComponent, reportingInstance: c.reportingInstance,
    action: c.action, reason: c.reason, regarding: c.involvedObject, related: c.related, note: c.message, type: c.type,
    deprecatedSource: c.source, deprecatedFirstTimestamp: c.firstTimestamp, deprecatedLastTimestamp: c.lastTimestamp, deprecatedCount: c.count,
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out as unknown as EventsV1 & KubeObject;
}

export const eventsV1 = defineResource<EventsV1 & KubeObject>({
  group: 'events.k8s.io', version: 'v1', kind: 'Event', plural: 'events', namespaced: true,
  openapiName: 'io.k8s.api.events.v1.Event',
  shortNames: ['ev'],
  storagePrefix: '/registry/events/',
  allowCreateOnUpdate: true,
  ttlSeconds: 3600,
  validate(e) {
    const errs = validateObjectMeta(e.metadata, true, dns1123SubdomainName);
    if (!e.eventTime) errs.push(required('eventTime'));
    if (!e.reportingController) errs.push(required('reportingController'));
    if (!e.reportingInstance) errs.push(required('reportingInstance'));
    if (!e.action) errs.push(required('action'));
    if (!e.reason) errs.push(required('reason'));
    if (e.type && !['Normal', 'Warning'].includes(e.type)) errs.push(notSupported('type', e.type, ['Normal', 'Warning']));
    return errs;
  },
  validateUpdate(e, old) { return validateObjectMetaUpdate(e.metadata, old.metadata); },
  // Field selectors run on the stored (core) form.
  fields: {
    ...eventFields,
    'regarding.kind': eventFields['involvedObject.kind'],
    'regarding.namespace': eventFields['involvedObject.namespace'],
    'regarding.name': eventFields['involvedObject.name'],
    'regarding.uid': eventFields['involvedObject.uid'],
    'regarding.apiVersion': eventFields['involvedObject.apiVersion'],
    'regarding.resourceVersion': eventFields['involvedObject.resourceVersion'],
    'regarding.fieldPath': eventFields['involvedObject.fieldPath'],
    reportingController: eventFields.reportingComponent,
    'deprecatedSource': eventFields.source,
  },
  printer: { ...eventPrinter, row: (e: KubeObject, now: number) => eventPrinter.row(eventsV1ToCore(e as EventsV1 & KubeObject) as unknown as CoreEvent, now) } as never,
  conversion: { toStorage: eventsV1ToCore, fromStorage: coreToEventsV1 },
});

function validateDataKeys(errs: FieldError[], data: Record<string, unknown> | undefined, field: string, seen: Set<string>): void {
  for (const k of Object.keys(data ?? {})) {
    for (const m of isConfigMapKey(k)) errs.push(invalidValue(`${field}[${k}]`, k, m));
    if (seen.has(k)) errs.push(invalidValue('data', k, 'duplicate of key present in binaryData'));
    seen.add(k);
  }
}

const maxConfigSize = 1024 * 1024;

function validateConfigMap(cm: ConfigMap): FieldError[] {
  const errs: FieldError[] = [];
  validateDataKeys(errs, cm.data, 'data', new Set());
  const seen = new Set(Object.keys(cm.data ?? {}));
  for (const k of Object.keys(cm.binaryData ?? {})) if (seen.has(k)) errs.push(invalidValue('binaryData', k, 'duplicate of key present in data'));
  let size = 0;
  for (const [k, v] of Object.entries(cm.data ?? {})) size += k.length + String(v).length;
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) size += k.length + String(v).length;
  if (size > maxConfigSize) errs.push({ type: 'FieldValueTooLong', field: '', detail: `Too long: must have at most ${maxConfigSize} bytes` });
  return errs;
}

function immutableData(obj: { immutable?: boolean; data?: unknown; binaryData?: unknown }, old: { immutable?: boolean; data?: unknown; binaryData?: unknown }): FieldError[] {
  if (!old.immutable) return [];
  const errs: FieldError[] = [];
  if (!obj.immutable) errs.push(forbiddenField('immutable', 'field is immutable when `immutable` is set'));
  if (JSON.stringify(obj.data ?? {}) !== JSON.stringify(old.data ?? {})) errs.push(forbiddenField('data', 'field is immutable when `immutable` is set'));
  if (JSON.stringify(obj.binaryData ?? {}) !== JSON.stringify(old.binaryData ?? {})) errs.push(forbiddenField('binaryData', 'field is immutable when `immutable` is set'));
  return errs;
}

export const configMaps = defineResource<K<ConfigMap>>({
  group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true,
  openapiName: 'io.k8s.api.core.v1.ConfigMap',
  shortNames: ['cm'],
  validate(cm) { return [...validateObjectMeta(cm.metadata, true, dns1123SubdomainName), ...validateConfigMap(cm)]; },
  validateUpdate(cm, old) { return [...validateObjectMetaUpdate(cm.metadata, old.metadata), ...validateConfigMap(cm), ...immutableData(cm, old)]; },
  printer: configMapPrinter,
});

const base64Re = /^[A-Za-z0-9+/]*={0,2}$/;

function validateSecret(s: Secret): FieldError[] {
  const errs: FieldError[] = [];
  validateDataKeys(errs, s.data, 'data', new Set());
  let size = 0;
  for (const [k, v] of Object.entries(s.data ?? {})) {
    if (typeof v !== 'string' || v.length % 4 !== 0 || !base64Re.test(v)) errs.push(invalidValue(`data[${k}]`, '<secret contents redacted>', 'illegal base64 data'));
    size += Math.floor((String(v).length * 3) / 4);
  }
  if (size > maxConfigSize) errs.push({ type: 'FieldValueTooLong', field: 'data', detail: `Too long: must have at most ${maxConfigSize} bytes` });
  if (s.type === 'kubernetes.io/service-account-token' && !s.metadata?.annotations?.['kubernetes.io/service-account.name']) {
    errs.push(required('metadata.annotations[kubernetes.io/service-account.name]'));
  }
  return errs;
}

export const secrets = defineResource<K<Secret>>({
  group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true,
  openapiName: 'io.k8s.api.core.v1.Secret',
  defaults(s) {
    s.type ??= 'Opaque';
    // stringData is write-only: merged into data (base64) as upstream's secret strategy does.
    if (s.stringData) {
      s.data ??= {};
      for (const [k, v] of Object.entries(s.stringData)) s.data[k] = Buffer.from(String(v), 'utf8').toString('base64');
      delete s.stringData;
    }
  },
  validate(s) { return [...validateObjectMeta(s.metadata, true, dns1123SubdomainName), ...validateSecret(s)]; },
  validateUpdate(s, old) {
    const errs = [...validateObjectMetaUpdate(s.metadata, old.metadata), ...validateSecret(s), ...immutableData(s, old)];
    if (s.type !== old.type) errs.push(immutable('type', s.type));
    return errs;
  },
  fields: { type: (s: Secret) => s.type },
  printer: secretPrinter,
});

export const serviceAccounts = defineResource<K<ServiceAccount>>({
  group: '', version: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true,
  openapiName: 'io.k8s.api.core.v1.ServiceAccount',
  shortNames: ['sa'],
  validate(sa) { return validateObjectMeta(sa.metadata, true, dns1123SubdomainName); },
  validateUpdate(sa, old) { return validateObjectMetaUpdate(sa.metadata, old.metadata); },
  printer: serviceAccountPrinter,
});

const serviceName: NameValidator = (n, prefix) => isDNS1035Label(prefix && n.endsWith('-') ? n.slice(0, -1) + 'a' : n);

const serviceTypes = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
const protocols = ['SCTP', 'TCP', 'UDP'];

function validateService(svc: Service): FieldError[] {
  const errs: FieldError[] = [];
  const spec = svc.spec ?? {};
  const type = spec.type ?? 'ClusterIP';
  if (!serviceTypes.includes(type)) errs.push(notSupported('spec.type', type, serviceTypes));
  if (type !== 'ExternalName' && spec.clusterIP !== 'None' && (spec.ports ?? []).length === 0) errs.push(required('spec.ports'));
  if (type === 'ExternalName' && !spec.externalName) errs.push(required('spec.externalName'));
  const names = new Set<string>();
  const ids = new Set<string>();
  (spec.ports ?? []).forEach((p, i) => {
    const f = `spec.ports[${i}]`;
    if ((spec.ports ?? []).length > 1 && !p.name) errs.push(required(`${f}.name`));
    if (p.name) {
      for (const m of isDNS1123Label(p.name)) errs.push(invalidValue(`${f}.name`, p.name, m));
      if (names.has(p.name)) errs.push(duplicate(`${f}.name`, p.name));
      names.add(p.name);
    }
    for (const m of isValidPortNum(p.port)) errs.push(invalidValue(`${f}.port`, p.port, m));
    if (p.protocol && !protocols.includes(p.protocol)) errs.push(notSupported(`${f}.protocol`, p.protocol, protocols));
    const id = `${p.port}/${p.protocol ?? 'TCP'}`;
    if (ids.has(id)) errs.push(duplicate(`${f}`, id));
    ids.add(id);
    if (typeof p.targetPort === 'number') for (const m of isValidPortNum(p.targetPort)) errs.push(invalidValue(`${f}.targetPort`, p.targetPort, m));
    else if (typeof p.targetPort === 'string') for (const m of isValidPortName(p.targetPort)) errs.push(invalidValue(`${f}.targetPort`, p.targetPort, m));
    if (p.nodePort !== undefined && type === 'ClusterIP') errs.push(forbiddenField(`${f}.nodePort`, 'may not be used when `type` is \'ClusterIP\''));
  });
  return errs;
}

export const services = defineResource<K<Service>>({
  group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true,
  openapiName: 'io.k8s.api.core.v1.Service',
  shortNames: ['svc'],
  categories: ['all'],
  storagePrefix: '/registry/services/specs/',
  subresources: [statusSubresource('', 'v1', 'Service')],
  statusSubresource: true,
  nameRule: serviceName,
  defaults(svc) {
    svc.spec ??= {};
    const spec = svc.spec;
    spec.type ??= 'ClusterIP';
    spec.sessionAffinity ||= 'None';
    if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
    if (spec.sessionAffinity === 'ClientIP' && spec.sessionAffinityConfig?.clientIP?.timeoutSeconds === undefined) {
      spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
    }
    if (spec.type !== 'ExternalName') spec.internalTrafficPolicy ??= 'Cluster';
    if (spec.type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
    for (const p of spec.ports ?? []) {
      p.protocol ??= 'TCP';
      if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
    }
    if ((spec.type === 'NodePort' || spec.type === 'LoadBalancer') && !spec.externalTrafficPolicy) spec.externalTrafficPolicy = 'Cluster';
  },
  prepareForCreate(svc) { svc.status = { loadBalancer: {} }; },
  prepareForUpdate(svc, old) {
    svc.status = old.status;
    // ClusterIP is assigned once; an update that leaves it out keeps it, as upstream.
    if (svc.spec && !svc.spec.clusterIP && old.spec?.clusterIP) {
      svc.spec.clusterIP = old.spec.clusterIP;
      svc.spec.clusterIPs = old.spec.clusterIPs;
      svc.spec.ipFamilies ??= old.spec.ipFamilies;
      svc.spec.ipFamilyPolicy ??= old.spec.ipFamilyPolicy;
    }
  },
  validate(svc) { return [...validateObjectMeta(svc.metadata, true, serviceName), ...validateService(svc)]; },
  validateUpdate(svc, old) {
    const errs = [...validateObjectMetaUpdate(svc.metadata, old.metadata), ...validateService(svc)];
    if (old.spec?.clusterIP && svc.spec?.clusterIP !== old.spec.clusterIP && svc.spec?.type !== 'ExternalName') errs.push(immutable('spec.clusterIPs[0]', svc.spec?.clusterIP ?? ''));
    return errs;
  },
  printer: servicePrinter,
});

export const endpoints = defineResource<K<Endpoints>>({
  group: '', version: 'v1', kind: 'Endpoints', plural: 'endpoints', namespaced: true,
  openapiName: 'io.k8s.api.core.v1.Endpoints',
  shortNames: ['ep'],
  listKind: 'EndpointsList',
  singular: 'endpoints',
  storagePrefix: '/registry/services/endpoints/',
  defaults(ep) {
    for (const s of ep.subsets ?? []) for (const p of s.ports ?? []) p.protocol ||= 'TCP';
  },
  validate(ep) { return validateObjectMeta(ep.metadata, true, dns1123SubdomainName); },
  validateUpdate(ep, old) { return validateObjectMetaUpdate(ep.metadata, old.metadata); },
  printer: endpointsPrinter,
});

export const leases = defineResource<K<Lease>>({
  group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true,
  openapiName: 'io.k8s.api.coordination.v1.Lease',
  validate(l) {
    const errs = validateObjectMeta(l.metadata, true, dns1123SubdomainName);
    if (l.spec?.leaseDurationSeconds !== undefined && l.spec.leaseDurationSeconds <= 0) errs.push(invalidValue('spec.leaseDurationSeconds', l.spec.leaseDurationSeconds, 'must be greater than 0'));
    if (l.spec?.leaseTransitions !== undefined && l.spec.leaseTransitions < 0) errs.push(invalidValue('spec.leaseTransitions', l.spec.leaseTransitions, 'must be greater than or equal to 0'));
    return errs;
  },
  validateUpdate(l, old) { return validateObjectMetaUpdate(l.metadata, old.metadata); },
  printer: leasePrinter,
});

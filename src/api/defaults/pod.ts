import type { Container, PodSpec, Probe, Volume, EnvVar, ResourceRequirements } from 'kubernetes-types/core/v1.js';

/**
 * Upstream's API defaulting for pod specs (k8s.io/kubernetes/pkg/apis/core/v1/defaults.go), applied to
 * pods and to the pod templates of workloads alike. Mutates in place; never overwrites a set field.
 */
export function defaultPodSpec(spec: PodSpec): void {
  spec.restartPolicy ??= 'Always';
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
  for (const v of spec.volumes ?? []) defaultVolume(v);
  for (const c of spec.initContainers ?? []) defaultContainer(c);
  for (const c of spec.containers ?? []) defaultContainer(c);
  for (const c of spec.ephemeralContainers ?? []) defaultContainer(c as Container);
}

/**
 * Defaults upstream applies to Pods only, never to pod templates (so templates stay comparable across
 * versions): requests from limits, service links, host ports under host networking.
 */
export function defaultPodOnly(spec: PodSpec): void {
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    c.resources ??= {};
    defaultRequestsFromLimits(c.resources);
    if (spec.hostNetwork) for (const p of c.ports ?? []) if (!p.hostPort) p.hostPort = p.containerPort;
  }
  spec.enableServiceLinks ??= true;
}

function imageTag(image: string): string {
  const at = image.indexOf('@');
  if (at >= 0) return '@digest';
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? image.slice(colon + 1) : '';
}

/** `Always` for `:latest` or untagged images, else `IfNotPresent` (digests count as tagged). */
export function defaultPullPolicy(image: string | undefined): string {
  if (!image) return 'IfNotPresent';
  const tag = imageTag(image);
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

export function defaultContainer(c: Container): void {
  c.imagePullPolicy ||= defaultPullPolicy(c.image);
  c.terminationMessagePath ||= '/dev/termination-log';
  c.terminationMessagePolicy ||= 'File';
  c.resources ??= {};
  for (const p of c.ports ?? []) p.protocol ||= 'TCP';
  for (const e of c.env ?? []) defaultEnv(e);
  for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) if (probe) defaultProbe(probe);
  for (const h of [c.lifecycle?.postStart, c.lifecycle?.preStop]) if (h?.httpGet) { h.httpGet.scheme ||= 'HTTP'; h.httpGet.path ||= '/'; }
}

/** A container that sets limits but not requests requests its limits. */
function defaultRequestsFromLimits(r: ResourceRequirements): void {
  if (!r.limits) return;
  for (const [name, q] of Object.entries(r.limits)) {
    r.requests ??= {};
    if (r.requests[name] === undefined) r.requests[name] = q;
  }
}

function defaultEnv(e: EnvVar): void {
  if (e.valueFrom?.fieldRef) e.valueFrom.fieldRef.apiVersion ??= 'v1';
}

function defaultProbe(p: Probe): void {
  p.timeoutSeconds ??= 1;
  p.periodSeconds ??= 10;
  p.successThreshold ??= 1;
  p.failureThreshold ??= 3;
  if (p.httpGet) { p.httpGet.scheme ||= 'HTTP'; p.httpGet.path ||= '/'; }
  if (p.grpc) p.grpc.service ??= '';
}

const volumeSources = [
  'hostPath', 'emptyDir', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'secret', 'nfs', 'iscsi', 'glusterfs',
  'persistentVolumeClaim', 'rbd', 'flexVolume', 'cinder', 'cephfs', 'flocker', 'downwardAPI', 'fc', 'azureFile', 'configMap',
  'vsphereVolume', 'quobyte', 'azureDisk', 'photonPersistentDisk', 'projected', 'portworxVolume', 'scaleIO', 'storageos', 'csi',
  'ephemeral', 'image',
] as const;

/** The source fields a volume sets (exactly one is valid). */
export function volumeSourcesOf(v: Volume): string[] {
  return volumeSources.filter((s) => (v as unknown as Record<string, unknown>)[s] !== undefined && (v as unknown as Record<string, unknown>)[s] !== null);
}

function defaultVolume(v: Volume): void {
  // A volume without a source is an emptyDir, as upstream's SetDefaults_Volume.
  if (volumeSourcesOf(v).length === 0) v.emptyDir = {};
  if (v.hostPath) v.hostPath.type ??= '';
  if (v.configMap) v.configMap.defaultMode ??= 0o644;
  if (v.secret) v.secret.defaultMode ??= 0o644;
  if (v.downwardAPI) {
    v.downwardAPI.defaultMode ??= 0o644;
    for (const i of v.downwardAPI.items ?? []) if (i.fieldRef) i.fieldRef.apiVersion ??= 'v1';
  }
  if (v.projected) {
    v.projected.defaultMode ??= 0o644;
    for (const s of v.projected.sources ?? []) {
      if (s.serviceAccountToken) s.serviceAccountToken.expirationSeconds ??= 3600;
      for (const i of s.downwardAPI?.items ?? []) if (i.fieldRef) i.fieldRef.apiVersion ??= 'v1';
    }
  }
  if (v.iscsi) v.iscsi.iscsiInterface ??= 'default';
  if (v.rbd) { v.rbd.pool ??= 'rbd'; v.rbd.user ??= 'admin'; v.rbd.keyring ??= '/etc/ceph/keyring'; }
  if (v.azureDisk) { v.azureDisk.cachingMode ??= 'ReadWrite'; v.azureDisk.fsType ??= 'ext4'; v.azureDisk.readOnly ??= false; v.azureDisk.kind ??= 'Shared'; }
}

import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import { expand, mappingFor } from './expansion.js';
import { podMetadataField } from './field-path.js';
import { findContainer, resourceFieldValue, type ResourceAmounts } from './resource-field.js';

/**
 * The container environment as far as the volume manager can compute it without the API, for
 * expanding `subPathExpr`. Covered: literal `value`s (with `$(VAR)` references to earlier variables,
 * as kubelet expands them), `fieldRef` and `resourceFieldRef`. Not covered: `configMapKeyRef`,
 * `secretKeyRef`, `envFrom` and the service-link variables; a subPathExpr naming one of those fails
 * with upstream's "missing value for X".
 */

/**
 * A pod field for an environment variable, as kubelet's podFieldSelectorRuntimeValue: the metadata
 * fields plus spec.nodeName, spec.serviceAccountName and the status IPs (taken from the pod's
 * status, so they are empty until the agent has reported them).
 */
export function podFieldForEnv(pod: Pod, fieldPath: string, nodeName: string | undefined): string {
  switch (fieldPath) {
    case 'spec.nodeName': return pod.spec?.nodeName ?? nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec?.serviceAccountName ?? '';
    case 'status.hostIP': return pod.status?.hostIP ?? '';
    case 'status.hostIPs': return (pod.status?.hostIPs ?? []).map((x) => x.ip).join(',');
    case 'status.podIP': return pod.status?.podIP ?? '';
    case 'status.podIPs': return (pod.status?.podIPs ?? []).map((x) => x.ip).join(',');
  }
  return podMetadataField(pod, fieldPath);
}

/** The variables of `container` that can be resolved locally, in definition order (later wins). */
export function staticContainerEnv(pod: Pod, container: Container, allocatable: ResourceAmounts, nodeName?: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const v of container.env ?? []) {
    if (v.valueFrom === undefined) {
      env.set(v.name, expand(v.value ?? '', mappingFor(env)));
    } else if (v.valueFrom.fieldRef) {
      env.set(v.name, podFieldForEnv(pod, v.valueFrom.fieldRef.fieldPath, nodeName));
    } else if (v.valueFrom.resourceFieldRef) {
      const ref = v.valueFrom.resourceFieldRef;
      // For env vars the container defaults to the one being started.
      const target = ref.containerName ? findContainer(pod, ref.containerName) : container;
      env.set(v.name, resourceFieldValue(ref, target, allocatable));
    }
  }
  return env;
}

/**
 * Expands a volumeMount's subPathExpr against the container's variables as upstream's
 * ExpandContainerVolumeMounts: every referenced variable must exist and be non-empty, otherwise
 * `missing value for A, B` (sorted) is thrown.
 */
export function expandSubPathExpr(expr: string, env: ReadonlyMap<string, string>): string {
  const missing = new Set<string>();
  const out = expand(expr, (name) => {
    const v = env.get(name);
    if (v === undefined || v === '') missing.add(name);
    return v ?? '';
  });
  if (missing.size > 0) throw new Error(`missing value for ${[...missing].sort().join(', ')}`);
  return out;
}

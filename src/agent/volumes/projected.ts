import type { Pod, ProjectedVolumeSource } from 'kubernetes-types/core/v1.js';
import type { FileProjection } from './atomic-writer.js';
import { configMapPayload, defaultFileMode, fetchConfigMap } from './config-map.js';
import { downwardApiPayload } from './downward-api.js';
import { aggregate } from './errors.js';
import type { ResourceAmounts } from '../downward/resource-field.js';
import { fetchSecret, secretPayload } from './secret.js';
import type { VolumeSources } from './types.js';

/**
 * projected volumes: configMap, secret and downwardAPI sources merged into one atomic-writer
 * directory under the volume's defaultMode (later sources win on a clashing path, as upstream's map
 * merge). serviceAccountToken and clusterTrustBundle sources need a token issuer and trust bundles
 * that skiff does not have yet, so they fail clearly instead of projecting something fake.
 */

/** Collects every source's files; all sources are attempted and their errors aggregated. */
export async function projectedPayload(source: ProjectedVolumeSource, pod: Pod, sources: VolumeSources, allocatable: ResourceAmounts): Promise<Map<string, FileProjection>> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const defaultMode = source.defaultMode ?? defaultFileMode;
  const payload = new Map<string, FileProjection>();
  const errors: unknown[] = [];
  const merge = (m: ReadonlyMap<string, FileProjection>): void => {
    for (const [k, v] of m) payload.set(k, v);
  };
  for (const s of source.sources ?? []) {
    try {
      if (s.secret) {
        const optional = s.secret.optional === true;
        const secret = await fetchSecret(sources, namespace, s.secret.name ?? '', optional);
        merge(secretPayload(s.secret.items, secret, defaultMode, optional));
      } else if (s.configMap) {
        const optional = s.configMap.optional === true;
        const cm = await fetchConfigMap(sources, namespace, s.configMap.name ?? '', optional);
        merge(configMapPayload(s.configMap.items, cm, defaultMode, optional));
      } else if (s.downwardAPI) {
        merge(downwardApiPayload(s.downwardAPI.items, pod, defaultMode, allocatable));
      } else if (s.serviceAccountToken) {
        throw new Error(`serviceAccountToken projection (path "${s.serviceAccountToken.path}") is not supported by skiff yet: no token is issued`);
      } else if (s.clusterTrustBundle) {
        throw new Error(`clusterTrustBundle projection (path "${s.clusterTrustBundle.path}") is not supported by skiff yet`);
      }
    } catch (e) {
      errors.push(e);
    }
  }
  const err = aggregate(errors);
  if (err) throw err;
  return payload;
}

import type { KeyToPath } from 'kubernetes-types/core/v1.js';
import type { FileProjection } from './atomic-writer.js';
import type { VolumeSources } from './types.js';

/**
 * configMap volumes (and configMap sources of projected volumes): the object's keys become files.
 * Fetching and payload building follow upstream's configmap plugin, including its error texts, which
 * users see in FailedMount events.
 */

/** The parts of a ConfigMap a volume projects. */
export interface ConfigMapContent {
  readonly data?: Readonly<Record<string, string>>;
  /** Base64, as on the wire. */
  readonly binaryData?: Readonly<Record<string, string>>;
}

/** kubelet's (API default) mode for projected files when the volume sets no defaultMode: 0644. */
export const defaultFileMode = 0o644;

/**
 * Reads the configMap. A missing object is empty content when `optional`, otherwise an error worded
 * like the kubelet's configMap cache NotFound error (`configmap "x" not found`).
 */
export async function fetchConfigMap(sources: VolumeSources, namespace: string, name: string, optional: boolean): Promise<ConfigMapContent> {
  const cm = await sources.configMap(namespace, name);
  if (cm) return cm;
  if (optional) return {};
  throw new Error(`configmap "${name}" not found`);
}

/**
 * Files for the configMap: every key (data, then binaryData) with `defaultMode` when `items` is empty,
 * otherwise exactly the listed keys at their paths with their own mode. A listed key that does not
 * exist is skipped when `optional`, an error otherwise.
 */
export function configMapPayload(items: readonly KeyToPath[] | undefined, cm: ConfigMapContent, defaultMode: number, optional = false): Map<string, FileProjection> {
  const payload = new Map<string, FileProjection>();
  const text = (v: string): Uint8Array => Buffer.from(v, 'utf8');
  const binary = (v: string): Uint8Array => Buffer.from(v, 'base64');
  if (!items || items.length === 0) {
    for (const [k, v] of Object.entries(cm.data ?? {})) payload.set(k, { data: text(v), mode: defaultMode });
    for (const [k, v] of Object.entries(cm.binaryData ?? {})) payload.set(k, { data: binary(v), mode: defaultMode });
    return payload;
  }
  for (const item of items) {
    const s = cm.data?.[item.key];
    const b = cm.binaryData?.[item.key];
    let data: Uint8Array;
    if (s !== undefined) data = text(s);
    else if (b !== undefined) data = binary(b);
    else if (optional) continue;
    else throw new Error(`configmap references non-existent config key: ${item.key}`);
    payload.set(item.path, { data, mode: item.mode ?? defaultMode });
  }
  return payload;
}

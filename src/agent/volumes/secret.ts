import type { KeyToPath } from 'kubernetes-types/core/v1.js';
import type { FileProjection } from './atomic-writer.js';
import type { VolumeSources } from './types.js';

/**
 * secret volumes (and secret sources of projected volumes): the secret's base64 `data` decoded into
 * files. The manager puts them on a tmpfs so secrets never touch the node's disk, as kubelet does.
 */

/** The part of a Secret a volume projects: base64 values, as on the wire. */
export interface SecretContent {
  readonly data?: Readonly<Record<string, string>>;
}

/**
 * Reads the secret. A missing object is empty content when `optional`, otherwise an error worded
 * like the kubelet's secret cache NotFound error (`secret "x" not found`).
 */
export async function fetchSecret(sources: VolumeSources, namespace: string, name: string, optional: boolean): Promise<SecretContent> {
  const s = await sources.secret(namespace, name);
  if (s) return s;
  if (optional) return {};
  throw new Error(`secret "${name}" not found`);
}

/**
 * Files for the secret: every key with `defaultMode` when `items` is empty, otherwise the listed keys
 * at their paths and modes; a listed key that is missing is skipped when `optional`, else an error
 * (`references non-existent secret key: k`, as upstream).
 */
export function secretPayload(items: readonly KeyToPath[] | undefined, secret: SecretContent, defaultMode: number, optional = false): Map<string, FileProjection> {
  const payload = new Map<string, FileProjection>();
  const decode = (v: string): Uint8Array => Buffer.from(v, 'base64');
  if (!items || items.length === 0) {
    for (const [k, v] of Object.entries(secret.data ?? {})) payload.set(k, { data: decode(v), mode: defaultMode });
    return payload;
  }
  for (const item of items) {
    const v = secret.data?.[item.key];
    if (v === undefined) {
      if (optional) continue;
      throw new Error(`references non-existent secret key: ${item.key}`);
    }
    payload.set(item.path, { data: decode(v), mode: item.mode ?? defaultMode });
  }
  return payload;
}

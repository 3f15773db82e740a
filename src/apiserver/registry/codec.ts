import type { KV } from '../../store/store.js';
import type { KubeObject } from '../../api/types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Objects travel to the store as JSON without `resourceVersion` (the store's revision is the version,
 * as upstream's etcd3 storage does). The writer hands its already-built object along, keyed by the exact
 * byte buffer it wrote, so the watch cache can adopt it instead of parsing the bytes back.
 */
const justWritten = new WeakMap<Uint8Array, KubeObject>();

export function encode(obj: KubeObject): Uint8Array {
  const rv = obj.metadata.resourceVersion;
  delete obj.metadata.resourceVersion;
  const bytes = encoder.encode(JSON.stringify(obj));
  if (rv !== undefined) obj.metadata.resourceVersion = rv;
  justWritten.set(bytes, obj);
  return bytes;
}

/** The stored object with `metadata.resourceVersion` set to `rev`. */
export function decode(kv: KV, rev: number): KubeObject {
  const pre = justWritten.get(kv.value);
  let obj: KubeObject;
  if (pre && rev === kv.modRev) {
    // Kept (not deleted) so the writer's response and the cache share one object, serialised once.
    obj = pre;
  } else {
    obj = JSON.parse(decoder.decode(kv.value)) as KubeObject;
  }
  obj.metadata ??= {};
  obj.metadata.resourceVersion = String(rev);
  return obj;
}

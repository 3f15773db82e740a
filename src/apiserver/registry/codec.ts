import type { KV } from '../../store/store.js';
import { randomBytes } from 'node:crypto';
import type { KubeObject } from '../../api/types.js';
import { seedJson } from '../../util/json-cache.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Objects travel to the store as JSON without `resourceVersion` (the store's revision is the version,
 * as upstream's etcd3 storage does). The writer hands its already-built object along, keyed by the exact
 * byte buffer it wrote, so the watch cache can adopt it instead of parsing the bytes back — with the written
 * JSON in two parts around the end of its metadata, so the answer (the same JSON with the resourceVersion
 * the store gave) is spliced rather than serialised again.
 */
interface Written {
  readonly obj: KubeObject;
  /**
   * The stored JSON up to the closing brace of `metadata`, and from it on; dropped once spliced (the bytes, and
   * with them this entry, live on in watch histories).
   */
  parts?: { readonly head: string; readonly tail: string };
}
const justWritten = new WeakMap<Uint8Array, Written>();

/** Stands in for `metadata` while the rest is serialised; random, so no value in an object can be it. */
const metadataStandIn = `\u0000${randomBytes(16).toString('hex')}`;
const metadataMark = JSON.stringify(metadataStandIn);

export function encode(obj: KubeObject): Uint8Array {
  const meta = obj.metadata;
  const rv = meta.resourceVersion;
  delete meta.resourceVersion;
  const metaJson = JSON.stringify(meta);
  let outer: string;
  try {
    (obj as { metadata: unknown }).metadata = metadataStandIn;
    outer = JSON.stringify(obj);
  } finally {
    obj.metadata = meta;
    if (rv !== undefined) meta.resourceVersion = rv;
  }
  const at = outer.indexOf(metadataMark);
  const head = outer.slice(0, at) + metaJson.slice(0, -1);
  const tail = outer.slice(at + metadataMark.length);
  const bytes = encoder.encode(head + '}' + tail);
  // decode() sets the resourceVersion last in the metadata (a kept one was re-added last above): where it is spliced.
  justWritten.set(bytes, { obj, parts: { head: metaJson === '{}' ? head : head + ',', tail } });
  return bytes;
}

/** The stored object with `metadata.resourceVersion` set to `rev`. */
export function decode(kv: KV, rev: number): KubeObject {
  const pre = justWritten.get(kv.value);
  if (pre && rev === kv.modRev) {
    // Kept (not deleted) so the writer's response and the cache share one object, serialised once.
    const obj = pre.obj;
    obj.metadata.resourceVersion = String(rev);
    if (pre.parts) {
      seedJson(obj, `${pre.parts.head}"resourceVersion":"${rev}"}${pre.parts.tail}`);
      pre.parts = undefined;
    }
    return obj;
  }
  const obj = JSON.parse(decoder.decode(kv.value)) as KubeObject;
  obj.metadata ??= {};
  obj.metadata.resourceVersion = String(rev);
  return obj;
}

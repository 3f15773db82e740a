import type { IKeyValue } from 'etcd3';
import type { KV } from '../store.js';

/** etcd's int64 fields arrive as decimal strings; every revision and lease of ours is below 2^53. */
export const num = (s: string | number | null | undefined): number => (s === null || s === undefined || s === '' ? 0 : Number(s));

/** A key as etcd stores it (UTF-8 bytes). */
export const keyBytes = (key: string): Buffer => Buffer.from(key, 'utf8');

/** The first key after every key with this prefix, on bytes (etcd compares keys as bytes). */
export function rangeEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix, 'utf8');
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every key
}

/** The store's KV of an etcd key-value. */
export function toKV(kv: IKeyValue): KV {
  return { key: kv.key.toString('utf8'), value: kv.value, createRev: num(kv.create_revision), modRev: num(kv.mod_revision), lease: num(kv.lease) };
}

/** The key-value a response may carry (proto defaults give null for an absent message). */
export function optionalKV(kv: IKeyValue | null | undefined): KV | undefined {
  return kv && kv.key && kv.key.length > 0 ? toKV(kv) : undefined;
}

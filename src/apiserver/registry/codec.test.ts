import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/types.js';
import { cachedJson } from '../../util/json-cache.js';
import { decode, encode } from './codec.js';

const text = new TextDecoder();

/** Writes `obj` as the registry does and reads it back as the store's write at `rev`. */
function roundTrip(obj: KubeObject, rev: number): { stored: Record<string, unknown>; back: KubeObject } {
  const bytes = encode(obj);
  const stored = JSON.parse(text.decode(bytes)) as Record<string, unknown>;
  return { stored, back: decode({ key: '/k', value: bytes, createRev: rev, modRev: rev, lease: 0 }, rev) };
}

describe('registry codec', () => {
  it('stores objects without resourceVersion and answers with the JSON JSON.stringify gives, the store revision in it', () => {
    const shapes: KubeObject[] = [
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a', namespace: 'default', labels: { tricky: '"},"metadata":{' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
      // metadata not first, an empty one, a kept resourceVersion, and values that look like the stand-in's place.
      { kind: 'ConfigMap', data: { metadata: '\u0000' }, metadata: { name: 'b', resourceVersion: '3', uid: 'u' } } as KubeObject,
      { apiVersion: 'v1', kind: 'Namespace', metadata: {} },
    ];
    for (const [i, obj] of shapes.entries()) {
      const before = structuredClone(obj);
      const { stored, back } = roundTrip(obj, 40 + i);
      assert.equal((stored['metadata'] as Record<string, unknown>)['resourceVersion'], undefined, 'no resourceVersion in the store');
      const { resourceVersion: _rv, ...metaBefore } = before.metadata;
      assert.deepEqual(stored, { ...before, metadata: metaBefore }, 'stored bytes are the object');
      assert.equal(back.metadata.resourceVersion, String(40 + i));
      assert.equal(cachedJson(back), JSON.stringify(back), `answer JSON of shape ${i}`);
    }
    // The watch cache and the writer both read a write back: one object, one JSON.
    const obj: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'twice' } };
    const bytes = encode(obj);
    const kv = { key: '/k', value: bytes, createRev: 5, modRev: 5, lease: 0 };
    const first = decode(kv, 5);
    const json = cachedJson(first);
    assert.equal(decode(kv, 5), first);
    assert.equal(cachedJson(first), json);
    assert.equal(json, JSON.stringify(first));
  });

  it('parses bytes it did not just write, and a read at another revision, afresh', () => {
    const obj: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } };
    const bytes = encode(obj);
    const older = decode({ key: '/k', value: bytes, createRev: 7, modRev: 7, lease: 0 }, 9);
    assert.notEqual(older, obj, 'a read at another revision gets its own object');
    assert.equal(cachedJson(older), JSON.stringify(older));
    const copy = decode({ key: '/k', value: Uint8Array.from(bytes), createRev: 7, modRev: 7, lease: 0 }, 7);
    assert.notEqual(copy, obj);
    assert.equal(copy.metadata.resourceVersion, '7');
  });
});

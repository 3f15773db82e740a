import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyMergePatch, createMergePatch } from './merge-patch.js';

describe('applyMergePatch (RFC 7386)', () => {
  // The RFC's appendix A examples, plus the cases kubectl patch --type merge relies on.
  const cases: [target: unknown, patch: unknown, result: unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    // lists are replaced whole: a merge patch cannot add one container
    [{ spec: { containers: [{ name: 'a' }, { name: 'b' }] } }, { spec: { containers: [{ name: 'c' }] } }, { spec: { containers: [{ name: 'c' }] } }],
    [{ metadata: { labels: { a: '1', b: '2' } } }, { metadata: { labels: { a: null, c: '3' } } }, { metadata: { labels: { b: '2', c: '3' } } }],
    [undefined, { a: 1 }, { a: 1 }],
  ];
  for (const [target, patch, result] of cases) {
    it(`${JSON.stringify(target)} + ${JSON.stringify(patch)} -> ${JSON.stringify(result)}`, () => {
      assert.deepEqual(applyMergePatch(target, patch), result);
    });
  }

  it('does not modify the target', () => {
    const target = { a: { b: 1 }, c: [1] };
    applyMergePatch(target, { a: { b: 2, d: 3 }, c: null });
    assert.deepEqual(target, { a: { b: 1 }, c: [1] });
  });

  it('a key named __proto__ is data, not a prototype', () => {
    const out = applyMergePatch({}, JSON.parse('{"__proto__":{"x":1}}')) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.keys(out), ['__proto__']);
    assert.equal((out as { x?: unknown }).x, undefined);
  });
});

describe('createMergePatch', () => {
  const cases: [from: unknown, to: unknown, patch: unknown][] = [
    [{ a: 1 }, { a: 1 }, {}],
    [{ a: 1 }, { a: 2 }, { a: 2 }],
    [{ a: 1 }, {}, { a: null }],
    [{}, { a: 1 }, { a: 1 }],
    [{ a: { b: 1, c: 2 } }, { a: { b: 1, c: 3 } }, { a: { c: 3 } }],
    [{ a: { b: 1 } }, { a: { b: 1 } }, {}],
    [{ a: [1, 2] }, { a: [1, 2] }, {}],
    [{ a: [1, 2] }, { a: [2, 1] }, { a: [2, 1] }],
    [{ a: [{ x: 1, y: 2 }] }, { a: [{ y: 2, x: 1 }] }, {}],
    [{ a: { b: 1 } }, { a: 'x' }, { a: 'x' }],
    [{ toString: 1 }, {}, { toString: null }],
    [{}, { constructor: 'x' }, { constructor: 'x' }],
    [{ a: 1 }, [1], [1]],
  ];
  for (const [from, to, patch] of cases) {
    it(`${JSON.stringify(from)} -> ${JSON.stringify(to)}`, () => {
      assert.deepEqual(createMergePatch(from, to), patch);
      assert.deepEqual(applyMergePatch(from, createMergePatch(from, to)), to);
    });
  }
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyJsonPatch } from './json-patch.js';
import { ApiError } from '../status.js';

const doc = () => ({ metadata: { name: 'd', labels: { app: 'x' } }, spec: { replicas: 1, template: { spec: { containers: [{ name: 'a', image: 'a:1' }] } } } });

describe('applyJsonPatch (RFC 6902)', () => {
  const cases: [name: string, ops: unknown, expect: (d: any) => void][] = [
    ['replace a scalar', [{ op: 'replace', path: '/spec/replicas', value: 3 }], (d) => { d.spec.replicas = 3; }],
    ['add a map key', [{ op: 'add', path: '/metadata/labels/tier', value: 'web' }], (d) => { d.metadata.labels.tier = 'web'; }],
    ['add to the end of a list', [{ op: 'add', path: '/spec/template/spec/containers/-', value: { name: 'b' } }], (d) => { d.spec.template.spec.containers.push({ name: 'b' }); }],
    ['insert into a list', [{ op: 'add', path: '/spec/template/spec/containers/0', value: { name: 'b' } }], (d) => { d.spec.template.spec.containers.unshift({ name: 'b' }); }],
    ['remove', [{ op: 'remove', path: '/metadata/labels/app' }], (d) => { d.metadata.labels = {}; }],
    ['a key with an escaped slash', [{ op: 'add', path: '/metadata/labels/example.com~1tier', value: 'x' }], (d) => { d.metadata.labels['example.com/tier'] = 'x'; }],
    ['test then replace', [{ op: 'test', path: '/spec/replicas', value: 1 }, { op: 'replace', path: '/spec/replicas', value: 2 }], (d) => { d.spec.replicas = 2; }],
    ['copy', [{ op: 'copy', from: '/metadata/name', path: '/metadata/labels/name' }], (d) => { d.metadata.labels.name = 'd'; }],
    ['move', [{ op: 'move', from: '/metadata/labels/app', path: '/metadata/labels/application' }], (d) => { d.metadata.labels = { application: 'x' }; }],
    ['an empty patch', [], () => {}],
    ['a null patch is an empty one', null, () => {}],
  ];
  for (const [name, ops, expect] of cases) {
    it(name, () => {
      const want = doc();
      expect(want);
      assert.deepEqual(applyJsonPatch(doc(), ops), want);
    });
  }

  it('does not modify the document', () => {
    const d = doc();
    applyJsonPatch(d, [{ op: 'replace', path: '/spec/replicas', value: 9 }]);
    assert.deepEqual(d, doc());
  });

  const unprocessable: [name: string, ops: unknown][] = [
    ['a failed test', [{ op: 'test', path: '/spec/replicas', value: 2 }, { op: 'replace', path: '/spec/replicas', value: 3 }]],
    ['removing a missing key', [{ op: 'remove', path: '/metadata/annotations' }]],
    ['replacing a missing key', [{ op: 'replace', path: '/spec/paused', value: true }]],
    ['adding under a missing parent', [{ op: 'add', path: '/status/conditions/0', value: {} }]],
    ['an unknown op', [{ op: 'frobnicate', path: '/spec' }]],
    ['an index past the end', [{ op: 'add', path: '/spec/template/spec/containers/5', value: {} }]],
  ];
  for (const [name, ops] of unprocessable) {
    it(`${name} is upstream's 422 with no detail`, () => {
      assert.throws(() => applyJsonPatch(doc(), ops), (e: unknown) => {
        assert.ok(e instanceof ApiError);
        assert.equal(e.code, 422);
        assert.equal(e.reason, 'Invalid');
        assert.equal(e.message, 'the server rejected our request due to an error in our request');
        assert.deepEqual(e.status.details, {});
        return true;
      });
    });
  }

  const malformed: [body: unknown, message: string][] = [
    [{ op: 'add' }, 'json: cannot unmarshal object into Go value of type jsonpatch.Patch'],
    ['x', 'json: cannot unmarshal string into Go value of type jsonpatch.Patch'],
    [1, 'json: cannot unmarshal number into Go value of type jsonpatch.Patch'],
    [[1], 'json: cannot unmarshal number into Go value of type jsonpatch.Operation'],
    [[[]], 'json: cannot unmarshal array into Go value of type jsonpatch.Operation'],
  ];
  for (const [body, message] of malformed) {
    it(`a body of ${JSON.stringify(body)} is a 400`, () => {
      assert.throws(() => applyJsonPatch(doc(), body), (e: unknown) => {
        assert.ok(e instanceof ApiError);
        assert.equal(e.code, 400);
        assert.equal(e.message, message);
        return true;
      });
    });
  }
});

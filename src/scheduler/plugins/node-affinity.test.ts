// Upstream's node_affinity_test.go, table-driven: nodeSelector and required node affinity as a filter
// (In, NotIn, Exists, DoesNotExist, Gt, Lt, matchFields, ORed terms), preferred terms as a score.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { cluster, makeNode, makePod, runFilter, runScore } from '../testing.js';
import { nodeAffinity } from './node-affinity.js';

const reason = "node(s) didn't match Pod's node affinity/selector";

describe('NodeAffinity filter', () => {
  const node = makeNode('node1').label('foo', 'bar').label('gpus', '4').label('zone', 'z1').obj();
  const cases: { name: string; pod: Pod; node?: Node; fits: boolean }[] = [
    { name: 'no selector, no affinity', pod: makePod('p').obj(), fits: true },
    { name: 'nodeSelector matches', pod: makePod('p').nodeSelector({ foo: 'bar' }).obj(), fits: true },
    { name: 'nodeSelector with another value', pod: makePod('p').nodeSelector({ foo: 'baz' }).obj(), fits: false },
    { name: 'nodeSelector on a missing label', pod: makePod('p').nodeSelector({ missing: '' }).obj(), fits: false },
    { name: 'In matches', pod: makePod('p').nodeAffinityTerm({ key: 'foo', operator: 'In', values: ['value1', 'bar'] }).obj(), fits: true },
    { name: 'In does not match', pod: makePod('p').nodeAffinityTerm({ key: 'foo', operator: 'In', values: ['value1'] }).obj(), fits: false },
    { name: 'NotIn on a missing label matches', pod: makePod('p').nodeAffinityTerm({ key: 'kernel', operator: 'NotIn', values: ['x'] }).obj(), fits: true },
    { name: 'NotIn with the value', pod: makePod('p').nodeAffinityTerm({ key: 'foo', operator: 'NotIn', values: ['bar'] }).obj(), fits: false },
    { name: 'Exists', pod: makePod('p').nodeAffinityTerm({ key: 'foo', operator: 'Exists' }).obj(), fits: true },
    { name: 'DoesNotExist', pod: makePod('p').nodeAffinityTerm({ key: 'foo', operator: 'DoesNotExist' }).obj(), fits: false },
    { name: 'Gt: 4 > 3', pod: makePod('p').nodeAffinityTerm({ key: 'gpus', operator: 'Gt', values: ['3'] }).obj(), fits: true },
    { name: 'Gt: 4 > 4 is false', pod: makePod('p').nodeAffinityTerm({ key: 'gpus', operator: 'Gt', values: ['4'] }).obj(), fits: false },
    { name: 'Lt: 4 < 5', pod: makePod('p').nodeAffinityTerm({ key: 'gpus', operator: 'Lt', values: ['5'] }).obj(), fits: true },
    { name: 'Lt on a non-integer label', pod: makePod('p').nodeAffinityTerm({ key: 'foo', operator: 'Lt', values: ['5'] }).obj(), fits: false },
    { name: 'Gt on a missing label', pod: makePod('p').nodeAffinityTerm({ key: 'missing', operator: 'Gt', values: ['0'] }).obj(), fits: false },
    { name: 'Gt with two values', pod: makePod('p').nodeAffinityTerm({ key: 'gpus', operator: 'Gt', values: ['1', '2'] }).obj(), fits: false },
    { name: 'expressions of one term are ANDed', pod: makePod('p').nodeAffinityTerm({ key: 'foo', operator: 'In', values: ['bar'] }, { key: 'zone', operator: 'In', values: ['z2'] }).obj(), fits: false },
    { name: 'terms are ORed', pod: makePod('p').nodeAffinityTerm({ key: 'foo', operator: 'In', values: ['nope'] }).nodeAffinityTerm({ key: 'zone', operator: 'In', values: ['z1'] }).obj(), fits: true },
    { name: 'an empty term matches nothing', pod: makePod('p').nodeAffinityTerm().obj(), fits: false },
    { name: 'matchFields metadata.name In', pod: makePod('p').nodeFieldTerm({ key: 'metadata.name', operator: 'In', values: ['node1'] }).obj(), fits: true },
    { name: 'matchFields metadata.name NotIn', pod: makePod('p').nodeFieldTerm({ key: 'metadata.name', operator: 'NotIn', values: ['node1'] }).obj(), fits: false },
    { name: 'nodeSelector and affinity must both hold', pod: makePod('p').nodeSelector({ foo: 'bar' }).nodeAffinityTerm({ key: 'zone', operator: 'In', values: ['z2'] }).obj(), fits: false },
    { name: 'a label key named like an object property is not present', pod: makePod('p').nodeAffinityTerm({ key: 'constructor', operator: 'Exists' }).obj(), fits: false },
    { name: 'and is absent for DoesNotExist', pod: makePod('p').nodeAffinityTerm({ key: 'toString', operator: 'DoesNotExist' }).obj(), fits: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = runFilter(nodeAffinity, c.pod, cluster([c.node ?? node])).get('node1')!;
      if (c.fits) assert.equal(s.code, 'Success');
      else {
        assert.equal(s.code, 'UnschedulableAndUnresolvable');
        assert.deepEqual(s.reasons, [reason]);
      }
    });
  }

  it('an empty list of required terms matches nothing', () => {
    const pod = makePod('p').obj();
    pod.spec!.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } };
    assert.equal(runFilter(nodeAffinity, pod, cluster([node])).get('node1')!.code, 'UnschedulableAndUnresolvable');
  });
});

describe('NodeAffinity score', () => {
  const nodes = [
    makeNode('a').label('foo', 'bar').obj(),
    makeNode('b').label('foo', 'bar').label('key', 'value').obj(),
    makeNode('c').label('az', 'az1').obj(),
  ];
  const cases: { name: string; pod: Pod; raw: number[]; want: number[] }[] = [
    { name: 'no preferences', pod: makePod('p').obj(), raw: [0, 0, 0], want: [0, 0, 0] },
    { name: 'one preference', pod: makePod('p').preferredNodeTerm(2, { key: 'foo', operator: 'In', values: ['bar'] }).obj(), raw: [2, 2, 0], want: [100, 100, 0] },
    {
      name: 'weights add up and are scaled by the best node',
      pod: makePod('p').preferredNodeTerm(2, { key: 'foo', operator: 'In', values: ['bar'] }).preferredNodeTerm(3, { key: 'key', operator: 'In', values: ['value'] }).preferredNodeTerm(1, { key: 'az', operator: 'Exists' }).obj(),
      raw: [2, 5, 1], want: [40, 100, 20],
    },
    { name: 'a zero weight counts nothing', pod: makePod('p').preferredNodeTerm(0, { key: 'foo', operator: 'In', values: ['bar'] }).obj(), raw: [0, 0, 0], want: [0, 0, 0] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = runScore(nodeAffinity, c.pod, cluster(nodes));
      assert.deepEqual([...r.raw.values()], c.raw);
      assert.deepEqual([...r.normalized.values()], c.want);
    });
  }
  it('has upstream\'s default weight 2', () => assert.equal(nodeAffinity.weight, 2));
});

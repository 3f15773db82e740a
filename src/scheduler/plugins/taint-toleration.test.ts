// Upstream's taint_toleration_test.go, table-driven: which taints keep a pod off (and with which reason),
// how tolerations match, and the PreferNoSchedule score.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod, Taint, Toleration } from 'kubernetes-types/core/v1.js';
import { cluster, makeNode, makePod, runFilter, runScore } from '../testing.js';
import { taintToleration } from './taint-toleration.js';
import { tolerates } from './helpers.js';

describe('tolerates (upstream ToleratesTaint)', () => {
  const taint: Taint = { key: 'dedicated', value: 'user1', effect: 'NoSchedule' };
  const cases: { name: string; t: Toleration; taint?: Taint; want: boolean }[] = [
    { name: 'Equal with the same key, value and effect', t: { key: 'dedicated', operator: 'Equal', value: 'user1', effect: 'NoSchedule' }, want: true },
    { name: 'operator defaults to Equal', t: { key: 'dedicated', value: 'user1', effect: 'NoSchedule' }, want: true },
    { name: 'Equal with another value', t: { key: 'dedicated', operator: 'Equal', value: 'user2', effect: 'NoSchedule' }, want: false },
    { name: 'Exists ignores the value', t: { key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }, want: true },
    { name: 'empty effect matches every effect', t: { key: 'dedicated', operator: 'Exists' }, want: true },
    { name: 'another effect', t: { key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }, want: false },
    { name: 'another key', t: { key: 'other', operator: 'Exists', effect: 'NoSchedule' }, want: false },
    { name: 'empty key with Exists matches every taint', t: { operator: 'Exists' }, want: true },
    { name: 'empty key with Exists and an effect matches only that effect', t: { operator: 'Exists', effect: 'NoExecute' }, want: false },
    { name: 'Equal against a taint without value, empty toleration value', t: { key: 'foo', operator: 'Equal', effect: 'NoSchedule' }, taint: { key: 'foo', effect: 'NoSchedule' }, want: true },
    { name: 'unknown operator', t: { key: 'dedicated', operator: 'Gt', value: 'user1' }, want: false },
  ];
  for (const c of cases) it(c.name, () => assert.equal(tolerates(c.t, c.taint ?? taint), c.want));
});

describe('TaintToleration filter', () => {
  const cases: { name: string; pod: Pod; node: Node; code: string; reasons: string[] }[] = [
    { name: 'no taints', pod: makePod('p').obj(), node: makeNode('n').obj(), code: 'Success', reasons: [] },
    {
      name: 'tolerated NoSchedule taint', pod: makePod('p').toleration({ key: 'dedicated', value: 'user1', effect: 'NoSchedule' }).obj(),
      node: makeNode('n').taint('dedicated', 'user1', 'NoSchedule').obj(), code: 'Success', reasons: [],
    },
    {
      name: 'toleration with another value', pod: makePod('p').toleration({ key: 'dedicated', operator: 'Equal', value: 'user2', effect: 'NoSchedule' }).obj(),
      node: makeNode('n').taint('dedicated', 'user1', 'NoSchedule').obj(), code: 'UnschedulableAndUnresolvable', reasons: ['node(s) had untolerated taint {dedicated: user1}'],
    },
    {
      name: 'a taint without value prints an empty value (the control-plane case)', pod: makePod('p').obj(),
      node: makeNode('n').taint('node-role.kubernetes.io/control-plane', undefined, 'NoSchedule').obj(), code: 'UnschedulableAndUnresolvable', reasons: ['node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }'],
    },
    { name: 'PreferNoSchedule never filters', pod: makePod('p').obj(), node: makeNode('n').taint('foo', 'bar', 'PreferNoSchedule').obj(), code: 'Success', reasons: [] },
    { name: 'NoExecute filters', pod: makePod('p').obj(), node: makeNode('n').taint('foo', 'bar', 'NoExecute').obj(), code: 'UnschedulableAndUnresolvable', reasons: ['node(s) had untolerated taint {foo: bar}'] },
    {
      name: 'the first untolerated taint is reported', pod: makePod('p').toleration({ key: 'a', operator: 'Exists' }).obj(),
      node: makeNode('n').taint('a', 'x', 'NoSchedule').taint('b', 'y', 'NoSchedule').taint('c', 'z', 'NoSchedule').obj(), code: 'UnschedulableAndUnresolvable', reasons: ['node(s) had untolerated taint {b: y}'],
    },
    { name: 'a node not Ready gets the not-ready taint', pod: makePod('p').obj(), node: makeNode('n').ready('False').obj(), code: 'UnschedulableAndUnresolvable', reasons: ['node(s) had untolerated taint {node.kubernetes.io/not-ready: }'] },
    { name: 'a node without a Ready condition is not ready', pod: makePod('p').obj(), node: makeNode('n').ready(undefined).obj(), code: 'UnschedulableAndUnresolvable', reasons: ['node(s) had untolerated taint {node.kubernetes.io/not-ready: }'] },
    { name: 'a node whose Ready is Unknown is unreachable', pod: makePod('p').obj(), node: makeNode('n').ready('Unknown').obj(), code: 'UnschedulableAndUnresolvable', reasons: ['node(s) had untolerated taint {node.kubernetes.io/unreachable: }'] },
    {
      name: 'tolerating not-ready lets a pod onto an unready node', pod: makePod('p').toleration({ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoSchedule' }).obj(),
      node: makeNode('n').ready('False').obj(), code: 'Success', reasons: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = runFilter(taintToleration, c.pod, cluster([c.node])).get('n')!;
      assert.equal(s.code, c.code);
      assert.deepEqual(s.reasons, c.reasons);
    });
  }
});

describe('TaintToleration score', () => {
  const cases: { name: string; pod: Pod; nodes: Node[]; raw: number[]; want: number[] }[] = [
    {
      name: 'counts untolerated PreferNoSchedule taints, fewer is better',
      pod: makePod('p').obj(),
      nodes: [makeNode('a').obj(), makeNode('b').taint('x', '1', 'PreferNoSchedule').obj(), makeNode('c').taint('x', '1', 'PreferNoSchedule').taint('y', '2', 'PreferNoSchedule').obj()],
      raw: [0, 1, 2], want: [100, 50, 0],
    },
    {
      name: 'tolerations with effect PreferNoSchedule or empty count, NoSchedule ones do not',
      pod: makePod('p').toleration({ key: 'x', operator: 'Exists', effect: 'PreferNoSchedule' }).toleration({ key: 'y', operator: 'Exists' }).toleration({ key: 'z', operator: 'Exists', effect: 'NoSchedule' }).obj(),
      nodes: [makeNode('a').taint('x', '1', 'PreferNoSchedule').taint('y', '1', 'PreferNoSchedule').obj(), makeNode('b').taint('z', '1', 'PreferNoSchedule').obj()],
      raw: [0, 1], want: [100, 0],
    },
    {
      name: 'NoSchedule taints do not lower the score',
      pod: makePod('p').toleration({ operator: 'Exists' }).obj(),
      nodes: [makeNode('a').taint('x', '1', 'NoSchedule').obj(), makeNode('b').obj()],
      raw: [0, 0], want: [100, 100],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = runScore(taintToleration, c.pod, cluster(c.nodes));
      assert.deepEqual([...r.raw.values()], c.raw);
      assert.deepEqual([...r.normalized.values()], c.want);
    });
  }
});

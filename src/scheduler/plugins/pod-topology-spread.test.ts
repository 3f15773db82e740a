// Upstream's podtopologyspread filtering_test.go and scoring_test.go, table-driven: skew with
// self-match against the minimum over eligible domains, minDomains, node inclusion policies, and the
// ScheduleAnyway / system-default score (vectors from upstream's TestPodTopologySpreadScore).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import { cluster, makeNode, makePod, runFilter, runScore } from '../testing.js';
import { podTopologySpread } from './pod-topology-spread.js';
import { podSpreadScore } from './spread-score.js';

const host = 'kubernetes.io/hostname';
const skewReason = "node(s) didn't match pod topology spread constraints";
const labelReason = "node(s) didn't match pod topology spread constraints (missing required label)";

const node = (name: string, zone?: string): Node => {
  const b = makeNode(name).label(host, name);
  if (zone) b.label('zone', zone);
  return b.obj();
};
// node-a, node-b in zone1; node-x, node-y in zone2.
const fourNodes = [node('node-a', 'zone1'), node('node-b', 'zone1'), node('node-x', 'zone2'), node('node-y', 'zone2')];
const foo = (name: string, nodeName: string, extra: Record<string, string> = {}): Pod => {
  const b = makePod(name).label('foo', '').node(nodeName);
  for (const [k, v] of Object.entries(extra)) b.label(k, v);
  return b.obj();
};
const fooPod = (): ReturnType<typeof makePod> => makePod('p').label('foo', '');

type Want = Record<string, 'ok' | 'skew' | 'label'>;

describe('PodTopologySpread filter (DoNotSchedule)', () => {
  const cases: { name: string; pod: Pod; nodes?: Node[]; existing: Pod[]; want: Want }[] = [
    {
      name: 'no existing pods: every node fits',
      pod: fooPod().spread(1, 'zone', 'DoNotSchedule', { foo: '' }).obj(), existing: [],
      want: { 'node-a': 'ok', 'node-b': 'ok', 'node-x': 'ok', 'node-y': 'ok' },
    },
    {
      name: 'zone1 holds 2, zone2 none: zone1 would make skew 3',
      pod: fooPod().spread(1, 'zone', 'DoNotSchedule', { foo: '' }).obj(), existing: [foo('p-a1', 'node-a'), foo('p-b1', 'node-b')],
      want: { 'node-a': 'skew', 'node-b': 'skew', 'node-x': 'ok', 'node-y': 'ok' },
    },
    {
      name: 'a pod that does not match its own selector adds nothing (self-match 0)',
      pod: makePod('p').spread(1, 'zone', 'DoNotSchedule', { foo: '' }).obj(), existing: [foo('p-a1', 'node-a')],
      want: { 'node-a': 'ok', 'node-b': 'ok', 'node-x': 'ok', 'node-y': 'ok' },
    },
    {
      name: 'hostname spreading: 2/1/0/0',
      pod: fooPod().spread(1, host, 'DoNotSchedule', { foo: '' }).obj(), existing: [foo('p-a1', 'node-a'), foo('p-a2', 'node-a'), foo('p-b1', 'node-b')],
      want: { 'node-a': 'skew', 'node-b': 'skew', 'node-x': 'ok', 'node-y': 'ok' },
    },
    {
      name: 'maxSkew 2 allows one more',
      pod: fooPod().spread(2, host, 'DoNotSchedule', { foo: '' }).obj(), existing: [foo('p-a1', 'node-a'), foo('p-a2', 'node-a'), foo('p-b1', 'node-b')],
      want: { 'node-a': 'skew', 'node-b': 'ok', 'node-x': 'ok', 'node-y': 'ok' },
    },
    {
      name: 'a node without the topology label is unresolvable',
      pod: fooPod().spread(1, 'zone', 'DoNotSchedule', { foo: '' }).obj(), nodes: [node('node-a', 'zone1'), node('node-c')], existing: [],
      want: { 'node-a': 'ok', 'node-c': 'label' },
    },
    {
      name: 'the minimum is over eligible domains only (nodeSelector keeps zone2 out)',
      pod: fooPod().nodeSelector({ zone: 'zone1' }).spread(1, 'zone', 'DoNotSchedule', { foo: '' }).obj(), existing: [foo('p-a1', 'node-a')],
      want: { 'node-a': 'ok', 'node-b': 'ok' },
    },
    {
      name: 'nodeAffinityPolicy Ignore counts zone2 again',
      pod: fooPod().nodeSelector({ zone: 'zone1' }).spread(1, 'zone', 'DoNotSchedule', { foo: '' }, { nodeAffinityPolicy: 'Ignore' }).obj(), existing: [foo('p-a1', 'node-a')],
      want: { 'node-a': 'skew', 'node-b': 'skew' },
    },
    {
      name: 'minDomains above the number of domains takes the minimum as 0',
      pod: fooPod().spread(1, 'zone', 'DoNotSchedule', { foo: '' }, { minDomains: 3 }).obj(), existing: [foo('p-a1', 'node-a'), foo('p-x1', 'node-x')],
      want: { 'node-a': 'skew', 'node-b': 'skew', 'node-x': 'skew', 'node-y': 'skew' },
    },
    {
      name: 'without minDomains the same cluster fits',
      pod: fooPod().spread(1, 'zone', 'DoNotSchedule', { foo: '' }).obj(), existing: [foo('p-a1', 'node-a'), foo('p-x1', 'node-x')],
      want: { 'node-a': 'ok', 'node-b': 'ok', 'node-x': 'ok', 'node-y': 'ok' },
    },
    {
      name: 'terminating pods and other namespaces do not count',
      pod: fooPod().spread(1, 'zone', 'DoNotSchedule', { foo: '' }).obj(),
      existing: [makePod('t').label('foo', '').node('node-a').terminating().obj(), makePod('o', 'other').label('foo', '').node('node-b').obj(), makePod('o2', 'other').label('foo', '').node('node-a').obj()],
      want: { 'node-a': 'ok', 'node-b': 'ok', 'node-x': 'ok', 'node-y': 'ok' },
    },
    {
      name: 'matchLabelKeys adds the pod\'s own value to the selector',
      pod: fooPod().label('version', 'v2').spread(1, 'zone', 'DoNotSchedule', { foo: '' }, { matchLabelKeys: ['version'] }).obj(),
      existing: [foo('p-a1', 'node-a', { version: 'v1' }), foo('p-a2', 'node-a', { version: 'v1' })],
      want: { 'node-a': 'ok', 'node-b': 'ok', 'node-x': 'ok', 'node-y': 'ok' },
    },
    {
      // An empty (non-nil) selector counts no existing pod, but the incoming pod still matches it.
      name: 'an empty label selector counts nothing',
      pod: fooPod().spread(1, 'zone', 'DoNotSchedule', {}).obj(), existing: [foo('p-a1', 'node-a'), foo('p-a2', 'node-a'), foo('p-b1', 'node-b')],
      want: { 'node-a': 'ok', 'node-b': 'ok', 'node-x': 'ok', 'node-y': 'ok' },
    },
    {
      // node-c lacks the hostname label of the second constraint, so its pods count for no domain.
      name: 'a node missing one constraint\'s key counts for none of them',
      pod: fooPod().spread(1, 'zone', 'DoNotSchedule', { foo: '' }).spread(3, host, 'DoNotSchedule', { foo: '' }).obj(),
      nodes: [node('node-a', 'zone1'), makeNode('node-c').label('zone', 'zone1').obj(), node('node-x', 'zone2')],
      existing: [foo('p-c1', 'node-c'), foo('p-c2', 'node-c')],
      want: { 'node-a': 'ok', 'node-c': 'label', 'node-x': 'ok' },
    },
    {
      name: 'nodeTaintsPolicy Honor leaves out nodes with untolerated taints',
      pod: fooPod().spread(1, 'zone', 'DoNotSchedule', { foo: '' }, { nodeTaintsPolicy: 'Honor' }).obj(),
      nodes: [node('node-a', 'zone1'), makeNode('node-x').label(host, 'node-x').label('zone', 'zone2').taint('k', 'v', 'NoSchedule').obj()],
      existing: [foo('p-a1', 'node-a')],
      want: { 'node-a': 'ok', 'node-x': 'ok' },
    },
    {
      name: 'nodeTaintsPolicy defaults to Ignore',
      pod: fooPod().spread(1, 'zone', 'DoNotSchedule', { foo: '' }).obj(),
      nodes: [node('node-a', 'zone1'), makeNode('node-x').label(host, 'node-x').label('zone', 'zone2').taint('k', 'v', 'NoSchedule').obj()],
      existing: [foo('p-a1', 'node-a')],
      want: { 'node-a': 'skew', 'node-x': 'ok' },
    },
    {
      name: 'ScheduleAnyway constraints never filter',
      pod: fooPod().spread(1, 'zone', 'ScheduleAnyway', { foo: '' }).obj(), existing: [foo('p-a1', 'node-a'), foo('p-a2', 'node-a')],
      want: { 'node-a': 'ok', 'node-b': 'ok', 'node-x': 'ok', 'node-y': 'ok' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = runFilter(podTopologySpread, c.pod, cluster(c.nodes ?? fourNodes, c.existing));
      for (const [n, want] of Object.entries(c.want)) {
        const s = got.get(n)!;
        if (want === 'ok') assert.equal(s.code, 'Success', `${n}: ${s.reasons.join()}`);
        else if (want === 'skew') assert.deepEqual([s.code, ...s.reasons], ['Unschedulable', skewReason], n);
        else assert.deepEqual([s.code, ...s.reasons], ['UnschedulableAndUnresolvable', labelReason], n);
      }
    });
  }
});

describe('PodTopologySpread score (ScheduleAnyway and system defaults)', () => {
  const fooExists: LabelSelector = { matchExpressions: [{ key: 'foo', operator: 'Exists' }] };
  const barExists: LabelSelector = { matchExpressions: [{ key: 'bar', operator: 'Exists' }] };
  const soft = (maxSkew: number, key: string, sel: LabelSelector | null = fooExists): Parameters<ReturnType<typeof makePod>['spread']> =>
    [maxSkew, key, 'ScheduleAnyway', undefined, sel ? { labelSelector: sel } : {}];
  const hosts = (...names: string[]): Node[] => names.map((n) => node(n));
  const spread = (counts: Record<string, number>): Pod[] => Object.entries(counts).flatMap(([n, k]) => Array.from({ length: k }, (_, i) => foo(`p-${n}-${i}`, n)));
  const cases: { name: string; pod: Pod; nodes: Node[]; existing: Pod[]; candidates?: string[]; want: Record<string, number> }[] = [
    {
      name: 'one constraint on node, no existing pods',
      pod: fooPod().spread(...soft(1, host)).obj(), nodes: hosts('node-a', 'node-b'), existing: [],
      want: { 'node-a': 100, 'node-b': 100 },
    },
    {
      name: 'one constraint on node, all 4 nodes are candidates (2/1/0/3)',
      pod: fooPod().spread(...soft(1, host)).obj(), nodes: hosts('node-a', 'node-b', 'node-c', 'node-d'),
      existing: spread({ 'node-a': 2, 'node-b': 1, 'node-d': 3 }),
      want: { 'node-a': 20, 'node-b': 60, 'node-c': 100, 'node-d': 0 },
    },
    {
      name: 'one constraint on node, null selector',
      pod: fooPod().spread(...soft(1, host, null)).obj(), nodes: hosts('node-a', 'node-b', 'node-c', 'node-d'),
      existing: spread({ 'node-a': 2, 'node-b': 1, 'node-d': 3 }),
      want: { 'node-a': 100, 'node-b': 100, 'node-c': 100, 'node-d': 100 },
    },
    {
      name: 'one constraint on node, maxSkew=2',
      pod: fooPod().spread(...soft(2, host)).obj(), nodes: hosts('node-a', 'node-b', 'node-c', 'node-d'),
      existing: spread({ 'node-a': 2, 'node-b': 1, 'node-d': 3 }),
      want: { 'node-a': 33, 'node-b': 66, 'node-c': 100, 'node-d': 16 },
    },
    {
      name: 'one constraint on node, maxSkew=3 (4/3/2/1)',
      pod: fooPod().spread(...soft(3, host)).obj(), nodes: hosts('node-a', 'node-b', 'node-c', 'node-d'),
      existing: spread({ 'node-a': 4, 'node-b': 3, 'node-c': 2, 'node-d': 1 }),
      want: { 'node-a': 44, 'node-b': 66, 'node-c': 77, 'node-d': 100 },
    },
    {
      name: 'system defaulting for a controller\'s pod, nodes without zone (4/3/2/1)',
      pod: fooPod().ownedBy().obj(), nodes: hosts('node-a', 'node-b', 'node-c', 'node-d'),
      existing: spread({ 'node-a': 4, 'node-b': 3, 'node-c': 2, 'node-d': 1 }),
      want: { 'node-a': 44, 'node-b': 66, 'node-c': 77, 'node-d': 100 },
    },
    {
      name: 'one constraint on node, 3 out of 4 nodes are candidates (4/2/1/~3~)',
      pod: fooPod().spread(...soft(1, host)).obj(), nodes: hosts('node-a', 'node-b', 'node-x', 'node-y'),
      existing: spread({ 'node-a': 4, 'node-b': 2, 'node-x': 1, 'node-y': 3 }), candidates: ['node-a', 'node-b', 'node-x'],
      want: { 'node-a': 33, 'node-b': 83, 'node-x': 100 },
    },
    {
      name: 'one constraint on node, a candidate without the topology key is ignored',
      pod: fooPod().spread(...soft(1, host)).obj(), nodes: [node('node-a'), makeNode('node-b').label('n', 'node-b').obj(), node('node-x'), node('node-y')],
      existing: spread({ 'node-a': 4, 'node-b': 2, 'node-x': 1, 'node-y': 3 }), candidates: ['node-a', 'node-b', 'node-x'],
      want: { 'node-a': 16, 'node-b': 0, 'node-x': 100 },
    },
    {
      name: 'one constraint on zone, 3 out of 4 nodes are candidates',
      pod: fooPod().spread(...soft(1, 'zone')).obj(), nodes: fourNodes,
      existing: spread({ 'node-a': 4, 'node-b': 2, 'node-x': 1, 'node-y': 3 }), candidates: ['node-a', 'node-b', 'node-x'],
      want: { 'node-a': 75, 'node-b': 75, 'node-x': 100 },
    },
    {
      name: 'two constraints on zone and node, 2 out of 4 nodes are candidates',
      pod: fooPod().spread(...soft(1, 'zone')).spread(...soft(1, host)).obj(), nodes: fourNodes,
      existing: spread({ 'node-a': 2, 'node-b': 1, 'node-x': 2, 'node-y': 4 }), candidates: ['node-a', 'node-x'],
      want: { 'node-a': 100, 'node-x': 63 },
    },
    {
      name: 'two constraints on zone and node, with different label selectors',
      pod: fooPod().label('bar', '').spread(...soft(1, 'zone')).spread(...soft(1, host, barExists)).obj(), nodes: fourNodes,
      existing: [foo('p-a1', 'node-a'), foo('p-b1', 'node-b', { bar: '' }), foo('p-y1', 'node-y'), makePod('p-y2').label('bar', '').node('node-y').obj()],
      want: { 'node-a': 60, 'node-b': 20, 'node-x': 100, 'node-y': 60 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = runScore(podSpreadScore, c.pod, cluster(c.nodes, c.existing), c.candidates);
      assert.deepEqual(Object.fromEntries(r.normalized), c.want);
    });
  }

  it('a pod without soft constraints or controller adds nothing to any node', () => {
    const r = runScore(podSpreadScore, fooPod().obj(), cluster(fourNodes, spread({ 'node-a': 3 })));
    assert.deepEqual([...r.normalized.values()], [0, 0, 0, 0]);
  });
});

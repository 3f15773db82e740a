// findNode (filters, scores, weights, ties, how many nodes to look at), fitErrorMessage (upstream's
// FailedScheduling wording) and preemptionDryRun (upstream DefaultPreemption), table-driven.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { defaultPlugins, feasibleNodesToFind, findNode, fitErrorMessage, preemptionDryRun } from './algorithm.js';
import { normalizeByMax, success, unschedulable, type Plugin } from './framework.js';
import { cluster, makeNode, makePod } from './testing.js';

describe('feasibleNodesToFind (upstream numFeasibleNodesToFind)', () => {
  const cases: [string, number, number | undefined, number][] = [
    ['fewer than 100 nodes: all', 10, undefined, 10],
    ['a percentage does not apply below 100 nodes', 10, 40, 10],
    ['exactly 100 nodes', 100, undefined, 100],
    ['adaptive: 50 - 1000/125 = 42%', 1000, undefined, 420],
    ['adaptive: 50 - 500/125 = 46%', 500, undefined, 230],
    ['never fewer than 100', 150, undefined, 100],
    ['a configured percentage', 1000, 40, 400],
    ['a configured percentage, at least 100', 150, 10, 100],
    ['100% is everything', 1000, 100, 1000],
    ['adaptive is at least 5% (6000 nodes)', 6000, undefined, 300],
    ['a configured percentage on 6000 nodes', 6000, 40, 2400],
  ];
  for (const [name, all, pct, want] of cases) it(name, () => assert.equal(feasibleNodesToFind(all, pct), want));
});

/** A score plugin that gives each node a fixed raw score, normalized by the maximum. */
const fixedScore = (name: string, weight: number, scores: Record<string, number>): Plugin => ({
  name, weight, score: (_s, _p, n) => scores[n.name] ?? 0, normalize: (s) => normalizeByMax(s),
});
const rejectNodes = (names: string[], reason = 'rejected', unresolvable = false): Plugin => ({
  name: 'Reject', filter: (_s, _p, n) => (names.includes(n.name) ? unschedulable(reason, `detail of ${reason}`, unresolvable) : success),
});
const plainNodes = (...names: string[]): Node[] => names.map((n) => makeNode(n).capacity({ cpu: '4', memory: '8Gi', pods: '110' }).obj());

describe('findNode', () => {
  it('picks the node with the best weighted total', () => {
    const plugins = [fixedScore('A', 1, { n1: 10, n2: 5 }), fixedScore('B', 3, { n1: 0, n2: 10 })];
    const r = findNode(makePod('p').obj(), cluster(plainNodes('n1', 'n2')), { plugins, recordScores: true });
    assert.equal(r.node, 'n2');
    assert.deepEqual(Object.fromEntries(r.scores), { n1: 100, n2: 50 + 300 });
    assert.equal(r.feasible, 2);
  });

  it('with the default plugins, prefers the emptier node', () => {
    const view = cluster(plainNodes('busy', 'idle'), [makePod('e').container({ cpu: '2', memory: '4Gi' }).node('busy').obj()]);
    assert.equal(findNode(makePod('p').container({ cpu: '1', memory: '1Gi' }).obj(), view).node, 'idle');
  });

  it('skips rejected nodes and records why', () => {
    const plugins = [rejectNodes(['n1', 'n3']), fixedScore('A', 1, { n1: 100, n2: 1, n3: 100 })];
    const r = findNode(makePod('p').obj(), cluster(plainNodes('n1', 'n2', 'n3', 'n4')), { plugins });
    assert.equal(r.node, 'n2');
    assert.deepEqual([...r.statuses.keys()], ['n1', 'n3']);
    assert.deepEqual(r.statuses.get('n1'), { code: 'Unschedulable', reasons: ['rejected'], detail: ['detail of rejected'], plugin: 'Reject' });
    assert.equal(r.feasible, 2);
  });

  it('returns a lone feasible node without scoring', () => {
    const r = findNode(makePod('p').obj(), cluster(plainNodes('n1', 'n2')), { plugins: [rejectNodes(['n1']), fixedScore('A', 1, {})] });
    assert.equal(r.node, 'n2');
    assert.equal(r.scores.size, 0);
  });

  it('breaks ties with the random source, as upstream\'s reservoir sampling', () => {
    const plugins = [fixedScore('A', 1, { n1: 5, n2: 5, n3: 1 })];
    const view = cluster(plainNodes('n1', 'n2', 'n3'));
    assert.equal(findNode(makePod('p').obj(), view, { plugins, random: () => 0.99 }).node, 'n1');
    assert.equal(findNode(makePod('p').obj(), view, { plugins, random: () => 0 }).node, 'n2');
  });

  it('stops filtering once enough feasible nodes are found, starting at startIndex', () => {
    const names = Array.from({ length: 200 }, (_, i) => `n${String(i).padStart(3, '0')}`);
    const view = cluster(plainNodes(...names));
    const seen: string[] = [];
    const spy: Plugin = { name: 'Spy', filter: (_s, _p, n) => { seen.push(n.name); return success; } };
    const r = findNode(makePod('p').obj(), view, { plugins: [spy], startIndex: 150 });
    assert.equal(r.evaluated, 100, '200 nodes: max(100, 200 × 48%) = 100');
    assert.equal(r.feasible, 100);
    assert.equal(seen[0], 'n150');
    assert.equal(seen[50], 'n000', 'wraps around');
    seen.length = 0;
    assert.equal(findNode(makePod('p').obj(), view, { plugins: [spy], percentageOfNodesToScore: 100 }).evaluated, 200);
  });

  it('looks at every node when none is feasible', () => {
    const names = Array.from({ length: 150 }, (_, i) => `n${i}`);
    const r = findNode(makePod('p').obj(), cluster(plainNodes(...names)), { plugins: [rejectNodes(names)] });
    assert.equal(r.evaluated, 150);
    assert.equal(r.statuses.size, 150);
  });

  it('stops at the first failing filter, unless exhaustive', () => {
    const plugins = [rejectNodes(['n1'], 'first', true), { ...rejectNodes(['n1'], 'second'), name: 'Second' }];
    const quick = findNode(makePod('p').obj(), cluster(plainNodes('n1')), { plugins });
    assert.deepEqual(quick.statuses.get('n1')!.reasons, ['first']);
    const all = findNode(makePod('p').obj(), cluster(plainNodes('n1')), { plugins, exhaustive: true });
    assert.deepEqual(all.statuses.get('n1')!.reasons, ['first', 'second']);
    assert.equal(all.statuses.get('n1')!.code, 'UnschedulableAndUnresolvable');
  });

  it('a PreFilter rejection rejects every node', () => {
    const pre: Plugin = { name: 'Pre', preFilter: () => unschedulable('pod has unbound immediate PersistentVolumeClaims', undefined, true) };
    const r = findNode(makePod('p').obj(), cluster(plainNodes('n1', 'n2')), { plugins: [pre] });
    assert.equal(r.node, undefined);
    assert.equal(r.statuses.size, 2);
    assert.equal(fitErrorMessage(2, r), '0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.');
  });
});

describe('fitErrorMessage and the preemption summary (upstream FitError)', () => {
  const memNode = (name: string, memory: string): Node => makeNode(name).capacity({ cpu: '4', memory, pods: '110' }).obj();
  const controlPlane = (): Node => makeNode('cp').capacity({ cpu: '4', memory: '8Gi', pods: '110' }).taint('node-role.kubernetes.io/control-plane', undefined, 'NoSchedule').obj();
  const message = (pod: Pod, nodes: Node[], pods: Pod[] = []): string => {
    const view = cluster(nodes, pods);
    const r = findNode(pod, view);
    assert.equal(r.node, undefined);
    const pre = preemptionDryRun(pod, view, r);
    return fitErrorMessage(nodes.length, r, pre.message || undefined);
  };
  const cases: { name: string; pod: Pod; nodes: Node[]; pods?: Pod[]; want: string }[] = [
    {
      name: 'the upstream example: memory on one node, the control-plane taint on the other',
      pod: makePod('p').container({ memory: '4Gi' }).obj(),
      nodes: [memNode('w1', '2Gi'), controlPlane()],
      pods: [makePod('e').container({ memory: '1Gi' }).node('w1').obj()],
      want: '0/2 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.',
    },
    {
      name: 'counts per reason, sorted as strings',
      pod: makePod('p').container({ cpu: '8' }).obj(),
      nodes: [memNode('a', '1Gi'), memNode('b', '1Gi'), controlPlane()],
      want: '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.',
    },
    {
      name: 'every reason of a node counts',
      pod: makePod('p').container({ cpu: '8', memory: '8Gi' }).obj(),
      nodes: [memNode('a', '1Gi')],
      want: '0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.',
    },
    {
      name: 'a pod that may not preempt says so',
      pod: makePod('p').container({ memory: '4Gi' }).priority(100).preemptionPolicy('Never').obj(),
      nodes: [memNode('a', '1Gi')], pods: [makePod('low').node('a').obj()],
      want: '0/1 nodes are available: 1 Insufficient memory. preemption: not eligible due to preemptionPolicy=Never.',
    },
    {
      name: 'when evicting every lower-priority pod is not enough, the filter reason is counted',
      pod: makePod('p').container({ memory: '4Gi' }).priority(100).obj(),
      nodes: [memNode('a', '2Gi')], pods: [makePod('low').container({ memory: '1Gi' }).node('a').obj()],
      want: '0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: 1 Insufficient memory.',
    },
    {
      name: 'only unresolvable reasons: preemption is not helpful anywhere',
      pod: makePod('p').nodeSelector({ disk: 'ssd' }).obj(),
      nodes: [memNode('a', '1Gi'), memNode('b', '1Gi')],
      want: "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
    },
  ];
  for (const c of cases) it(c.name, () => assert.equal(message(c.pod, c.nodes, c.pods), c.want));

  it('no preemption part when preemption finds a candidate', () => {
    const view = cluster([memNode('a', '2Gi')], [makePod('low').container({ memory: '2Gi' }).node('a').obj()]);
    const pod = makePod('p').container({ memory: '1Gi' }).priority(10).obj();
    const r = findNode(pod, view);
    const pre = preemptionDryRun(pod, view, r);
    assert.equal(pre.message, '');
    assert.equal(fitErrorMessage(1, r, pre.message || undefined), '0/1 nodes are available: 1 Insufficient memory.');
  });

  it('no nodes at all: upstream\'s ErrNoNodesAvailable', () => {
    const pod = makePod('p').obj();
    const view = cluster([]);
    const r = findNode(pod, view);
    assert.equal(fitErrorMessage(0, r, preemptionDryRun(pod, view, r).message || undefined), 'no nodes available to schedule pods');
  });
});

describe('preemptionDryRun (upstream DefaultPreemption)', () => {
  const node = (name: string, memory: string, zone?: string): Node => {
    const b = makeNode(name).capacity({ cpu: '4', memory, pods: '110' }).label('kubernetes.io/hostname', name);
    if (zone) b.label('zone', zone);
    return b.obj();
  };
  const run = (pod: Pod, nodes: Node[], pods: Pod[]): ReturnType<typeof preemptionDryRun> => {
    const view = cluster(nodes, pods);
    return preemptionDryRun(pod, view, findNode(pod, view), defaultPlugins);
  };
  const victims = (r: ReturnType<typeof preemptionDryRun>): Record<string, string[]> =>
    Object.fromEntries(r.candidates.map((c) => [c.node, c.victims.map((v) => v.pod.metadata!.name!)]));

  it('evicts as few pods as needed, reprieving the most important first', () => {
    // Equal priorities: the one that started first is reprieved first, so the newer one goes.
    const pods = [
      makePod('low-old').container({ memory: '2Gi' }).priority(0).startTime('2024-01-01T00:00:00Z').node('n1').obj(),
      makePod('low-new').container({ memory: '2Gi' }).priority(0).startTime('2024-01-02T00:00:00Z').node('n1').obj(),
      makePod('mid').container({ memory: '1Gi' }).priority(5).node('n1').obj(),
    ];
    const r = run(makePod('p').container({ memory: '2Gi' }).priority(10).obj(), [node('n1', '5Gi')], pods);
    assert.deepEqual(victims(r), { n1: ['low-new'] });
  });

  it('never evicts pods of equal or higher priority', () => {
    const pods = [makePod('same').container({ memory: '2Gi' }).priority(10).node('n1').obj(), makePod('low').container({ memory: '1Gi' }).priority(1).node('n1').obj()];
    const r = run(makePod('p').container({ memory: '2Gi' }).priority(10).obj(), [node('n1', '4Gi')], pods);
    assert.deepEqual(victims(r), { n1: ['low'] });
  });

  it('orders candidates by the highest victim priority, then the priority sum, then how many', () => {
    const pods = [
      makePod('a-mid').container({ memory: '2Gi' }).priority(5).node('a').obj(),
      makePod('b-low1').container({ memory: '1Gi' }).priority(1).node('b').obj(),
      makePod('b-low2').container({ memory: '1Gi' }).priority(1).node('b').obj(),
      makePod('c-low').container({ memory: '2Gi' }).priority(1).node('c').obj(),
    ];
    const r = run(makePod('p').container({ memory: '2Gi' }).priority(10).obj(), [node('a', '2Gi'), node('b', '2Gi'), node('c', '2Gi')], pods);
    assert.deepEqual(r.candidates.map((c) => c.node), ['c', 'b', 'a']);
    assert.equal(r.message, '');
  });

  it('judges spreading against the whole cluster, not the one node', () => {
    // zone a holds one matching low-priority pod, zone b none (its node is tainted): skew 2 on n-a.
    // Evicting the pod fixes that; keeping it does not, because zone b still counts as empty.
    const pods = [makePod('low').label('app', 'x').priority(0).node('n-a').obj()];
    const nodes = [node('n-a', '4Gi', 'a'), makeNode('n-b').capacity({ cpu: '4', memory: '4Gi' }).label('zone', 'b').taint('k', 'v', 'NoSchedule').obj()];
    const pod = makePod('p').label('app', 'x').priority(10).spread(1, 'zone', 'DoNotSchedule', { app: 'x' }).obj();
    const r = run(pod, nodes, pods);
    assert.deepEqual(victims(r), { 'n-a': ['low'] });
  });
});

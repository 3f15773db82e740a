// explain-pending and what-if on the Pods tutorial's cluster: worker1 with 3Gi allocatable memory,
// worker2 with 2.5Gi; a pod of three 1Gi containers fits only worker1, a 4Gi pod nowhere.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { ClusterView, explainPending, podsOf, whatIf } from './explain.js';
import { findNode } from './algorithm.js';
import { makeNode, makePod } from './testing.js';

const workers = (): Node[] => [
  makeNode('worker1').capacity({ cpu: '4', memory: '3Gi', pods: '110' }).label('kubernetes.io/hostname', 'worker1').obj(),
  makeNode('worker2').capacity({ cpu: '4', memory: '2560Mi', pods: '110' }).label('kubernetes.io/hostname', 'worker2').obj(),
];
const rsyslog = (): Pod => makePod('rsyslog').container({ memory: '1Gi' }).container({ memory: '1Gi' }).container({ memory: '1Gi' }).obj();
const big = (): Pod => makePod('big').container({ memory: '4Gi' }).obj();

describe('explainPending and whatIf: the Pods tutorial', () => {
  it('three 1Gi containers are placed as one unit, on worker1 only', () => {
    const view = new ClusterView(workers(), []);
    const r = findNode(rsyslog(), view);
    assert.equal(r.node, 'worker1');
    assert.equal(r.feasible, 1);
    const out = explainPending(rsyslog(), view);
    assert.match(out, /^Pod default\/rsyslog: Pending$/m);
    assert.match(out, /^Requests \(all containers together\): memory 3Gi$/m);
    assert.match(out, /^ {2}worker1: fits \(score \d+\)$/m);
    assert.match(out, /^ {2}worker2: Insufficient memory: requests 3Gi, free 2\.5Gi \(allocatable 2\.5Gi, already requested 0\)$/m);
    assert.match(out, /^Would be placed on: worker1$/m);
  });

  it('what-if reports the placement', () => {
    assert.match(whatIf([rsyslog()], new ClusterView(workers(), [])), /^default\/rsyslog\s+worker1\s+fits on 1 of 2 node\(s\)$/m);
  });

  it('a 4Gi pod fits nowhere: both nodes named with how much is free, and the upstream summary', () => {
    const out = explainPending(big(), new ClusterView(workers(), []));
    assert.match(out, /^ {2}worker1: Insufficient memory: requests 4Gi, free 3Gi \(allocatable 3Gi, already requested 0\)$/m);
    assert.match(out, /^ {2}worker2: Insufficient memory: requests 4Gi, free 2\.5Gi \(allocatable 2\.5Gi, already requested 0\)$/m);
    assert.ok(out.includes('Scheduler says: 0/2 nodes are available: 2 Insufficient memory. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.\n'), out);
    assert.doesNotMatch(out, /Would be placed/);
  });

  it('with rsyslog running on worker1, worker1 has nothing left', () => {
    const placed = { ...rsyslog(), spec: { ...rsyslog().spec!, nodeName: 'worker1' } };
    const out = explainPending(big(), new ClusterView(workers(), [placed]));
    assert.match(out, /^ {2}worker1: Insufficient memory: requests 4Gi, free 0 \(allocatable 3Gi, already requested 3Gi\)$/m);
    assert.match(out, /^ {2}worker2: Insufficient memory: requests 4Gi, free 2\.5Gi/m);
  });

  it('lists every failing filter per node, but summarizes as the scheduler does (first failure per node)', () => {
    const nodes = [makeNode('tainted').capacity({ cpu: '1', memory: '1Gi', pods: '110' }).taint('dedicated', 'gpu', 'NoSchedule').obj()];
    const out = explainPending(big(), new ClusterView(nodes, []));
    assert.match(out, /^ {2}tainted: tainted has taint dedicated=gpu:NoSchedule, not tolerated$/m);
    assert.match(out, /^ {2}tainted: Insufficient memory: requests 4Gi/m);
    assert.ok(out.includes('Scheduler says: 0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.\n'), out);
  });

  it('names a preemption that would make room', () => {
    const low = makePod('low').container({ memory: '3Gi' }).node('worker1').obj();
    const out = explainPending(makePod('vip').container({ memory: '3Gi' }).priority(1000).obj(), new ClusterView(workers(), [low]));
    assert.ok(out.includes('Scheduler says: 0/2 nodes are available: 2 Insufficient memory.\n'), out);
    assert.match(out, /^Preemption could make room on worker1 by evicting default\/low$/m);
  });

  it('says when there are no nodes', () => {
    const out = explainPending(big(), new ClusterView([], []));
    assert.match(out, /^ {2}\(no nodes registered\)$/m);
    assert.match(out, /^Scheduler says: no nodes available to schedule pods$/m);
  });

  it('finished pods hold no resources', () => {
    const done = { ...makePod('done').container({ memory: '3Gi' }).node('worker1').obj(), status: { phase: 'Succeeded' } };
    assert.equal(findNode(rsyslog(), new ClusterView(workers(), [done])).node, 'worker1');
  });
});

describe('podsOf', () => {
  it('a Pod as it is, in the given namespace', () => {
    const pods = podsOf({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [] } }, 'team');
    assert.deepEqual(pods.map((p) => `${p.metadata!.namespace}/${p.metadata!.name}`), ['team/p']);
  });
  it("a Deployment's template times its replicas, owned by a controller", () => {
    const d = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'prod' }, spec: { replicas: 3, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } } };
    const pods = podsOf(d, 'default');
    assert.deepEqual(pods.map((p) => `${p.metadata!.namespace}/${p.metadata!.name}`), ['prod/web-1', 'prod/web-2', 'prod/web-3']);
    assert.ok(pods.every((p) => p.metadata!.labels!['app'] === 'web' && p.metadata!.ownerReferences![0]!.controller));
  });
  it('other kinds create no pods', () => assert.deepEqual(podsOf({ kind: 'Service', metadata: { name: 's' } }, 'default'), []));
});

describe('whatIf', () => {
  it('places pods one after another, spreading a deployment and reporting what does not fit', () => {
    const nodes = [
      makeNode('a').capacity({ cpu: '4', memory: '2Gi', pods: '110' }).label('kubernetes.io/hostname', 'a').obj(),
      makeNode('b').capacity({ cpu: '4', memory: '2Gi', pods: '110' }).label('kubernetes.io/hostname', 'b').obj(),
    ];
    const d = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 3, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx', resources: { requests: { memory: '1536Mi' } } }] } } } };
    const out = whatIf(podsOf(d, 'default'), new ClusterView(nodes, []));
    const rows = out.trim().split('\n').slice(1).map((l) => l.split(/\s{3,}/));
    assert.deepEqual(rows.slice(0, 2).map((r) => r[1]).sort(), ['a', 'b'], 'one replica per node');
    assert.deepEqual(rows[2], ['default/web-3', '<pending>', '0/2 nodes are available: 2 Insufficient memory.']);
  });
});

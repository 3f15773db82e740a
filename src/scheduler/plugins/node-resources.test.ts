// Upstream's fit_test.go, least_allocated_test.go and balanced_allocation_test.go, table-driven.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { cluster, makeNode, makePod, runFilter, runScore } from '../testing.js';
import { balancedAllocation, nodeResourcesFit } from './node-resources.js';

describe('NodeResourcesFit filter', () => {
  // A node with 10 cpu, 20Mi memory, 32 pods and 5 example.com/foo; `used` pods occupy part of it.
  const node = (): Node => makeNode('n').capacity({ cpu: '10', memory: '20Mi', pods: '32', 'example.com/foo': '5', 'ephemeral-storage': '20Gi' }).obj();
  const used = (cpu: string, memory: string): Pod => makePod(`used-${cpu}-${memory}`).container({ cpu, memory }).node('n').obj();
  const cases: { name: string; pod: Pod; existing?: Pod[]; node?: Node; reasons: string[] }[] = [
    { name: 'no resources requested always fits', pod: makePod('p').obj(), existing: [used('10', '20Mi')], reasons: [] },
    { name: 'fits with room to spare', pod: makePod('p').container({ cpu: '1', memory: '1Mi' }).obj(), existing: [used('5', '5Mi')], reasons: [] },
    { name: 'fits exactly', pod: makePod('p').container({ cpu: '5', memory: '15Mi' }).obj(), existing: [used('5', '5Mi')], reasons: [] },
    { name: 'too much cpu', pod: makePod('p').container({ cpu: '1', memory: '1Mi' }).obj(), existing: [used('10', '5Mi')], reasons: ['Insufficient cpu'] },
    { name: 'too much of both, cpu first whatever the container lists first', pod: makePod('p').container({ memory: '16Mi', cpu: '6' }).obj(), existing: [used('5', '5Mi')], reasons: ['Insufficient cpu', 'Insufficient memory'] },
    { name: 'containers add up', pod: makePod('p').container({ cpu: '3', memory: '1Mi' }).container({ cpu: '3', memory: '1Mi' }).obj(), existing: [used('5', '5Mi')], reasons: ['Insufficient cpu'] },
    { name: 'an init container larger than the containers counts', pod: makePod('p').container({ cpu: '1', memory: '1Mi' }).initContainer({ cpu: '6', memory: '1Mi' }).obj(), existing: [used('5', '5Mi')], reasons: ['Insufficient cpu'] },
    { name: 'an init container smaller than the containers does not', pod: makePod('p').container({ cpu: '4', memory: '1Mi' }).initContainer({ cpu: '3', memory: '1Mi' }).obj(), existing: [used('5', '5Mi')], reasons: [] },
    { name: 'a sidecar adds to the containers', pod: makePod('p').container({ cpu: '4', memory: '1Mi' }).initContainer({ cpu: '2' }, { sidecar: true }).obj(), existing: [used('5', '5Mi')], reasons: ['Insufficient cpu'] },
    { name: 'overhead adds to the requests', pod: makePod('p').container({ cpu: '4', memory: '1Mi' }).overhead({ cpu: '2' }).obj(), existing: [used('5', '5Mi')], reasons: ['Insufficient cpu'] },
    { name: 'limits without requests count as requests', pod: makePod('p').container(undefined, { memory: '16Mi' }).obj(), existing: [used('5', '5Mi')], reasons: ['Insufficient memory'] },
    { name: 'extended resource fits', pod: makePod('p').container({ 'example.com/foo': '5' }).obj(), reasons: [] },
    { name: 'extended resource short', pod: makePod('p').container({ 'example.com/foo': '6' }).obj(), reasons: ['Insufficient example.com/foo'] },
    { name: 'extended resource the node lacks', pod: makePod('p').container({ 'example.com/bar': '1' }).obj(), reasons: ['Insufficient example.com/bar'] },
    { name: 'ephemeral storage', pod: makePod('p').container({ 'ephemeral-storage': '25Gi' }).obj(), reasons: ['Insufficient ephemeral-storage'] },
    { name: 'hugepages are checked', pod: makePod('p').container({ 'hugepages-2Mi': '2Mi' }).obj(), reasons: ['Insufficient hugepages-2Mi'] },
    { name: 'a resource that is neither standard nor extended is ignored', pod: makePod('p').container({ foo: '5' }).obj(), reasons: [] },
    {
      name: 'too many pods', pod: makePod('p').obj(), node: makeNode('n').capacity({ cpu: '10', memory: '20Mi', pods: '1' }).obj(),
      existing: [makePod('e').node('n').obj()], reasons: ['Too many pods'],
    },
    {
      name: 'too many pods comes first', pod: makePod('p').container({ cpu: '20' }).obj(), node: makeNode('n').capacity({ cpu: '10', memory: '20Mi', pods: '1' }).obj(),
      existing: [makePod('e').node('n').obj()], reasons: ['Too many pods', 'Insufficient cpu'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = runFilter(nodeResourcesFit, c.pod, cluster([c.node ?? node()], c.existing ?? [])).get('n')!;
      assert.deepEqual(s.reasons, c.reasons);
      // Upstream: never UnschedulableAndUnresolvable, so preemption may help.
      assert.equal(s.code, c.reasons.length === 0 ? 'Success' : 'Unschedulable');
    });
  }

  it('says by how much in the detail', () => {
    const s = runFilter(nodeResourcesFit, makePod('p').container({ memory: '4Gi' }).obj(), cluster([makeNode('n').capacity({ memory: '2560Mi' }).obj()])).get('n')!;
    assert.deepEqual(s.detail, ['Insufficient memory: requests 4Gi, free 2.5Gi (allocatable 2.5Gi, already requested 0)']);
  });
});

// Sizes in bytes as upstream's tests write them ("10000" memory).
const sized = (name: string, cpu: string, memory: string): Node => makeNode(name).capacity({ cpu, memory }).obj();

describe('NodeResourcesFit score (LeastAllocated)', () => {
  const cases: { name: string; pod: Pod; nodes: Node[]; existing?: Pod[]; want: number[] }[] = [
    {
      // cpu (4000-3000)/4000 = 25, memory (10000-5000)/10000 = 50 → 37; second node 50 and 50.
      name: 'nothing scheduled, resources requested, differently sized nodes',
      pod: makePod('p').container({ cpu: '1000m', memory: '2000' }).container({ cpu: '2000m', memory: '3000' }).obj(),
      nodes: [sized('n1', '4000m', '10000'), sized('n2', '6000m', '10000')], want: [37, 50],
    },
    {
      name: 'nothing requested: counted as 100m and 200Mi',
      pod: makePod('p').obj(),
      nodes: [sized('n1', '1000m', '400Mi'), sized('n2', '2000m', '800Mi')], want: [70, 85],
    },
    {
      name: 'existing pods count, with the same defaults',
      pod: makePod('p').container({ cpu: '1000m', memory: '1Gi' }).obj(),
      nodes: [sized('n1', '4000m', '4Gi'), sized('n2', '4000m', '4Gi')],
      existing: [makePod('e1').container({ cpu: '2000m', memory: '2Gi' }).node('n1').obj(), makePod('e2').node('n2').obj()],
      // n1: cpu 25, mem 25 → 25; n2: cpu (4000-1100)/4000 = 72, mem (4096-1224)/4096 = 70 → 71
      want: [25, 71],
    },
    {
      name: 'requests above allocatable score 0 for that resource',
      pod: makePod('p').container({ cpu: '5000m', memory: '1000' }).obj(),
      nodes: [sized('n1', '4000m', '10000')], want: [45],
    },
    {
      name: 'a resource the node has none of is left out',
      pod: makePod('p').container({ cpu: '1000m', memory: '1Gi' }).obj(),
      nodes: [makeNode('n1').capacity({ cpu: '4000m' }).obj()], want: [75],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = runScore(nodeResourcesFit, c.pod, cluster(c.nodes, c.existing ?? []));
      assert.deepEqual([...r.normalized.values()], c.want);
    });
  }
});

describe('NodeResourcesBalancedAllocation score', () => {
  const cases: { name: string; pod: Pod; nodes: Node[]; existing?: Pod[]; want: number[] }[] = [
    {
      // n1: cpu 3000/4000 = 0.75, memory 5000/10000 = 0.5 → std 0.125 → 87; n2: 0.5 and 0.5 → 100
      name: 'nothing scheduled, resources requested, differently sized nodes (upstream)',
      pod: makePod('p').container({ cpu: '1000m', memory: '2000' }).container({ cpu: '2000m', memory: '3000' }).obj(),
      nodes: [sized('n1', '4000m', '10000'), sized('n2', '6000m', '10000')], want: [87, 100],
    },
    {
      name: 'a pod requesting neither cpu nor memory is not scored',
      pod: makePod('p').obj(), nodes: [sized('n1', '4000m', '10000'), sized('n2', '1000m', '10')], want: [0, 0],
    },
    {
      // Real requests, not the 100m/200Mi defaults: the best-effort pod adds nothing, 0.5 and 0.5.
      name: 'existing pods count with their real requests',
      pod: makePod('p').container({ cpu: '500m', memory: '512Mi' }).obj(),
      nodes: [sized('n1', '1000m', '1Gi')], existing: [makePod('be').node('n1').obj()], want: [100],
    },
    {
      name: 'fractions are capped at 1',
      pod: makePod('p').container({ cpu: '8000m', memory: '5000' }).obj(),
      nodes: [sized('n1', '4000m', '10000')], want: [75],
    },
    {
      name: 'a resource the node has none of is left out',
      pod: makePod('p').container({ cpu: '1000m', memory: '1Gi' }).obj(),
      nodes: [makeNode('n1').capacity({ cpu: '4000m' }).obj()], want: [100],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = runScore(balancedAllocation, c.pod, cluster(c.nodes, c.existing ?? []));
      assert.deepEqual([...r.normalized.values()], c.want);
    });
  }
});

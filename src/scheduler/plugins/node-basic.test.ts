// Table-driven tests for the simple filters: NodeUnschedulable, NodeName, NodePorts (upstream's
// node_unschedulable_test.go, node_name_test.go, node_ports_test.go).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { cluster, makeNode, makePod, runFilter } from '../testing.js';
import { nodeUnschedulable } from './node-unschedulable.js';
import { nodeName } from './node-name.js';
import { nodePorts } from './node-ports.js';
import type { Code } from '../framework.js';

interface Case { name: string; pod: Pod; node: Node; existing?: Pod[]; code: Code; reasons?: string[] }

function check(plugin: Parameters<typeof runFilter>[0], c: Case): void {
  const got = runFilter(plugin, c.pod, cluster([c.node], c.existing ?? [])).get(c.node.metadata!.name!)!;
  assert.equal(got.code, c.code, c.name);
  assert.deepEqual(got.reasons, c.reasons ?? [], c.name);
}

describe('NodeUnschedulable filter', () => {
  const cases: Case[] = [
    { name: 'schedulable node', pod: makePod('p').obj(), node: makeNode('n').obj(), code: 'Success' },
    { name: 'cordoned node, no toleration', pod: makePod('p').obj(), node: makeNode('n').unschedulable().obj(), code: 'UnschedulableAndUnresolvable', reasons: ['node(s) were unschedulable'] },
    { name: 'cordoned node, tolerates the unschedulable taint', pod: makePod('p').toleration({ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }).obj(), node: makeNode('n').unschedulable().obj(), code: 'Success' },
    { name: 'cordoned node, tolerates everything (empty key, Exists)', pod: makePod('p').toleration({ operator: 'Exists' }).obj(), node: makeNode('n').unschedulable().obj(), code: 'Success' },
    { name: 'cordoned node, toleration with another effect', pod: makePod('p').toleration({ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoExecute' }).obj(), node: makeNode('n').unschedulable().obj(), code: 'UnschedulableAndUnresolvable', reasons: ['node(s) were unschedulable'] },
  ];
  for (const c of cases) it(c.name, () => check(nodeUnschedulable, c));
});

describe('NodeName filter', () => {
  const cases: Case[] = [
    { name: 'no node name', pod: makePod('p').obj(), node: makeNode('foo').obj(), code: 'Success' },
    { name: 'names this node', pod: makePod('p').node('foo').obj(), node: makeNode('foo').obj(), code: 'Success' },
    { name: 'names another node', pod: makePod('p').node('bar').obj(), node: makeNode('foo').obj(), code: 'UnschedulableAndUnresolvable', reasons: ["node(s) didn't match the requested node name"] },
  ];
  for (const c of cases) it(c.name, () => check(nodeName, c));
});

describe('NodePorts filter', () => {
  const conflict = ["node(s) didn't have free ports for the requested pod ports"];
  const on = (p: ReturnType<typeof makePod>): Pod => p.node('n').obj();
  const cases: Case[] = [
    { name: 'no host ports', pod: makePod('p').obj(), node: makeNode('n').obj(), existing: [on(makePod('e').hostPort(8080))], code: 'Success' },
    { name: 'other port free', pod: makePod('p').hostPort(8080).obj(), node: makeNode('n').obj(), existing: [on(makePod('e').hostPort(9090))], code: 'Success' },
    { name: 'same port, same protocol', pod: makePod('p').hostPort(8080).obj(), node: makeNode('n').obj(), existing: [on(makePod('e').hostPort(8080))], code: 'Unschedulable', reasons: conflict },
    { name: 'same port, other protocol', pod: makePod('p').hostPort(8080, 'UDP').obj(), node: makeNode('n').obj(), existing: [on(makePod('e').hostPort(8080, 'TCP'))], code: 'Success' },
    { name: 'protocol defaults to TCP', pod: makePod('p').hostPort(8080, 'TCP').obj(), node: makeNode('n').obj(), existing: [on(makePod('e').hostPort(8080))], code: 'Unschedulable', reasons: conflict },
    { name: 'different host IPs do not conflict', pod: makePod('p').hostPort(8080, 'TCP', '127.0.0.1').obj(), node: makeNode('n').obj(), existing: [on(makePod('e').hostPort(8080, 'TCP', '127.0.0.2'))], code: 'Success' },
    { name: 'wanted 0.0.0.0 conflicts with any IP', pod: makePod('p').hostPort(8080).obj(), node: makeNode('n').obj(), existing: [on(makePod('e').hostPort(8080, 'TCP', '127.0.0.1'))], code: 'Unschedulable', reasons: conflict },
    { name: 'used on 0.0.0.0 conflicts with a specific IP', pod: makePod('p').hostPort(8080, 'TCP', '127.0.0.1').obj(), node: makeNode('n').obj(), existing: [on(makePod('e').hostPort(8080))], code: 'Unschedulable', reasons: conflict },
  ];
  for (const c of cases) it(c.name, () => check(nodePorts, c));
});

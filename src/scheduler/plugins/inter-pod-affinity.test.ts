// Upstream's interpodaffinity filtering_test.go and scoring_test.go, table-driven: required affinity and
// anti-affinity of the incoming pod, existing pods' anti-affinity against it, the first pod of a
// self-affine group, and the preferred terms of both sides as a score.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { cluster, makeNode, makePod, runFilter, runScore } from '../testing.js';
import { newPodInfo } from '../node-info.js';
import { interPodAffinity } from './inter-pod-affinity.js';

const affinityReason = "node(s) didn't match pod affinity rules";
const antiReason = "node(s) didn't match pod anti-affinity rules";
const existingReason = "node(s) didn't satisfy existing pods anti-affinity rules";
const zone = 'topology.kubernetes.io/zone';
const host = 'kubernetes.io/hostname';

// n1 and n2 in zone z1, n3 in z2, n4 without a zone label.
const nodes: Node[] = [
  makeNode('n1').label(zone, 'z1').label(host, 'n1').obj(),
  makeNode('n2').label(zone, 'z1').label(host, 'n2').obj(),
  makeNode('n3').label(zone, 'z2').label(host, 'n3').obj(),
  makeNode('n4').label(host, 'n4').obj(),
];
const on = (node: string, name: string, labels: Record<string, string>, ns = 'default'): Pod => {
  const b = makePod(name, ns).node(node);
  for (const [k, v] of Object.entries(labels)) b.label(k, v);
  return b.obj();
};

type Want = Record<string, 'ok' | 'affinity' | 'anti' | 'existing'>;

describe('InterPodAffinity filter', () => {
  const cases: { name: string; pod: Pod; existing: Pod[]; want: Want }[] = [
    {
      name: 'no affinity: everything fits',
      pod: makePod('p').obj(), existing: [on('n1', 'db', { app: 'db' })],
      want: { n1: 'ok', n2: 'ok', n3: 'ok', n4: 'ok' },
    },
    {
      name: 'affinity to a zone holding a matching pod',
      pod: makePod('p').podAffinity(zone, { app: 'db' }).obj(), existing: [on('n1', 'db', { app: 'db' })],
      want: { n1: 'ok', n2: 'ok', n3: 'affinity', n4: 'affinity' },
    },
    {
      name: 'no matching pod anywhere and the pod does not match itself',
      pod: makePod('p').podAffinity(zone, { app: 'db' }).obj(), existing: [on('n1', 'web', { app: 'web' })],
      want: { n1: 'affinity', n2: 'affinity', n3: 'affinity', n4: 'affinity' },
    },
    {
      name: 'the first pod of a self-affine group goes to any node with the topology label',
      pod: makePod('p').label('app', 'web').podAffinity(zone, { app: 'web' }).obj(), existing: [on('n1', 'db', { app: 'db' })],
      want: { n1: 'ok', n2: 'ok', n3: 'ok', n4: 'affinity' },
    },
    {
      name: 'once a matching pod exists, the self-affine pod must join it',
      pod: makePod('p').label('app', 'web').podAffinity(zone, { app: 'web' }).obj(), existing: [on('n3', 'web', { app: 'web' })],
      want: { n1: 'affinity', n2: 'affinity', n3: 'ok', n4: 'affinity' },
    },
    {
      // Upstream counts only matching pods on nodes with the topology label: none here, so the
      // self-affine rule still applies.
      name: 'a matching pod on a node without the topology label does not count',
      pod: makePod('p').label('app', 'web').podAffinity(zone, { app: 'web' }).obj(), existing: [on('n4', 'web', { app: 'web' })],
      want: { n1: 'ok', n2: 'ok', n3: 'ok', n4: 'affinity' },
    },
    {
      name: 'with several terms one pod must match them all',
      pod: makePod('p').podAffinity(zone, { app: 'db' }).podAffinity(host, { tier: 'cache' }).obj(),
      existing: [on('n1', 'db', { app: 'db' }), on('n1', 'cache', { tier: 'cache' })],
      want: { n1: 'affinity', n2: 'affinity', n3: 'affinity', n4: 'affinity' },
    },
    {
      name: 'a pod matching all terms satisfies every domain it is in',
      pod: makePod('p').podAffinity(zone, { app: 'db' }).podAffinity(host, { tier: 'cache' }).obj(),
      existing: [on('n1', 'both', { app: 'db', tier: 'cache' })],
      want: { n1: 'ok', n2: 'affinity', n3: 'affinity', n4: 'affinity' },
    },
    {
      name: 'affinity terms look in the pod\'s namespace by default',
      pod: makePod('p').podAffinity(zone, { app: 'db' }).obj(), existing: [on('n1', 'db', { app: 'db' }, 'other')],
      want: { n1: 'affinity', n2: 'affinity', n3: 'affinity', n4: 'affinity' },
    },
    {
      name: 'or in the namespaces they list',
      pod: makePod('p').podAffinity(zone, { app: 'db' }, { namespaces: ['other'] }).obj(), existing: [on('n1', 'db', { app: 'db' }, 'other')],
      want: { n1: 'ok', n2: 'ok', n3: 'affinity', n4: 'affinity' },
    },
    {
      name: 'anti-affinity keeps the pod out of the zone of a matching pod',
      pod: makePod('p').podAntiAffinity(zone, { app: 'web' }).obj(), existing: [on('n1', 'web', { app: 'web' })],
      want: { n1: 'anti', n2: 'anti', n3: 'ok', n4: 'ok' },
    },
    {
      name: 'anti-affinity by hostname keeps it off that node only',
      pod: makePod('p').podAntiAffinity(host, { app: 'web' }).obj(), existing: [on('n1', 'web', { app: 'web' })],
      want: { n1: 'anti', n2: 'ok', n3: 'ok', n4: 'ok' },
    },
    {
      name: "an existing pod's anti-affinity keeps the pod away",
      pod: makePod('p').label('app', 'web').obj(),
      existing: [makePod('guard').node('n1').podAntiAffinity(zone, { app: 'web' }).obj()],
      want: { n1: 'existing', n2: 'existing', n3: 'ok', n4: 'ok' },
    },
    {
      name: "an existing pod's anti-affinity looks in its own namespace",
      pod: makePod('p').label('app', 'web').obj(),
      existing: [makePod('guard', 'other').node('n1').podAntiAffinity(zone, { app: 'web' }).obj()],
      want: { n1: 'ok', n2: 'ok', n3: 'ok', n4: 'ok' },
    },
    {
      name: 'affinity is checked before anti-affinity',
      pod: makePod('p').podAffinity(zone, { app: 'db' }).podAntiAffinity(zone, { app: 'web' }).obj(),
      existing: [on('n1', 'db', { app: 'db' }), on('n3', 'web', { app: 'web' })],
      want: { n1: 'ok', n2: 'ok', n3: 'affinity', n4: 'affinity' },
    },
    {
      name: 'anti-affinity is checked before existing pods\' anti-affinity',
      pod: makePod('p').label('app', 'web').podAntiAffinity(zone, { app: 'db' }).obj(),
      existing: [makePod('db').label('app', 'db').node('n1').podAntiAffinity(zone, { app: 'web' }).obj()],
      want: { n1: 'anti', n2: 'anti', n3: 'ok', n4: 'ok' },
    },
  ];
  it('counts a pod the node holds even before its nodeName is set (an assumed pod)', () => {
    const view = cluster(nodes);
    view.nodes[0]!.addPod(newPodInfo(makePod('assumed').label('app', 'web').obj()));
    const got = runFilter(interPodAffinity, makePod('p').podAntiAffinity(host, { app: 'web' }).obj(), view);
    assert.deepEqual(got.get('n1')!.reasons, [antiReason]);
    assert.equal(got.get('n2')!.code, 'Success');
  });

  const expected = { affinity: ['UnschedulableAndUnresolvable', affinityReason], anti: ['Unschedulable', antiReason], existing: ['Unschedulable', existingReason] } as const;
  for (const c of cases) {
    it(c.name, () => {
      const got = runFilter(interPodAffinity, c.pod, cluster(nodes, c.existing));
      for (const [node, want] of Object.entries(c.want)) {
        const s = got.get(node)!;
        if (want === 'ok') assert.equal(s.code, 'Success', `${node}: ${s.reasons.join()}`);
        else assert.deepEqual([s.code, ...s.reasons], [...expected[want]], node);
      }
    });
  }
});

describe('InterPodAffinity score', () => {
  const cases: { name: string; pod: Pod; existing: Pod[]; raw: number[]; want: number[] }[] = [
    { name: 'no preferences anywhere', pod: makePod('p').obj(), existing: [on('n1', 'db', { app: 'db' })], raw: [0, 0, 0, 0], want: [0, 0, 0, 0] },
    {
      name: 'preferred affinity to the zone of a matching pod',
      pod: makePod('p').preferredPodAffinity(5, zone, { app: 'db' }).obj(), existing: [on('n1', 'db', { app: 'db' })],
      raw: [5, 5, 0, 0], want: [100, 100, 0, 0],
    },
    {
      name: 'preferred anti-affinity',
      pod: makePod('p').preferredPodAntiAffinity(5, zone, { app: 'db' }).obj(), existing: [on('n1', 'db', { app: 'db' })],
      raw: [-5, -5, 0, 0], want: [0, 0, 100, 100],
    },
    {
      name: 'terms add up per matching pod',
      pod: makePod('p').preferredPodAffinity(2, zone, { app: 'db' }).preferredPodAffinity(3, host, { app: 'db' }).obj(),
      existing: [on('n1', 'db1', { app: 'db' }), on('n3', 'db2', { app: 'db' }), on('n3', 'db3', { app: 'db' })],
      raw: [5, 2, 10, 0], want: [50, 20, 100, 0],
    },
    {
      name: "an existing pod's preferred affinity to the incoming pod counts",
      pod: makePod('p').label('app', 'web').obj(),
      existing: [makePod('cache').node('n3').preferredPodAffinity(10, zone, { app: 'web' }).obj()],
      raw: [0, 0, 10, 0], want: [0, 0, 100, 0],
    },
    {
      name: "an existing pod's preferred anti-affinity to the incoming pod counts against",
      pod: makePod('p').label('app', 'web').obj(),
      existing: [makePod('loner').node('n3').preferredPodAntiAffinity(10, zone, { app: 'web' }).obj()],
      raw: [0, 0, -10, 0], want: [100, 100, 0, 100],
    },
    {
      name: "an existing pod's required affinity counts with hardPodAffinityWeight 1",
      pod: makePod('p').label('app', 'web').preferredPodAffinity(1, zone, { app: 'db' }).obj(),
      existing: [makePod('db').label('app', 'db').node('n1').podAffinity(host, { app: 'web' }).obj()],
      raw: [2, 1, 0, 0], want: [100, 50, 0, 0],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = runScore(interPodAffinity, c.pod, cluster(nodes, c.existing));
      assert.deepEqual([...r.raw.values()], c.raw);
      assert.deepEqual([...r.normalized.values()], c.want);
    });
  }

  it('normalizes as upstream does, in floating point: 100 × (29 / 100) truncates to 28', () => {
    const s = [0, 29, 100];
    interPodAffinity.normalize!(s);
    assert.deepEqual(s, [0, 28, 100]);
  });
  it("has upstream's default weight 2", () => assert.equal(interPodAffinity.weight, 2));
});

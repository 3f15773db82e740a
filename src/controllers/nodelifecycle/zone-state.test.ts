// Zone states and the eviction rates they set (upstream's ComputeZoneState and handleDisruption).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { computeZoneState, planDisruption, zoneEvictionRate, zoneKey, type ZoneState } from './zone-state.js';
import { nodeLifecycleSettings } from './options.js';

const s = nodeLifecycleSettings();
const T = 'True';
const F = 'False';
const U = 'Unknown';

describe('computeZoneState', () => {
  const cases: { name: string; statuses: (string | undefined)[]; state: ZoneState; notReady: number }[] = [
    { name: 'all ready', statuses: [T, T, T], state: 'Normal', notReady: 0 },
    { name: 'one of three down', statuses: [T, T, U], state: 'Normal', notReady: 1 },
    { name: 'two of two down is full disruption', statuses: [U, F], state: 'FullDisruption', notReady: 2 },
    { name: 'a node without Ready counts as not ready', statuses: [undefined], state: 'FullDisruption', notReady: 1 },
    { name: 'three of four down (75% ≥ 55%) is partial', statuses: [U, U, F, T], state: 'PartialDisruption', notReady: 3 },
    { name: 'two of three down: not more than two, so normal', statuses: [U, U, T], state: 'Normal', notReady: 2 },
    { name: 'three of six down (50% < 55%) is normal', statuses: [U, U, U, T, T, T], state: 'Normal', notReady: 3 },
    { name: 'no nodes is normal', statuses: [], state: 'Normal', notReady: 0 },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(computeZoneState(c.statuses, 0.55), { notReady: c.notReady, state: c.state }));
});

describe('zoneEvictionRate', () => {
  it('normal and full disruption evict at --node-eviction-rate', () => {
    assert.equal(zoneEvictionRate('Normal', 10, s), 0.1);
    assert.equal(zoneEvictionRate('FullDisruption', 10, s), 0.1);
  });
  it('partial disruption: a small zone stops, a large one slows to the secondary rate', () => {
    assert.equal(zoneEvictionRate('PartialDisruption', 50, s), 0);
    assert.equal(zoneEvictionRate('PartialDisruption', 51, s), 0.01);
  });
});

describe('planDisruption', () => {
  const zones = (o: Record<string, (string | undefined)[]>): Map<string, (string | undefined)[]> => new Map(Object.entries(o));

  it('new zones start Initial and get their rate', () => {
    const p = planDisruption(new Map(), zones({ a: [T, T], b: [T] }), s);
    assert.deepEqual([...p.states], [['a', 'Normal'], ['b', 'Normal']]);
    assert.deepEqual([...p.rates], [['a', 0.1], ['b', 0.1]]);
    assert.equal(p.enterMasterDisruption, false);
  });

  it('every node of every zone down: evictions stop everywhere and taints come off', () => {
    const p = planDisruption(new Map([['a', 'Normal'], ['b', 'Normal']]), zones({ a: [U, U], b: [F] }), s);
    assert.equal(p.enterMasterDisruption, true);
    assert.deepEqual([...p.rates], [['a', 0], ['b', 0]]);
    assert.deepEqual([...p.states.values()], ['FullDisruption', 'FullDisruption']);
  });

  it('still all down: nothing changes', () => {
    const p = planDisruption(new Map([['a', 'FullDisruption']]), zones({ a: [U] }), s);
    assert.equal(p.enterMasterDisruption, false);
    assert.equal(p.exitMasterDisruption, false);
    assert.equal(p.rates.size, 0);
  });

  it('one zone fully down while another is fine: that zone is evicted at the normal rate', () => {
    const p = planDisruption(new Map([['a', 'Normal'], ['b', 'Normal']]), zones({ a: [U, U], b: [T] }), s);
    assert.equal(p.enterMasterDisruption, false);
    assert.deepEqual([...p.rates], [['a', 0.1]]);
    assert.equal(p.states.get('a'), 'FullDisruption');
  });

  it('a node back after all were down: master disruption ends, rates follow the new states', () => {
    const p = planDisruption(new Map([['a', 'FullDisruption'], ['b', 'FullDisruption']]), zones({ a: [T, U, U, U], b: [U] }), s);
    assert.equal(p.exitMasterDisruption, true);
    assert.deepEqual([...p.rates], [['a', 0], ['b', 0.1]]);
    assert.deepEqual([...p.states], [['a', 'PartialDisruption'], ['b', 'FullDisruption']]);
  });

  it('a large zone partially down slows to the secondary rate, and back to normal', () => {
    const big = (down: number): (string | undefined)[] => Array.from({ length: 60 }, (_, i) => (i < down ? U : T));
    const p1 = planDisruption(new Map([['a', 'Normal']]), zones({ a: big(40) }), s);
    assert.deepEqual([...p1.rates], [['a', 0.01]]);
    const p2 = planDisruption(p1.states, zones({ a: big(1) }), s);
    assert.deepEqual([...p2.rates], [['a', 0.1]]);
    const p3 = planDisruption(p2.states, zones({ a: big(1) }), s);
    assert.equal(p3.rates.size, 0, 'unchanged state: no swap');
  });
});

describe('zoneKey', () => {
  it('region and zone, deprecated labels first; "" without either', () => {
    assert.equal(zoneKey({ metadata: { labels: { 'topology.kubernetes.io/zone': 'z1', 'topology.kubernetes.io/region': 'r1' } } }), 'r1:\x00:z1');
    assert.equal(zoneKey({ metadata: { labels: { 'failure-domain.beta.kubernetes.io/zone': 'old', 'topology.kubernetes.io/zone': 'new' } } }), ':\x00:old');
    assert.equal(zoneKey({ metadata: { labels: { 'kubernetes.io/hostname': 'x' } } }), '');
  });
});

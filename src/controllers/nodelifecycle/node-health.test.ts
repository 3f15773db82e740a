// Heartbeat tracking of the node lifecycle controller (upstream's tryUpdateNodeHealth), on explicit times.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Node } from 'kubernetes-types/core/v1.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import { checkNodeHealth, type NodeHealth } from './node-health.js';
import { rfc3339, rfc3339Micro } from '../../util/time.js';

const grace = 40_000;
const startup = 60_000;
const t0 = Date.parse('2026-01-01T00:00:00Z');

function node(ready: 'True' | 'False' | undefined, heartbeat = t0): Node {
  const c = (type: string, status: string): Record<string, string> => ({ type, status, reason: 'KubeletReady', message: 'ok', lastHeartbeatTime: rfc3339(heartbeat), lastTransitionTime: rfc3339(t0) });
  return {
    metadata: { name: 'n1', creationTimestamp: rfc3339(t0) },
    status: { conditions: ready ? [c('MemoryPressure', 'False'), c('DiskPressure', 'False'), c('PIDPressure', 'False'), c('Ready', ready)] as never : [] },
  };
}
const lease = (renew: number): Lease => ({ metadata: { name: 'n1', namespace: 'kube-node-lease' }, spec: { renewTime: rfc3339Micro(renew) } });

describe('checkNodeHealth', () => {
  it('a node first seen is assumed alive now, and stays so within the grace period', () => {
    const a = checkNodeHealth(node('True'), undefined, undefined, t0 + 5_000, grace, startup);
    assert.equal(a.health.probeTimestamp, t0 + 5_000);
    assert.equal(a.deadline, t0 + 45_000);
    const b = checkNodeHealth(node('True'), undefined, a.health, t0 + 45_000, grace, startup);
    assert.equal(b.conditions, undefined);
    assert.equal(b.current?.status, 'True');
  });

  it('silent past the grace period: Ready and the pressure conditions go Unknown, with upstream\'s words', () => {
    const a = checkNodeHealth(node('True'), undefined, undefined, t0, grace, startup);
    const b = checkNodeHealth(node('True'), undefined, a.health, t0 + 40_001, grace, startup);
    assert.ok(b.conditions);
    for (const c of b.conditions) {
      assert.equal(c.status, 'Unknown', c.type);
      assert.equal(c.reason, 'NodeStatusUnknown');
      assert.equal(c.message, 'Kubelet stopped posting node status.');
      assert.equal(c.lastTransitionTime, rfc3339(t0 + 40_001));
      assert.equal(c.lastHeartbeatTime, rfc3339(t0), 'the last heartbeat stays what the kubelet said');
    }
    assert.equal(b.observed.status, 'True');
    assert.equal(b.current?.status, 'Unknown');
  });

  it('lease renewals keep a node alive although its status is old', () => {
    let h: NodeHealth | undefined;
    for (let t = 0; t <= 120_000; t += 10_000) {
      const r = checkNodeHealth(node('True'), lease(t0 + t), h, t0 + t, grace, startup);
      assert.equal(r.conditions, undefined, `at ${t} ms`);
      h = r.health;
    }
    const late = checkNodeHealth(node('True'), lease(t0 + 120_000), h, t0 + 160_001, grace, startup);
    assert.ok(late.conditions, 'no renewal for 40 s: lost');
  });

  it('a renewal counts from when it was delivered, not from the pass that looks at it', () => {
    const a = checkNodeHealth(node('True'), lease(t0), undefined, t0, grace, startup, { lease: t0 });
    // Renewed (and delivered) 1 s later; the next pass runs 4 s after that.
    const b = checkNodeHealth(node('True'), lease(t0 + 1_000), a.health, t0 + 5_000, grace, startup, { lease: t0 + 1_000 });
    assert.equal(b.health.probeTimestamp, t0 + 1_000);
    assert.equal(b.deadline, t0 + 41_000);
    const c = checkNodeHealth(node('True'), lease(t0 + 1_000), b.health, t0 + 41_001, grace, startup, { lease: t0 + 1_000 });
    assert.ok(c.conditions, 'lost 40 s after the last renewal arrived');
    const never = checkNodeHealth(node('True'), lease(t0 + 2_000), a.health, t0 + 5_000, grace, startup, { lease: t0 + 9_000 });
    assert.equal(never.health.probeTimestamp, t0 + 5_000, 'an observation time in the future is clamped to now');
  });

  it('a new Ready heartbeat counts as a sign of life', () => {
    const a = checkNodeHealth(node('True', t0), undefined, undefined, t0, grace, startup);
    const b = checkNodeHealth(node('True', t0 + 30_000), undefined, a.health, t0 + 30_000, grace, startup);
    assert.equal(b.health.probeTimestamp, t0 + 30_000);
    const c = checkNodeHealth(node('True', t0 + 30_000), undefined, b.health, t0 + 60_000, grace, startup);
    assert.equal(c.conditions, undefined);
  });

  it('already Unknown: nothing more to write', () => {
    const a = checkNodeHealth(node('True'), undefined, undefined, t0, grace, startup);
    const b = checkNodeHealth(node('True'), undefined, a.health, t0 + 50_000, grace, startup);
    const written: Node = { ...node('True'), status: { conditions: b.conditions } };
    const c = checkNodeHealth(written, undefined, b.health, t0 + 60_000, grace, startup);
    assert.equal(c.conditions, undefined);
    assert.equal(c.current?.status, 'Unknown');
  });

  it('a node that never reported gets the startup grace, then NodeStatusNeverUpdated conditions', () => {
    const a = checkNodeHealth(node(undefined), undefined, undefined, t0 + 50_000, grace, startup);
    assert.equal(a.conditions, undefined, 'within 60 s of creation');
    assert.equal(a.current, undefined);
    const b = checkNodeHealth(node(undefined), undefined, a.health, t0 + 60_001, grace, startup);
    assert.ok(b.conditions);
    assert.deepEqual(b.conditions.map((c) => [c.type, c.status, c.reason, c.message]), [
      ['Ready', 'Unknown', 'NodeStatusNeverUpdated', 'Kubelet never posted node status.'],
      ['MemoryPressure', 'Unknown', 'NodeStatusNeverUpdated', 'Kubelet never posted node status.'],
      ['DiskPressure', 'Unknown', 'NodeStatusNeverUpdated', 'Kubelet never posted node status.'],
      ['PIDPressure', 'Unknown', 'NodeStatusNeverUpdated', 'Kubelet never posted node status.'],
    ]);
  });

  it('a node reporting Ready=False is alive (heartbeating), not Unknown', () => {
    const a = checkNodeHealth(node('False'), lease(t0), undefined, t0, grace, startup);
    const b = checkNodeHealth(node('False'), lease(t0 + 30_000), a.health, t0 + 50_000, grace, startup);
    assert.equal(b.conditions, undefined);
    assert.equal(b.current?.status, 'False');
  });
});

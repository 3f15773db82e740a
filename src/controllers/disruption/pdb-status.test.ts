// The disruption controller's arithmetic (upstream's disruption_test.go cases).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import { budgetStatus, countHealthy, disruptedPods, expectedCounts, failSafeStatus, sameStatus, scaledValue } from './pdb-status.js';
import { rfc3339 } from '../../util/time.js';

const now = Date.parse('2026-01-01T00:10:00Z');
const pod = (name: string, ready: boolean, deleting = false): Pod => ({
  metadata: { name, ...(deleting ? { deletionTimestamp: rfc3339(now) } : {}) },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});

describe('expectedCounts', () => {
  it('integer minAvailable: over the matching pods', () => assert.deepEqual(expectedCounts({ minAvailable: 2 }, 3, 99), { expected: 3, desired: 2 }));
  it('percentage minAvailable: of the controllers\' scale, rounded up', () => assert.deepEqual(expectedCounts({ minAvailable: '50%' }, 2, 5), { expected: 5, desired: 3 }));
  it('maxUnavailable: scale minus the allowance', () => assert.deepEqual(expectedCounts({ maxUnavailable: 1 }, 3, 4), { expected: 4, desired: 3 }));
  it('maxUnavailable percentage rounds the allowance up', () => assert.deepEqual(expectedCounts({ maxUnavailable: '10%' }, 10, 10), { expected: 10, desired: 9 }));
  it('maxUnavailable beyond the scale: desired 0', () => assert.deepEqual(expectedCounts({ maxUnavailable: 5 }, 3, 3), { expected: 3, desired: 0 }));
  it('a non-percentage string is an error', () => assert.throws(() => scaledValue('half', 4), /not a percentage/));
});

describe('disruptedPods / countHealthy', () => {
  const recent = rfc3339(now - 30_000);
  const old = rfc3339(now - 3 * 60_000);
  it('keeps recent evictions of live pods, drops deleted, terminating and overdue ones', () => {
    const pods = [pod('a', true), pod('b', true), pod('c', true, true), pod('d', true)];
    const r = disruptedPods(pods, { a: recent, c: recent, d: old, gone: recent }, now);
    assert.deepEqual(r.map, { a: recent });
    assert.deepEqual(r.overdue, ['d']);
    assert.equal(r.recheckAt, now - 30_000 + 120_000);
  });
  it('healthy: ready, not terminating, not just evicted', () => {
    const pods = [pod('a', true), pod('b', true), pod('c', true, true), pod('d', false)];
    assert.equal(countHealthy(pods, { a: recent }, now), 1);
    assert.equal(countHealthy(pods, {}, now), 2);
  });
});

describe('budgetStatus', () => {
  const pdb: PodDisruptionBudget = { metadata: { name: 'web', generation: 2 }, spec: { minAvailable: 2 } };
  it('allows current - desired, with the condition', () => {
    const s = budgetStatus(pdb, { current: 3, desired: 2, expected: 3, disrupted: {} }, now);
    assert.equal(s.disruptionsAllowed, 1);
    assert.equal(s.observedGeneration, 2);
    assert.deepEqual(s.conditions!.map((c) => [c.type, c.status, c.reason]), [['DisruptionAllowed', 'True', 'SufficientPods']]);
  });
  it('never below 0, and 0 when no pod is expected', () => {
    assert.equal(budgetStatus(pdb, { current: 1, desired: 2, expected: 3, disrupted: {} }, now).disruptionsAllowed, 0);
    const none = budgetStatus({ ...pdb, spec: { minAvailable: 0 } }, { current: 0, desired: 0, expected: 0, disrupted: {} }, now);
    assert.equal(none.disruptionsAllowed, 0);
    assert.equal(none.conditions![0]!.reason, 'InsufficientPods');
  });
  it('the transition time moves only when the condition\'s status changes', () => {
    const first = budgetStatus(pdb, { current: 3, desired: 2, expected: 3, disrupted: {} }, now);
    const again = budgetStatus({ ...pdb, status: first }, { current: 3, desired: 2, expected: 3, disrupted: {} }, now + 60_000);
    assert.equal(again.conditions![0]!.lastTransitionTime, first.conditions![0]!.lastTransitionTime);
    assert.equal(sameStatus(first, again), true);
    const flipped = budgetStatus({ ...pdb, status: first }, { current: 2, desired: 2, expected: 3, disrupted: {} }, now + 60_000);
    assert.equal(flipped.conditions![0]!.lastTransitionTime, rfc3339(now + 60_000));
    assert.equal(sameStatus(first, flipped), false);
  });
  it('fail-safe: nothing allowed, SyncFailed with the reason', () => {
    const s = failSafeStatus({ ...pdb, status: { currentHealthy: 3, desiredHealthy: 2, expectedPods: 3, disruptionsAllowed: 1 } }, 'found no controllers for pod "x"', now);
    assert.equal(s.disruptionsAllowed, 0);
    assert.deepEqual(s.conditions!.map((c) => [c.reason, c.message]), [['SyncFailed', 'found no controllers for pod "x"']]);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Taint } from 'kubernetes-types/core/v1.js';
import { conditionTaints, noScheduleTaintChanges, notReadyTaint, swapTaints, unreachableTaint } from './node-taints.js';

const now = Date.parse('2026-01-01T00:00:05Z');

describe('swapTaints', () => {
  it('adds with timeAdded, removes by key and effect', () => {
    const before: Taint[] = [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }, { ...notReadyTaint, timeAdded: '2025-12-31T00:00:00Z' }];
    assert.deepEqual(swapTaints(before, [unreachableTaint], [notReadyTaint], now), [
      { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: '2026-01-01T00:00:05Z' },
    ]);
  });
  it('nothing to do: undefined (no write)', () => {
    assert.equal(swapTaints([{ ...unreachableTaint, timeAdded: 'x' }], [unreachableTaint], [notReadyTaint], now), undefined);
    assert.equal(swapTaints(undefined, [], [unreachableTaint], now), undefined);
  });
});

describe('conditionTaints / noScheduleTaintChanges (TaintNodesByCondition)', () => {
  const node = (ready: string, extra: Partial<Node['spec']> = {}, taints: Taint[] = []): Node => ({
    metadata: { name: 'n' }, spec: { ...extra, taints },
    status: { conditions: [{ type: 'Ready', status: ready }, { type: 'MemoryPressure', status: 'True' }, { type: 'DiskPressure', status: 'False' }] },
  });
  it('Unknown → unreachable, False → not-ready, pressure and cordon', () => {
    assert.deepEqual(conditionTaints(node('Unknown', { unschedulable: true })).map((t) => `${t.key}:${t.effect}`), [
      'node.kubernetes.io/unreachable:NoSchedule', 'node.kubernetes.io/memory-pressure:NoSchedule', 'node.kubernetes.io/unschedulable:NoSchedule',
    ]);
    assert.deepEqual(conditionTaints(node('False')).map((t) => t.key), ['node.kubernetes.io/not-ready', 'node.kubernetes.io/memory-pressure']);
  });
  it('only the managed NoSchedule taints are added and removed; others and NoExecute ones are left', () => {
    const n = node('True', {}, [
      { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' },
      { key: 'dedicated', effect: 'NoSchedule' },
    ]);
    const ch = noScheduleTaintChanges(n);
    assert.deepEqual(ch.add, [{ key: 'node.kubernetes.io/memory-pressure', effect: 'NoSchedule' }]);
    assert.deepEqual(ch.remove, [{ key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' }]);
  });
});

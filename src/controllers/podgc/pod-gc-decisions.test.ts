import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { missingNodes, OUT_OF_SERVICE_TAINT, terminatedBeyond, terminatingOutOfService, unscheduledTerminating } from './pod-gc-decisions.js';

const pod = (name: string, o: { node?: string; phase?: string; created?: string; deleting?: boolean } = {}): Pod => ({
  metadata: { name, namespace: 'default', creationTimestamp: o.created ?? '2026-01-01T00:00:00Z', ...(o.deleting ? { deletionTimestamp: '2026-01-02T00:00:00Z' } : {}) },
  spec: { containers: [], ...(o.node ? { nodeName: o.node } : {}) },
  ...(o.phase ? { status: { phase: o.phase } } : {}),
});
const node = (name: string, ready: boolean, taints: string[] = []): Node => ({
  metadata: { name }, spec: { taints: taints.map((key) => ({ key, effect: 'NoExecute' })) },
  status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'Unknown' }] },
});
const names = (ps: Pod[]): string[] => ps.map((p) => p.metadata!.name!);

describe('pod garbage collection decisions', () => {
  it('deletes the oldest terminated pods beyond the threshold, never running ones', () => {
    const pods = [
      pod('new-done', { phase: 'Succeeded', created: '2026-01-03T00:00:00Z' }),
      pod('old-failed', { phase: 'Failed', created: '2026-01-01T00:00:00Z' }),
      pod('mid-done', { phase: 'Succeeded', created: '2026-01-02T00:00:00Z' }),
      pod('running', { phase: 'Running', created: '2025-01-01T00:00:00Z' }),
    ];
    assert.deepEqual(names(terminatedBeyond(pods, 1)), ['old-failed', 'mid-done']);
    assert.deepEqual(terminatedBeyond(pods, 3), []);
    assert.deepEqual(terminatedBeyond(pods, 0), [], '0 keeps every terminated pod');
  });

  it('finds the nodes pods are bound to that do not exist', () => {
    const pods = [pod('a', { node: 'n1' }), pod('b', { node: 'gone' }), pod('c'), pod('d', { node: 'gone' })];
    assert.deepEqual([...missingNodes(pods, (n) => n === 'n1')], ['gone']);
  });

  it('releases terminating pods never scheduled, and terminating pods on not-Ready out-of-service nodes only', () => {
    const nodes = new Map([['down', node('down', false, [OUT_OF_SERVICE_TAINT])], ['flaky', node('flaky', false)], ['up', node('up', true, [OUT_OF_SERVICE_TAINT])]]);
    const pods = [
      pod('unscheduled', { deleting: true }), pod('pending'),
      pod('on-down', { node: 'down', deleting: true }), pod('on-down-alive', { node: 'down' }),
      pod('on-flaky', { node: 'flaky', deleting: true }), pod('on-up', { node: 'up', deleting: true }),
    ];
    assert.deepEqual(names(unscheduledTerminating(pods)), ['unscheduled']);
    assert.deepEqual(names(terminatingOutOfService(pods, (n) => nodes.get(n))), ['on-down']);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerStatus, Pod, PodCondition } from 'kubernetes-types/core/v1.js';
import { podPrinter, podStatusReason } from './pod.js';

const now = Date.parse('2024-05-01T12:00:00Z');
const ago = (ms: number): string => new Date(now - ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const min = 60_000;

const running = (name: string, ready = true, restartCount = 0): ContainerStatus => ({
  name, image: 'x', imageID: '', ready, restartCount, started: true, state: { running: { startedAt: ago(10 * min) } },
});
const waiting = (name: string, reason: string, restartCount = 0): ContainerStatus => ({
  name, image: 'x', imageID: '', ready: false, restartCount, state: { waiting: { reason } },
});
const terminated = (name: string, t: { exitCode?: number; reason?: string; signal?: number }, restartCount = 0): ContainerStatus => ({
  name, image: 'x', imageID: '', ready: false, restartCount, state: { terminated: t as { exitCode: number } },
});
const cond = (type: string, status: string, reason?: string): PodCondition => ({ type, status, ...(reason ? { reason } : {}) });

function pod(p: {
  containers?: string[]; inits?: (string | { name: string; sidecar: true })[]; phase?: string; reason?: string;
  statuses?: ContainerStatus[]; initStatuses?: ContainerStatus[]; conditions?: PodCondition[]; deleting?: boolean;
}): Pod {
  return {
    metadata: { name: 'p', namespace: 'default', creationTimestamp: ago(30 * min), ...(p.deleting ? { deletionTimestamp: ago(0) } : {}) },
    spec: {
      containers: (p.containers ?? ['app']).map((name) => ({ name, image: 'x' })),
      ...(p.inits ? { initContainers: p.inits.map((i) => (typeof i === 'string' ? { name: i, image: 'x' } : { name: i.name, image: 'x', restartPolicy: 'Always' })) } : {}),
    },
    status: {
      ...(p.phase ? { phase: p.phase } : {}),
      ...(p.reason ? { reason: p.reason } : {}),
      ...(p.statuses ? { containerStatuses: p.statuses } : {}),
      ...(p.initStatuses ? { initContainerStatuses: p.initStatuses } : {}),
      ...(p.conditions ? { conditions: p.conditions } : {}),
    },
  };
}

describe('podStatusReason', () => {
  const cases: [name: string, pod: Pod, reason: string, ready: string, restarts: number][] = [
    ['pending with no statuses', pod({ phase: 'Pending' }), 'Pending', '0/1', 0],
    ['no status at all', { metadata: { name: 'p' }, spec: { containers: [{ name: 'a' }] } }, '', '0/1', 0],
    ['creating containers', pod({ phase: 'Pending', statuses: [waiting('app', 'ContainerCreating')] }), 'ContainerCreating', '0/1', 0],
    ['pulling an image that fails', pod({ phase: 'Pending', statuses: [waiting('app', 'ImagePullBackOff')] }), 'ImagePullBackOff', '0/1', 0],
    ['running and ready', pod({ phase: 'Running', statuses: [running('app')] }), 'Running', '1/1', 0],
    ['running, not ready', pod({ phase: 'Running', statuses: [running('app', false)] }), 'Running', '0/1', 0],
    ['two containers, one ready', pod({ containers: ['a', 'b'], phase: 'Running', statuses: [running('a'), running('b', false)] }), 'Running', '1/2', 0],
    ['crash looping', pod({ phase: 'Running', statuses: [waiting('app', 'CrashLoopBackOff', 5)] }), 'CrashLoopBackOff', '0/1', 5],
    ['first init container running', pod({ inits: ['i1', 'i2'], phase: 'Pending', initStatuses: [running('i1', false), waiting('i2', 'PodInitializing')], statuses: [waiting('app', 'PodInitializing')] }), 'Init:0/2', '0/1', 0],
    ['second init container running', pod({ inits: ['i1', 'i2'], phase: 'Pending', initStatuses: [terminated('i1', { exitCode: 0, reason: 'Completed' }), running('i2', false)] }), 'Init:1/2', '0/1', 0],
    ['an init container crash looping', pod({ inits: ['i1'], phase: 'Pending', initStatuses: [waiting('i1', 'CrashLoopBackOff', 3)], statuses: [waiting('app', 'PodInitializing')] }), 'Init:CrashLoopBackOff', '0/1', 3],
    ['an init container failed with a reason', pod({ inits: ['i1'], phase: 'Pending', initStatuses: [terminated('i1', { exitCode: 1, reason: 'Error' })] }), 'Init:Error', '0/1', 0],
    ['an init container failed without a reason', pod({ inits: ['i1'], phase: 'Pending', initStatuses: [terminated('i1', { exitCode: 2 })] }), 'Init:ExitCode:2', '0/1', 0],
    ['an init container killed by a signal', pod({ inits: ['i1'], phase: 'Pending', initStatuses: [terminated('i1', { exitCode: 137, signal: 9 })] }), 'Init:Signal:9', '0/1', 0],
    ['an init container terminated with no exit code (decodes as 0)', pod({ inits: ['i1', 'i2'], phase: 'Pending', initStatuses: [terminated('i1', {}), running('i2', false)] }), 'Init:1/2', '0/1', 0],
    ['succeeded', pod({ phase: 'Succeeded', statuses: [terminated('app', { exitCode: 0, reason: 'Completed' })] }), 'Completed', '0/1', 0],
    ['failed with a reason', pod({ phase: 'Failed', statuses: [terminated('app', { exitCode: 1, reason: 'Error' })] }), 'Error', '0/1', 0],
    ['failed without a reason', pod({ phase: 'Failed', statuses: [terminated('app', { exitCode: 137 })] }), 'ExitCode:137', '0/1', 0],
    ['failed by a signal', pod({ phase: 'Failed', statuses: [terminated('app', { exitCode: 0, signal: 15 })] }), 'Signal:15', '0/1', 0],
    ['terminated with no exit code and no reason', pod({ phase: 'Failed', statuses: [terminated('app', {})] }), 'ExitCode:0', '0/1', 0],
    ['OOM killed', pod({ phase: 'Running', statuses: [terminated('app', { exitCode: 137, reason: 'OOMKilled' }, 1)] }), 'OOMKilled', '0/1', 1],
    ['one container completed, another still running and the pod ready', pod({ containers: ['a', 'b'], phase: 'Running', statuses: [terminated('a', { exitCode: 0, reason: 'Completed' }), running('b')], conditions: [cond('Ready', 'True')] }), 'Running', '1/2', 0],
    ['one container completed, another still running, pod not ready', pod({ containers: ['a', 'b'], phase: 'Running', statuses: [terminated('a', { exitCode: 0, reason: 'Completed' }), running('b')], conditions: [cond('Ready', 'False')] }), 'NotReady', '1/2', 0],
    ['the first container status decides the reason', pod({ containers: ['a', 'b'], phase: 'Running', statuses: [waiting('a', 'CrashLoopBackOff', 2), waiting('b', 'ErrImagePull', 1)] }), 'CrashLoopBackOff', '0/2', 3],
    ['evicted', pod({ phase: 'Failed', reason: 'Evicted' }), 'Evicted', '0/1', 0],
    ['scheduling gated', pod({ phase: 'Pending', conditions: [cond('PodScheduled', 'False', 'SchedulingGated')] }), 'SchedulingGated', '0/1', 0],
    ['being deleted', pod({ phase: 'Running', statuses: [running('app')], deleting: true }), 'Terminating', '1/1', 0],
    ['being deleted while pending', pod({ phase: 'Pending', deleting: true }), 'Terminating', '0/1', 0],
    ['being deleted after it succeeded', pod({ phase: 'Succeeded', statuses: [terminated('app', { exitCode: 0, reason: 'Completed' })], deleting: true }), 'Completed', '0/1', 0],
    ['being deleted after it failed', pod({ phase: 'Failed', statuses: [terminated('app', { exitCode: 1, reason: 'Error' })], deleting: true }), 'Error', '0/1', 0],
    ['being deleted on a lost node', pod({ phase: 'Running', reason: 'NodeLost', statuses: [running('app')], deleting: true }), 'Unknown', '1/1', 0],
    [
      'a started sidecar counts towards ready and total',
      pod({ inits: [{ name: 'proxy', sidecar: true }], phase: 'Running', initStatuses: [running('proxy', true, 2)], statuses: [running('app', true, 1)], conditions: [cond('Initialized', 'True')] }),
      'Running', '2/2', 3,
    ],
    [
      'a sidecar that has not started blocks init',
      pod({ inits: [{ name: 'proxy', sidecar: true }], phase: 'Pending', initStatuses: [{ ...waiting('proxy', 'ContainerCreating'), started: false }] }),
      'Init:ContainerCreating', '0/2', 0,
    ],
    [
      'init restarts count only while initializing',
      pod({ inits: ['i1'], phase: 'Running', initStatuses: [terminated('i1', { exitCode: 0, reason: 'Completed' }, 4)], statuses: [running('app', true, 1)], conditions: [cond('Initialized', 'True')] }),
      'Running', '1/1', 1,
    ],
  ];
  for (const [name, p, reason, ready, restarts] of cases) {
    it(`${name} -> ${reason} ${ready}, ${restarts} restarts`, () => {
      const s = podStatusReason(p);
      assert.equal(s.reason, reason);
      assert.equal(`${s.ready}/${s.total}`, ready);
      assert.equal(s.restarts, restarts);
    });
  }
});

describe('podPrinter.row', () => {
  it('prints the columns kubectl shows', () => {
    const p = pod({ phase: 'Running', statuses: [running('app')] });
    assert.deepEqual(podPrinter.row(p, now), ['p', '1/1', 'Running', '0', '30m', '<none>', '<none>', '<none>', '<none>']);
  });

  it('shows when the last restart was', () => {
    const s = waiting('app', 'CrashLoopBackOff', 5);
    s.lastState = { terminated: { exitCode: 1, reason: 'Error', finishedAt: ago(5 * min) } };
    const row = podPrinter.row(pod({ phase: 'Running', statuses: [s] }), now);
    assert.equal(row[2], 'CrashLoopBackOff');
    assert.equal(row[3], '5 (5m ago)');
  });

  it('uses the latest termination across containers for the restart age', () => {
    const a = running('a', true, 1);
    a.lastState = { terminated: { exitCode: 1, finishedAt: ago(90 * min) } };
    const b = running('b', true, 2);
    b.lastState = { terminated: { exitCode: 1, finishedAt: ago(75_000) } };
    const row = podPrinter.row(pod({ containers: ['a', 'b'], phase: 'Running', statuses: [a, b] }), now);
    assert.equal(row[3], '3 (75s ago)');
  });

  it('prints bare restarts when no termination time is known', () => {
    const row = podPrinter.row(pod({ phase: 'Running', statuses: [running('app', true, 2)] }), now);
    assert.equal(row[3], '2');
  });

  it('wide columns: IP (podIP first), node, nominated node, readiness gates', () => {
    const p = pod({ phase: 'Running', statuses: [running('app')], conditions: [cond('example.com/ready', 'True'), cond('example.com/ready', 'False'), cond('other', 'False')] });
    p.spec!.nodeName = 'node-1';
    p.spec!.readinessGates = [{ conditionType: 'example.com/ready' }, { conditionType: 'other' }];
    p.status!.podIP = '10.0.0.5';
    p.status!.podIPs = [{ ip: '10.0.0.9' }];
    p.status!.nominatedNodeName = 'node-2';
    assert.deepEqual(podPrinter.row(p, now).slice(5), ['10.0.0.5', 'node-1', 'node-2', '1/2']);
    delete p.status!.podIP;
    assert.equal(podPrinter.row(p, now)[5], '10.0.0.9');
  });

  it('only the first condition of a gate type counts', () => {
    const p = pod({ phase: 'Running', conditions: [cond('gate', 'False'), cond('gate', 'True')] });
    p.spec!.readinessGates = [{ conditionType: 'gate' }];
    assert.equal(podPrinter.row(p, now)[8], '0/1');
  });

  it('marks finished pods with a Completed row condition', () => {
    assert.deepEqual(podPrinter.conditions!(pod({ phase: 'Succeeded' })), [{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }]);
    assert.deepEqual(podPrinter.conditions!(pod({ phase: 'Failed' })), [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }]);
    assert.equal(podPrinter.conditions!(pod({ phase: 'Running' })), undefined);
  });
});

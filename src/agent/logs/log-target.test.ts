// Which container instance `kubectl logs [--previous]` reads, and kubelet's words when there is none.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerStatus as ApiStatus, Pod } from 'kubernetes-types/core/v1.js';
import { logTarget } from './log-target.js';
import type { ContainerStatus } from '../runtime/runtime.js';

const pod = (status?: Partial<ApiStatus>): Pod => ({
  metadata: { name: 'web', namespace: 'default', uid: 'u1' },
  spec: { containers: [{ name: 'main', image: 'busybox' }], initContainers: [{ name: 'init', image: 'busybox' }] },
  status: { containerStatuses: status ? [{ name: 'main', image: 'busybox', imageID: '', ready: false, restartCount: 1, ...status }] : [] },
});
const rt = (id: string): ContainerStatus => ({
  id, sandboxId: 's', pod: { uid: 'u1', name: 'web', namespace: 'default' }, name: 'main', attempt: 0, kind: 'app', image: 'busybox', imageId: '',
  state: 'exited', createdAt: 0, logPath: `/logs/${id}.log`,
});

describe('log target', () => {
  it('reads the running instance, or the previous one with --previous', () => {
    const p = pod({ containerID: 'runc://new', state: { running: {} }, lastState: { terminated: { exitCode: 1, containerID: 'runc://old' } } });
    assert.deepEqual(logTarget(p, 'web', 'main', false, [rt('new'), rt('old')]), { kind: 'file', path: '/logs/new.log', containerId: 'new' });
    assert.deepEqual(logTarget(p, 'web', 'main', true, [rt('new'), rt('old')]), { kind: 'file', path: '/logs/old.log', containerId: 'old' });
  });

  it('reads the last terminated instance while a crashed container waits to restart', () => {
    const p = pod({ state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 2, containerID: 'runc://old' } } });
    assert.equal(logTarget(p, 'web', 'main', false, [rt('old')]).kind, 'file');
  });

  it('says why there is nothing to read, as kubelet does', () => {
    const msg = (p: Pod | undefined, c = 'main', previous = false): string => {
      const t = logTarget(p, 'web', c, previous, []);
      return t.kind === 'error' ? `${t.code} ${t.message}` : 'file';
    };
    assert.equal(msg(undefined), '404 pod "web" cannot be found - no logs available');
    assert.equal(msg(pod(), 'sidecar'), '400 container sidecar is not valid for pod web');
    assert.equal(msg(pod()), '400 container "main" in pod "web" is waiting to start: ContainerCreating');
    assert.equal(msg(pod({ state: { waiting: { reason: 'ContainerCreating' } } })), '400 container "main" in pod "web" is waiting to start: ContainerCreating');
    assert.equal(msg(pod({ state: { waiting: { reason: 'ErrImagePull' } } })), '400 container "main" in pod "web" is waiting to start: image can\'t be pulled');
    assert.equal(msg(pod({ state: { waiting: { reason: 'ImagePullBackOff' } } })), '400 container "main" in pod "web" is waiting to start: trying and failing to pull image');
    assert.equal(msg(pod({ state: { running: {} } }), 'main', true), '400 previous terminated container "main" in pod "web" not found');
  });
});

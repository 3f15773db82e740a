// The container log manager on temp files with a manual clock: running containers over the size limit
// are rotated each interval, the others left alone, a vanished file is reopened, failures stay per container.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../util/manual-clock.js';
import type { ContainerState, ContainerStatus } from '../runtime/runtime.js';
import { ContainerLogManager } from './container-log-manager.js';

describe('ContainerLogManager', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'skiff-logmgr-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const container = (id: string, state: ContainerState): ContainerStatus => {
    const logPath = join(dir, id, '0.log');
    mkdirSync(join(dir, id), { recursive: true });
    return { id, sandboxId: 's', pod: { uid: 'u', name: 'p', namespace: 'default' }, name: id, attempt: 0, kind: 'app', image: 'busybox', imageId: 'x', state, createdAt: 0, logPath };
  };
  /** A runtime whose reopen makes a new file, as conmon does, and records who asked. */
  const runtime = (containers: ContainerStatus[], fail = new Set<string>()): { reopened: string[]; listContainers: () => Promise<readonly ContainerStatus[]>; reopenContainerLog: (id: string) => Promise<void> } => {
    const reopened: string[] = [];
    return {
      reopened,
      listContainers: async () => containers,
      reopenContainerLog: async (id) => {
        if (fail.has(id)) throw new Error('no conmon');
        reopened.push(id);
        writeFileSync(containers.find((c) => c.id === id)!.logPath, '');
      },
    };
  };
  const files = (id: string): string[] => readdirSync(join(dir, id)).sort();
  /** Moves the clock on, running a round if one falls due, and waits for it to finish. */
  const tick = async (m: ContainerLogManager, clock: ManualClock, ms: number): Promise<void> => {
    clock.advance(ms);
    await m.idle();
  };

  it('rotates running containers whose file reached the limit, every interval, and leaves the rest', async () => {
    const big = container('big', 'running');
    const small = container('small', 'running');
    const done = container('done', 'exited');
    const broken = container('broken', 'running');
    writeFileSync(big.logPath, 'x'.repeat(100));
    writeFileSync(small.logPath, 'x'.repeat(99));
    writeFileSync(done.logPath, 'x'.repeat(500));
    writeFileSync(broken.logPath, 'x'.repeat(500));
    const rt = runtime([big, small, done, broken], new Set(['broken']));
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
    const m = new ContainerLogManager({ runtime: rt, maxSize: 100, maxFiles: 3, intervalMs: 1000, clock });
    m.start();
    await tick(m, clock, 999);
    assert.deepEqual(rt.reopened, [], 'nothing before the first interval');
    await tick(m, clock, 1);
    assert.deepEqual(rt.reopened, ['big']);
    assert.deepEqual(files('big'), ['0.log', '0.log.20260101-000001']);
    assert.deepEqual(files('small'), ['0.log'], 'under the limit');
    assert.deepEqual(files('done'), ['0.log'], 'exited containers write nothing more');
    assert.deepEqual(files('broken'), ['0.log'], 'a failed reopen puts the file back, and the others still ran');

    writeFileSync(big.logPath, 'y'.repeat(100));
    await tick(m, clock, 1000);
    assert.deepEqual(files('big'), ['0.log', '0.log.20260101-000001.gz', '0.log.20260101-000002']);
    writeFileSync(big.logPath, 'z'.repeat(100));
    await m.stop();
    await tick(m, clock, 5000);
    assert.deepEqual(files('big'), ['0.log', '0.log.20260101-000001.gz', '0.log.20260101-000002'], 'nothing after stop');
  });

  it('gives a running container whose file has gone a new one; a negative size disables rotation', async () => {
    const c = container('gone', 'running');
    const rt = runtime([c]);
    await new ContainerLogManager({ runtime: rt, maxSize: 100 }).rotateLogs();
    assert.deepEqual(rt.reopened, ['gone']);
    assert.ok(existsSync(c.logPath));

    writeFileSync(c.logPath, 'x'.repeat(1000));
    const clock = new ManualClock();
    const off = new ContainerLogManager({ runtime: rt, maxSize: -1, intervalMs: 10, clock });
    off.start();
    await tick(off, clock, 100);
    assert.deepEqual(files('gone'), ['0.log']);
    assert.throws(() => new ContainerLogManager({ runtime: rt, maxFiles: 1 }), /invalid MaxFiles 1, must be > 1/);
  });
});

// The runc runtime on real runc and conmon: a sandbox with containers sharing its namespaces, exit
// codes, CRI logs and their reopening (log rotation), the stop protocol, OOM kills, start failures and
// re-adoption by a new instance.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, readdirSync, existsSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuncRuntime } from './runc-runtime.js';
import { RuntimeError, type ContainerConfig, type ContainerStatus } from '../runtime.js';
import { cgroupMounts } from './cgroups.js';
import { busyboxRootfs } from '../../../../test/helpers/busybox-rootfs.js';

const tag = `rt${process.pid}`;
const netns = `skiff-test-${tag}`;
const cgroupParent = `/skiff-test-${tag}/podu1`;

async function until<T>(fn: () => Promise<T | undefined>, ms = 10_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('RuncRuntime (real runc + conmon)', () => {
  let dir: string;
  let rootfs: string;
  let rt: RuncRuntime;
  const exits: string[] = [];
  let base: Omit<ContainerConfig, 'id' | 'name' | 'args' | 'logPath'>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-runc-'));
    rootfs = busyboxRootfs(join(dir, 'image'));
    execFileSync('ip', ['netns', 'add', netns]);
    // What the CNI loopback plugin does for a real pod.
    execFileSync('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up']);
    rt = new RuncRuntime({ dataDir: join(dir, 'data'), runcRoot: join('/run', `skiff-test-${tag}`) });
    await rt.init();
    rt.onExit((id) => exits.push(id));
    await rt.runSandbox({ id: 'sb1', pod: { uid: 'u1', name: 'web', namespace: 'default' }, attempt: 0, hostname: 'web', netnsPath: `/var/run/netns/${netns}`, shareProcessNamespace: false, cgroupParent, ip: '10.99.0.2' });
    base = { sandboxId: 'sb1', attempt: 0, kind: 'app', image: 'busybox', imageId: 'sha256:test', imageRootfs: rootfs, env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 }, mounts: [], resources: {}, security: {} };
  });

  after(async () => {
    try {
      for (const c of await rt.listContainers()) await rt.removeContainer(c.id);
      for (const s of await rt.listSandboxes()) await rt.removeSandbox(s.id);
      await rt.close();
    } finally {
      try { execFileSync('ip', ['netns', 'del', netns]); } catch { /* already gone */ }
      rmSync(join('/run', `skiff-test-${tag}`), { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
      for (const m of await cgroupMounts()) rmSync(join(m, `skiff-test-${tag}`), { recursive: true, force: true });
    }
  });

  const run = async (id: string, args: string[], extra: Partial<ContainerConfig> = {}): Promise<void> => {
    await rt.createContainer({ ...base, id, name: id, args, logPath: join(dir, 'logs', id, '0.log'), ...extra });
    await rt.startContainer(id);
  };
  const status = async (id: string): Promise<ContainerStatus | undefined> => (await rt.listContainers()).find((c) => c.id === id);
  const exited = (id: string, ms?: number): Promise<ContainerStatus> => until(async () => { const s = await status(id); return s?.state === 'exited' ? s : undefined; }, ms, `${id} to exit`);

  it('runs containers that share the sandbox network, IPC and UTS namespaces, with CRI-format logs', async () => {
    const www = join(dir, 'www');
    mkdirSync(www);
    writeFileSync(join(www, 'index.html'), 'hello from the web container\n');
    await run('web', ['httpd', '-f', '-p', '8080', '-h', '/www'], { mounts: [{ destination: '/www', type: 'bind', source: www, options: ['rbind', 'ro'] }] });
    await until(async () => ((await status('web'))?.state === 'running' ? true : undefined), 5000, 'web running');
    await run('client', ['sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://127.0.0.1:8080/ && break; sleep 0.2; done; hostname; echo oops >&2']);
    const c = await exited('client');
    assert.equal(c.exitCode, 0);
    const log = readFileSync(join(dir, 'logs', 'client', '0.log'), 'utf8');
    assert.match(log, /^\S+ stdout F hello from the web container$/m, 'localhost reaches the other container');
    assert.match(log, /^\S+ stdout F web$/m, 'the UTS namespace is the sandbox\'s (hostname = pod name)');
    assert.match(log, /^\S+ stderr F oops$/m);
    const hosts = execFileSync('runc', ['--root', join('/run', `skiff-test-${tag}`), 'exec', 'web', 'cat', '/etc/hosts']).toString();
    assert.match(hosts, /10\.99\.0\.2\tweb/, 'the pod IP is in /etc/hosts');
    assert.ok(exits.includes('client'), 'the exit was reported');
  });

  it('has conmon reopen the log file (its ctl fifo): lines go on in a new file, none lost or repeated', async () => {
    await run('chatty', ['sh', '-c', 'i=0; while true; do echo "n $i"; i=$((i+1)); usleep 2000; done']);
    const log = join(dir, 'logs', 'chatty', '0.log');
    const numbers = (text: string): number[] => text.split('\n').filter(Boolean).map((l) => Number(/ stdout F n (\d+)$/.exec(l)?.[1]));
    await until(async () => (numbers(readFileSync(log, 'utf8')).length >= 20 ? true : undefined), 5000, 'some lines');
    const before = statSync(log).ino;
    renameSync(log, `${log}.rotated`);
    await rt.reopenContainerLog('chatty');
    assert.notEqual(statSync(log).ino, before, 'a new file at the path');
    await until(async () => (numbers(readFileSync(log, 'utf8')).length >= 20 ? true : undefined), 5000, 'lines in the new file');
    await rt.stopContainer('chatty', 0);
    const old = numbers(readFileSync(`${log}.rotated`, 'utf8'));
    const now = numbers(readFileSync(log, 'utf8'));
    const all = [...old, ...now];
    assert.ok(old.length >= 20);
    assert.deepEqual(all, all.map((_, i) => i), 'the old file then the new one hold 0, 1, 2, … without a gap or a repeat');
    assert.ok(!existsSync(`${log}.tmp`), 'conmon renamed its temporary file into place');
    await assert.rejects(rt.reopenContainerLog('chatty'), /not running/);
  });

  it('keeps exit codes, and reports a missing command as a start error', async () => {
    await run('three', ['sh', '-c', 'exit 3']);
    assert.equal((await exited('three')).exitCode, 3);
    await assert.rejects(run('missing', ['no-such-command']), (e: unknown) => e instanceof RuntimeError && e.reason === 'StartError' && /executable file not found/.test(e.message));
    assert.equal(await status('missing'), undefined, 'a failed create leaves nothing behind');
  });

  it('stops with the stop signal, and kills after the grace period', async () => {
    await run('polite', ['sh', '-c', 'trap "echo got TERM; exit 143" TERM; while true; do sleep 0.1; done']);
    await run('stubborn', ['sleep', '1000']);
    await until(async () => ((await status('stubborn'))?.state === 'running' ? true : undefined), 5000, 'stubborn running');
    let t = Date.now();
    await rt.stopContainer('polite', 10_000);
    assert.ok(Date.now() - t < 5000, 'a handler that exits on TERM does not wait for the grace period');
    assert.equal((await status('polite'))?.exitCode, 143);
    assert.match(readFileSync(join(dir, 'logs', 'polite', '0.log'), 'utf8'), /got TERM/);
    t = Date.now();
    await rt.stopContainer('stubborn', 300);
    assert.ok(Date.now() - t >= 300, 'waits the grace period');
    assert.equal((await status('stubborn'))?.exitCode, 137, 'PID 1 ignores TERM: SIGKILL');
  });

  it('reports OOMKilled when the memory limit is hit', async () => {
    await run('hog', ['sh', '-c', 'exec dd if=/dev/zero of=/dev/null bs=64M count=1'], { resources: { memoryLimitBytes: 16 * 1024 * 1024 } });
    const s = await exited('hog');
    assert.equal(s.reason, 'OOMKilled');
    assert.equal(s.exitCode, 137);
  });

  it('a new runtime instance re-adopts running containers from disk and runc annotations', async () => {
    await run('long', ['sleep', '1000']);
    const again = new RuncRuntime({ dataDir: join(dir, 'data'), runcRoot: join('/run', `skiff-test-${tag}`) });
    await again.init();
    const sb = (await again.listSandboxes()).find((s) => s.id === 'sb1');
    assert.equal(sb?.state, 'ready');
    assert.equal(sb?.pod.name, 'web');
    const long = (await again.listContainers()).find((c) => c.id === 'long');
    assert.equal(long?.state, 'running');
    assert.equal(long?.name, 'long');
    assert.equal((await again.listContainers()).find((c) => c.id === 'three')?.exitCode, 3, 'exit codes survive too');
    await again.close();
  });

  it('removes containers and the sandbox without leaving mounts or cgroups behind', async () => {
    for (const c of await rt.listContainers()) {
      if (c.state === 'running') await rt.stopContainer(c.id, 100);
      await rt.removeContainer(c.id);
    }
    await rt.stopSandbox('sb1');
    await rt.removeSandbox('sb1');
    assert.deepEqual(await rt.listContainers(), []);
    assert.deepEqual(await rt.listSandboxes(), []);
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(dir), 'no overlay left mounted');
    for (const m of await cgroupMounts()) assert.ok(!existsSync(join(m, cgroupParent)), `no pod cgroup left in ${m}`);
    assert.deepEqual(readdirSync(join(dir, 'data', 'containers')), []);
  });
});

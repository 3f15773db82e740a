/**
 * Pod start benchmark: create → Running (both containers running, image present) for 2-container
 * busybox pods through the whole stack (API, scheduler, agent, runc + conmon, CNI), 20 one after the
 * other and 20 at once, against the floor measured in the same run: the same sandbox and two containers
 * started by hand with runc (`run -d`) in a fresh namespace wired by the same CNI plugins.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { loadKubeconfig } from '../src/client/kubeconfig.js';
import { RestClient } from '../src/client/rest-client.js';
import { CniPodNetwork } from '../src/agent/network/pod-network.js';
import { OciImageStore } from '../src/agent/images/image-store.js';
import { containerSpec, sandboxSpec } from '../src/agent/runtime/runc/oci-spec.js';
import { claimPodSubnet } from '../test/e2e/harness.js';
import { percentile, startServer } from './harness.js';

const run = promisify(execFile);
const count = Number(process.env['BENCH_PODS'] ?? 20);
const round = (n: number): number => Math.round(n * 10) / 10;

/**
 * `runc run -d`: the container inherits runc's stdio, so runc's output is sent nowhere (a pipe would stay
 * open as long as the container runs); its errors go to a log file read on failure.
 */
function runcDetached(runcRoot: string, bundle: string, id: string): Promise<void> {
  const log = join(bundle, 'runc.log');
  return new Promise((resolve, reject) => {
    const p = spawn('runc', ['--root', runcRoot, '--log', log, 'run', '-d', '-b', bundle, '--pid-file', join(bundle, 'pid'), id], { stdio: 'ignore' });
    p.once('error', reject);
    p.once('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`runc run ${id} exited ${code}: ${readFileSync(log, 'utf8').slice(-2000)}`));
    });
  });
}

function pod(name: string): Pod {
  const c = (n: string) => ({ name: n, image: 'busybox:latest', imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] });
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { bench: 'podstart' } }, spec: { terminationGracePeriodSeconds: 0, containers: [c('a'), c('b')] } } as Pod;
}

/** Resolves when the pod is Running with both containers running. */
function watchRunning(client: RestClient, names: readonly string[], signal: AbortSignal): Map<string, Promise<number>> {
  const waiters = new Map<string, { resolve: (t: number) => void; promise: Promise<number> }>();
  for (const n of names) {
    let resolve!: (t: number) => void;
    const promise = new Promise<number>((r) => { resolve = r; });
    waiters.set(n, { resolve, promise });
  }
  void client.watch<Pod>('/api/v1/namespaces/default/pods?watch=true&labelSelector=bench%3Dpodstart', (e) => {
    const p = e.object;
    if (p.status?.phase === 'Running' && (p.status.containerStatuses ?? []).filter((c) => c.state?.running).length === 2) waiters.get(p.metadata!.name!)?.resolve(performance.now());
  }, signal).catch(() => {});
  return new Map([...waiters].map(([k, v]) => [k, v.promise]));
}

async function throughStack(client: RestClient, runtimeDir: string, prefix: string, concurrent: boolean): Promise<number[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const ac = new AbortController();
  const running = watchRunning(client, names, ac.signal);
  await new Promise((r) => setTimeout(r, 300));
  const times: number[] = [];
  const one = async (n: string): Promise<void> => {
    const t0 = performance.now();
    await client.call('POST', '/api/v1/namespaces/default/pods', { body: pod(n) });
    times.push((await running.get(n)!) - t0);
  };
  if (concurrent) await Promise.all(names.map(one));
  else for (const n of names) await one(n);
  ac.abort();
  await client.call('DELETE', `/api/v1/namespaces/default/pods?labelSelector=bench%3Dpodstart`);
  // Pods deleted with grace 0 leave the API at once; the agent tears their containers down after.
  for (let i = 0; i < 300; i++) {
    const left = (await client.call<{ items: unknown[] }>('GET', '/api/v1/namespaces/default/pods?labelSelector=bench%3Dpodstart')).items.length
      + (await readdir(join(runtimeDir, 'containers')).catch(() => [])).length + (await readdir(join(runtimeDir, 'sandboxes')).catch(() => [])).length;
    if (left === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return times.sort((a, b) => a - b);
}

/**
 * The floor: netns + CNI ADD + pause + two containers (each on an overlay) with plain `runc run -d`,
 * `count` pods one after the other, then `count` at once.
 */
async function floor(busyboxRootfs: string, pauseRootfs: string): Promise<{ sequential: number[]; concurrent: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-floor-'));
  const subnet = claimPodSubnet();
  const runcRoot = join(dir, 'runc');
  const net = new CniPodNetwork({ stateDir: join(dir, 'net'), netnsPrefix: `skfloor${process.pid}`, bridgeName: `skfl${process.pid % 100000}`, networkName: `skiff-floor-${process.pid}`, podCIDR: subnet.cidr });
  const ids: string[] = [];
  const onePod = async (id: string): Promise<number> => {
    ids.push(id);
    const bundles = ['sb', 'a', 'b'].map((x) => join(dir, `${id}-${x}`));
    for (const b of bundles) mkdirSync(b, { recursive: true });
    const t0 = performance.now();
    const sn = await net.setUp({ id, podName: id, podNamespace: 'bench', podUid: id, portMappings: [] });
    const pod = { uid: id, name: id, namespace: 'bench' };
    writeFileSync(join(bundles[0]!, 'config.json'), JSON.stringify(sandboxSpec({ id, pod, attempt: 0, hostname: id, netnsPath: sn.netnsPath, shareProcessNamespace: false, cgroupParent: `/skiff-floor/${id}`, ip: sn.ip }, pauseRootfs, {})));
    await runcDetached(runcRoot, bundles[0]!, `${id}-sb`);
    const pausePid = Number(readFileSync(join(bundles[0]!, 'pid'), 'utf8'));
    await Promise.all(bundles.slice(1).map(async (b, k) => {
      for (const d of ['upper', 'work', 'rootfs']) mkdirSync(join(b, d), { recursive: true });
      await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${busyboxRootfs},upperdir=${b}/upper,workdir=${b}/work`, join(b, 'rootfs')]);
      const cfg = { id: `${id}-${k}`, sandboxId: id, name: String(k), attempt: 0, kind: 'app' as const, image: 'busybox', imageId: '', imageRootfs: busyboxRootfs, args: ['sleep', '3600'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 }, mounts: [], resources: {}, security: {}, logPath: '' };
      writeFileSync(join(b, 'config.json'), JSON.stringify(containerSpec(cfg, { pausePid, netnsPath: sn.netnsPath, shareProcessNamespace: false, cgroupParent: `/skiff-floor/${id}` }, join(b, 'rootfs'), [], {})));
      await runcDetached(runcRoot, b, `${id}-${k}`);
    }));
    return performance.now() - t0;
  };
  try {
    const sequential: number[] = [];
    for (let i = 0; i < count; i++) sequential.push(await onePod(`fseq${i}`));
    const concurrent = await Promise.all(Array.from({ length: count }, (_, i) => onePod(`fpar${i}`)));
    return { sequential: sequential.sort((a, b) => a - b), concurrent: concurrent.sort((a, b) => a - b) };
  } finally {
    const list = JSON.parse((await run('runc', ['--root', runcRoot, 'list', '-f', 'json']).catch(() => ({ stdout: 'null' }))).stdout || 'null') as { id: string }[] | null;
    for (const c of list ?? []) await run('runc', ['--root', runcRoot, 'delete', '-f', c.id]).catch(() => {});
    for (const id of ids) for (const x of ['a', 'b']) await run('umount', [join(dir, `${id}-${x}`, 'rootfs')]).catch(() => {});
    await net.destroy();
    for (const m of ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'systemd', 'unified']) {
      await run('sh', ['-c', `find /sys/fs/cgroup/${m}/skiff-floor -depth -type d -exec rmdir {} + 2>/dev/null || true`]);
    }
    subnet.release();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const server = await startServer([], { agent: true });
  const client = new RestClient(loadKubeconfig(server.kubeconfig), { maxSockets: 64 });
  try {
    // The node is registered and the images imported before the clock starts.
    for (let i = 0; i < 300; i++) {
      const nodes = await client.call<{ items: { status?: { conditions?: { type: string; status: string }[] } }[] }>('GET', '/api/v1/nodes');
      if (nodes.items.some((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const store = new OciImageStore({ root: join(server.dataDir, 'agent', 'images') });
    let busybox = store.get('busybox:latest');
    for (let i = 0; !busybox && i < 100; i++) { await new Promise((r) => setTimeout(r, 100)); busybox = new OciImageStore({ root: join(server.dataDir, 'agent', 'images') }).get('busybox:latest'); }
    if (!busybox) throw new Error('the test images were not imported');
    const runtimeDir = join(server.dataDir, 'agent', 'runtime');
    await throughStack(client, runtimeDir, 'warmup', false).catch(() => []);
    const sequential = await throughStack(client, runtimeDir, 'seq', false);
    const concurrent = await throughStack(client, runtimeDir, 'par', true);
    if (process.env['BENCH_VERBOSE']) process.stderr.write(`${JSON.stringify({ sequential: sequential.map(Math.round), concurrent: concurrent.map(Math.round) })}\n`);
    const fl = await floor(busybox.rootfs, join(server.dataDir, 'agent', 'runtime', 'pause-rootfs'));
    const p = (xs: number[], q: number): number => round(percentile(xs, q));
    const all = [...sequential, ...concurrent].sort((a, b) => a - b);
    process.stdout.write(JSON.stringify({
      bench: 'podstart', pods: count * 2, containers_per_pod: 2,
      // The headline: every pod of both runs against one pod started by hand.
      p50_ms: p(all, 0.5), p99_ms: p(all, 0.99), floor_ms: p(fl.sequential, 0.5),
      ratio_p50_to_floor: round(percentile(all, 0.5) / percentile(fl.sequential, 0.5)),
      sequential_p50_ms: p(sequential, 0.5), sequential_p99_ms: p(sequential, 0.99),
      floor_sequential_p50_ms: p(fl.sequential, 0.5), floor_sequential_p99_ms: p(fl.sequential, 0.99),
      ratio_sequential_p50: round(percentile(sequential, 0.5) / percentile(fl.sequential, 0.5)),
      concurrent_p50_ms: p(concurrent, 0.5), concurrent_p99_ms: p(concurrent, 0.99),
      floor_concurrent_p50_ms: p(fl.concurrent, 0.5), floor_concurrent_p99_ms: p(fl.concurrent, 0.99),
      ratio_concurrent_p50: round(percentile(concurrent, 0.5) / percentile(fl.concurrent, 0.5)),
    }) + '\n');
  } finally {
    client.close();
    await server.stop();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench podstart failed: ${e.stack}\n`);
  process.exit(1);
});

/**
 * API server benchmark: durable pod creates over HTTPS by 16 concurrent clients, compared in the same
 * run with the raw store's durable write rate; GETs, a 10k-pod LIST, watch delivery, time to ready and
 * idle memory. Prints one JSON line. `--store etcd` runs the server on an etcd started for the run (Debian's
 * etcd-server; `--etcd-members 3`, the default, is the HA cluster etcd is for, `1` a single member) and
 * measures the raw rate against that same etcd.
 *
 * The creates run in rounds (BENCH_ROUNDS, default 3, of BENCH_PODS/rounds pods; BENCH_PODS default 12,000), the
 * floor then the API in each, both warmed first (BENCH_WARMUP creates, default 2,000): the ratio is of their
 * totals, `ratio_by_round` shows the spread. BENCH_VERBOSE=1 prints each phase's time and CPU on stderr.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { EtcdStore } from '../src/store/etcd/etcd-store.js';
import type { Store } from '../src/store/store.js';
import { startEtcd, startEtcdCluster } from '../test/helpers/etcd-server.js';
import { loadKubeconfig } from '../src/client/kubeconfig.js';
import { RestClient } from '../src/client/rest-client.js';
import { controllerNames } from '../src/controllers/manager.js';
import { PostLoad } from './post-load.js';
import { cpuSeconds, parallel, percentile, rssMb, startServer, type BenchServer } from './harness.js';

const clients = 16;
const { values: flags } = parseArgs({ options: { store: { type: 'string', default: 'sqlite' }, 'etcd-members': { type: 'string', default: '3' } }, strict: true });
const storeKind = flags.store!;
if (storeKind !== 'sqlite' && storeKind !== 'etcd') throw new Error(`--store: "${storeKind}" is not sqlite or etcd`);
const etcdMembers = Number(flags['etcd-members']);
if (!Number.isInteger(etcdMembers) || etcdMembers < 1) throw new Error(`--etcd-members: "${flags['etcd-members']}" is not a positive integer`);

/** The etcd of a run: one member, or a cluster on loopback. */
interface BenchEtcd {
  readonly endpoints: readonly string[];
  /** The members' processes, whose CPU each phase reports. */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

async function startBenchEtcd(): Promise<BenchEtcd | undefined> {
  if (storeKind !== 'etcd') return undefined;
  if (etcdMembers === 1) {
    const one = await startEtcd();
    return { endpoints: [one.endpoint], pids: [one.pid], stop: () => one.stop() };
  }
  const cluster = await startEtcdCluster({ size: etcdMembers });
  return { endpoints: cluster.endpoints, pids: cluster.members.map((m) => m.pid), stop: () => cluster.stop() };
}

const etcdCpuSeconds = (etcd: BenchEtcd | undefined): number => etcd?.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) ?? 0;
const podsToCreate = Number(process.env['BENCH_PODS'] ?? 12_000);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
const warmupCreates = Number(process.env['BENCH_WARMUP'] ?? 2000);

function pod(i: number, prefix = 'bench'): Record<string, unknown> {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: `${prefix}-${i}`, namespace: 'default', labels: { app: prefix, shard: String(i % 16) } },
    spec: {
      containers: [{
        name: 'nginx', image: 'nginx:1.17.8', ports: [{ containerPort: 80 }],
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '200m', memory: '256Mi' } },
        env: [{ name: 'MODE', value: 'bench' }],
      }],
    },
  };
}

/**
 * The API server alone, as kube-apiserver is measured: no scheduler and no controller manager (in skiff they are
 * threads of the server process, whose CPU the figures count; with restarts between rounds, which controllers ran
 * would also hang on when the new server's manager won its Lease).
 */
const apiServerAlone = ['--disable-scheduler', `--controllers=${controllerNames.map((n) => `-${n}`).join(',')}`];

const round = (n: number, d = 1): number => Math.round(n * 10 ** d) / 10 ** d;

/**
 * Pods as the API stores them — defaulted, with uid, timestamps and managedFields, about 5× the manifest — so the
 * floor writes what the API writes. Made by a throwaway server on SQLite of its own (the shape does not depend on
 * the store), before anything is measured.
 */
async function storedPods(count: number): Promise<Uint8Array[]> {
  const server = await startServer(apiServerAlone);
  try {
    const client = new RestClient(loadKubeconfig(server.kubeconfig));
    const enc = new TextEncoder();
    const values: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const body = { ...pod(i), metadata: { ...(pod(i)['metadata'] as object), name: `sample-${i}` } };
      const created = await client.call<Record<string, unknown>>('POST', '/api/v1/namespaces/default/pods', { body });
      values.push(enc.encode(JSON.stringify(created)));
    }
    client.close();
    return values;
  } finally {
    await server.stop();
  }
}

/** CPU and time of one measured phase. */
interface Phase {
  count: number;
  secs: number;
  etcdCpu: number;
  serverCpu: number;
  clientCpu: number;
}

const emptyPhase = (): Phase => ({ count: 0, secs: 0, etcdCpu: 0, serverCpu: 0, clientCpu: 0 });

function addPhase(total: Phase, p: Phase): void {
  total.count += p.count;
  total.secs += p.secs;
  total.etcdCpu += p.etcdCpu;
  total.serverCpu += p.serverCpu;
  total.clientCpu += p.clientCpu;
}

/** Times `work` and the CPU the etcd members, the server (if any) and this process spend on it. */
async function measure(count: number, etcd: BenchEtcd | undefined, serverPid: number | undefined, work: () => Promise<void>): Promise<Phase> {
  const etcd0 = etcdCpuSeconds(etcd);
  const server0 = serverPid ? cpuSeconds(serverPid) : 0;
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  await work();
  const secs = (performance.now() - t0) / 1000;
  const client = process.cpuUsage(client0);
  return {
    count, secs,
    etcdCpu: etcdCpuSeconds(etcd) - etcd0,
    serverCpu: serverPid ? cpuSeconds(serverPid) - server0 : 0,
    clientCpu: (client.user + client.system) / 1e6,
  };
}

/**
 * The floor: the same durable creates straight into the store, no HTTP, no API logic — group-committed and
 * fsync'd on SQLite; on etcd, the store's compare-and-put transactions against the etcd the server uses
 * (under a prefix of their own, which no watch cache lists) — of values as large as the API's.
 */
async function rawCreates(from: number, n: number, etcd: BenchEtcd | undefined, values: readonly Uint8Array[], prefix = 'bench'): Promise<Phase> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-raw-'));
  const store: Store & { ready(): Promise<void> } = etcd ? new EtcdStore({ endpoints: [...etcd.endpoints] }) : new SqliteStore({ path: join(dir, 'state.db') });
  try {
    await store.ready();
    const keys = etcd ? '/bench-raw/pods/default' : '/registry/pods/default';
    return await measure(n, etcd, undefined, () => parallel(n, clients, async (i) => {
      const r = await store.create(`${keys}/${prefix}-${from + i}`, values[i % values.length]!);
      if (!r.ok) throw new Error('raw create failed');
    }));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Pod creates through the API by 16 clients. The load generator shares the cores with the server under test:
 * requests are encoded before the clock starts (as the floor's values are) and answers are counted, not parsed
 * (PostLoad).
 */
async function apiCreates(server: BenchServer, from: number, n: number, etcd: BenchEtcd | undefined, latencies: number[], prefix = 'bench'): Promise<Phase> {
  const access = loadKubeconfig(server.kubeconfig);
  const load = await PostLoad.open(access, clients);
  try {
    const requests = load.encode('/api/v1/namespaces/default/pods', Array.from({ length: n }, (_, i) => JSON.stringify(pod(from + i, prefix))), access.token);
    let statuses = new Map<number, number>();
    const phase = await measure(n, etcd, server.pid, async () => { statuses = await load.run(requests, latencies); });
    if (statuses.get(201) !== n) throw new Error(`not every create answered 201: ${JSON.stringify(Object.fromEntries(statuses))}`);
    return phase;
  } finally {
    load.close();
  }
}

/** Deletes the pods that warmed a server up (none is bound to a node, so they go at once). */
async function removeWarmupPods(server: BenchServer): Promise<void> {
  const client = new RestClient(loadKubeconfig(server.kubeconfig));
  try {
    await client.call('DELETE', '/api/v1/namespaces/default/pods?labelSelector=app%3Dwarmup');
  } finally {
    client.close();
  }
}

/** Waits until a process has stopped working (its CPU below 5% for half a second), at most `maxMs`. */
async function settled(pid: number, maxMs = 10_000): Promise<void> {
  const end = performance.now() + maxMs;
  while (performance.now() < end) {
    const c0 = cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, 500));
    if (cpuSeconds(pid) - c0 < 0.025) return;
  }
}

/** `skiff server` flags that put it on the given etcd (none: SQLite in its data dir). */
const datastoreArgs = (etcd: BenchEtcd | undefined): string[] => (etcd ? ['--datastore-endpoint', `etcd://${etcd.endpoints.map((e) => e.replace('http://', '')).join(',')}`] : []);

/** Idle memory of a complete server (API, store, scheduler and controller threads), started fresh (on an etcd of its own). */
async function fullServerIdleRss(): Promise<number> {
  const etcd = await startBenchEtcd();
  try {
    const full = await startServer(datastoreArgs(etcd));
    try {
      await new Promise((r) => setTimeout(r, 1500));
      return rssMb(full.pid);
    } finally {
      await full.stop();
    }
  } finally {
    await etcd?.stop();
  }
}

async function main(): Promise<void> {
  const etcd = await startBenchEtcd();
  try {
    await run(etcd);
  } finally {
    await etcd?.stop();
  }
}

const perMs = (seconds: number, count: number): number => round((seconds * 1000) / count, 3);

async function run(etcd: BenchEtcd | undefined): Promise<void> {
  const values = await storedPods(64);
  const serverArgs = [...apiServerAlone, ...datastoreArgs(etcd)];
  const dataDir = mkdtempSync(join(tmpdir(), 'skiff-bench-api-'));
  let server: BenchServer | undefined;
  try {
    // The floor and the API take turns, in rounds, on the same store: both meet it as large and as warm, and a
    // slow spell of the machine falls on both. The server is down while the floor runs: its watch of the whole
    // keyspace would spend CPU on the floor's writes.
    const raw = emptyPhase();
    const api = emptyPhase();
    const latencies: number[] = [];
    const ratioByRound: number[] = [];
    let readyMs = 0;
    let readyWallMs = 0;
    let idleRss = 0;
    const perRound = Math.ceil(podsToCreate / rounds);
    // Neither side is measured cold: this process's store client is warmed once (it stays warm), each server
    // started with as many creates through its API (removed again, so every list sees the benchmark's pods only).
    await rawCreates(0, warmupCreates, etcd, values, 'warmup');
    for (let r = 0, from = 0; from < podsToCreate; r++, from += perRound) {
      const n = Math.min(perRound, podsToCreate - from);
      await server?.stop();
      server = undefined;
      const rawPhase = await rawCreates(from, n, etcd, values);
      const t0 = performance.now();
      server = await startServer(serverArgs, { dataDir });
      if (r === 0) {
        readyWallMs = performance.now() - t0;
        readyMs = Number(/ready in ([\d.]+)s/.exec(server.banner)![1]) * 1000;
        await new Promise((res) => setTimeout(res, 1500));
        idleRss = rssMb(server.pid);
      }
      await apiCreates(server, r * warmupCreates, warmupCreates, etcd, [], 'warmup');
      // Measured once the server is quiet again (its start-up listing and the warm-up's after-work done).
      await settled(server.pid);
      const apiPhase = await apiCreates(server, from, n, etcd, latencies);
      await removeWarmupPods(server);
      addPhase(raw, rawPhase);
      addPhase(api, apiPhase);
      ratioByRound.push(round((apiPhase.count / apiPhase.secs) / (rawPhase.count / rawPhase.secs), 3));
      if (process.env['BENCH_VERBOSE']) process.stderr.write(`round ${r}: raw ${JSON.stringify(rawPhase)} api ${JSON.stringify(apiPhase)}\n`);
    }
    latencies.sort((a, b) => a - b);
    const client = new RestClient(loadKubeconfig(server!.kubeconfig), { maxSockets: clients });

    // GETs of single objects.
    let gets = 0;
    const gEnd = performance.now() + 3000;
    await Promise.all(Array.from({ length: clients }, async () => {
      while (performance.now() < gEnd) {
        const r = await client.request('GET', `/api/v1/namespaces/default/pods/bench-${Math.floor(Math.random() * podsToCreate)}`);
        if (r.status !== 200) throw new Error(`GET ${r.status}`);
        gets++;
      }
    }));
    const getRate = gets / 3;

    // LIST of every pod (10k+), JSON as informers ask for it.
    const listTimes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      const r = await client.request<number>('GET', '/api/v1/pods?resourceVersion=0', { discard: true });
      listTimes.push(performance.now() - s);
      if (r.status !== 200) throw new Error(`LIST ${r.status}`);
    }
    listTimes.sort((a, b) => a - b);

    // Watch: one watcher while 16 clients patch pods.
    const rv = (await client.call<{ metadata: { resourceVersion: string } }>('GET', '/api/v1/namespaces/default/pods?limit=1')).metadata.resourceVersion;
    let events = 0;
    const ac = new AbortController();
    const watching = client.watch(`/api/v1/namespaces/default/pods?watch=true&resourceVersion=${rv}`, () => { events++; }, ac.signal);
    const wEnd = performance.now() + 3000;
    let patches = 0;
    const w0 = performance.now();
    await Promise.all(Array.from({ length: clients }, async (_, k) => {
      for (let j = 0; performance.now() < wEnd; j++) {
        await client.request('PATCH', `/api/v1/namespaces/default/pods/bench-${(k * 997 + j) % podsToCreate}`, {
          body: { metadata: { labels: { touched: String(j) } } }, contentType: 'application/merge-patch+json',
        });
        patches++;
      }
    }));
    await new Promise((r) => setTimeout(r, 300));
    const watchSecs = (performance.now() - w0) / 1000;
    ac.abort();
    await watching;
    client.close();

    const creates = api.count / api.secs;
    const rawRate = raw.count / raw.secs;
    process.stdout.write(JSON.stringify({
      bench: 'api',
      store: storeKind,
      ...(etcd ? { etcd_members: etcdMembers } : {}),
      clients,
      pods: podsToCreate,
      rounds: ratioByRound.length,
      creates_per_s: Math.round(creates),
      create_p50_ms: round(percentile(latencies, 0.5), 2),
      create_p99_ms: round(percentile(latencies, 0.99), 2),
      raw_store_writes_per_s: Math.round(rawRate),
      stored_pod_bytes: Math.round(values.reduce((a, v) => a + v.length, 0) / values.length),
      ratio_to_raw: round(creates / rawRate, 3),
      ratio_by_round: ratioByRound,
      server_cpu_ms_per_create: perMs(api.serverCpu, api.count),
      client_cpu_ms_per_create: perMs(api.clientCpu, api.count),
      create_phase_cpu_cores: round((api.serverCpu + api.clientCpu + api.etcdCpu) / api.secs, 2),
      raw_client_cpu_ms_per_write: perMs(raw.clientCpu, raw.count),
      raw_phase_cpu_cores: round((raw.clientCpu + raw.etcdCpu) / raw.secs, 2),
      ...(etcd ? { etcd_cpu_ms_per_create: perMs(api.etcdCpu, api.count), etcd_cpu_ms_per_raw_write: perMs(raw.etcdCpu, raw.count) } : {}),
      get_per_s: Math.round(getRate),
      list_10k_pods_ms: round(percentile(listTimes, 0.5)),
      watch_events_per_s: Math.round(events / watchSecs),
      watch_events_received: events,
      patches_sent: patches,
      ready_ms: Math.round(readyMs),
      ready_wall_ms: Math.round(readyWallMs),
      idle_rss_mb: idleRss,
      idle_rss_with_scheduler_and_controllers_mb: await fullServerIdleRss(),
      loaded_rss_mb: rssMb(server!.pid),
    }) + '\n');
  } finally {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench api failed: ${e.stack}\n`);
  process.exit(1);
});

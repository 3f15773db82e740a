/**
 * API server benchmark: durable pod creates over HTTPS by 16 concurrent clients, compared in the same
 * run with the raw store's durable write rate; GETs, a 10k-pod LIST, watch delivery, time to ready and
 * idle memory. Prints one JSON line. `--store etcd` runs the server on an etcd started for the run (Debian's
 * etcd-server; `--etcd-members 3`, the default, is the HA cluster etcd is for, `1` a single member) and
 * measures the raw rate against that same etcd.
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
import { cpuSeconds, parallel, percentile, rssMb, startServer } from './harness.js';

const clients = 16;
const { values: flags } = parseArgs({ options: { store: { type: 'string', default: 'sqlite' }, 'etcd-members': { type: 'string', default: '3' } }, strict: true });
const storeKind = flags.store!;
if (storeKind !== 'sqlite' && storeKind !== 'etcd') throw new Error(`--store: "${storeKind}" is not sqlite or etcd`);
const etcdMembers = Number(flags['etcd-members']);
if (!Number.isInteger(etcdMembers) || etcdMembers < 1) throw new Error(`--etcd-members: "${flags['etcd-members']}" is not a positive integer`);

/** The etcd of a run: one member, or a cluster on loopback. */
interface BenchEtcd {
  readonly endpoints: readonly string[];
  stop(): Promise<void>;
}

async function startBenchEtcd(): Promise<BenchEtcd | undefined> {
  if (storeKind !== 'etcd') return undefined;
  if (etcdMembers === 1) {
    const one = await startEtcd();
    return { endpoints: [one.endpoint], stop: () => one.stop() };
  }
  const cluster = await startEtcdCluster({ size: etcdMembers });
  return { endpoints: cluster.endpoints, stop: () => cluster.stop() };
}
const podsToCreate = Number(process.env['BENCH_PODS'] ?? 12_000);

function pod(i: number): Record<string, unknown> {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: `bench-${i}`, namespace: 'default', labels: { app: 'bench', shard: String(i % 16) } },
    spec: {
      containers: [{
        name: 'nginx', image: 'nginx:1.17.8', ports: [{ containerPort: 80 }],
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '200m', memory: '256Mi' } },
        env: [{ name: 'MODE', value: 'bench' }],
      }],
    },
  };
}

const round = (n: number, d = 1): number => Math.round(n * 10 ** d) / 10 ** d;

/**
 * Pods as the API stores them — defaulted, with uid, timestamps and managedFields, about 5× the manifest — so the
 * floor writes what the API writes. Made by a throwaway server on SQLite of its own (the shape does not depend on
 * the store), before anything is measured.
 */
async function storedPods(count: number): Promise<Uint8Array[]> {
  const server = await startServer(['--disable-scheduler', '--controllers=-deployment,-replicaset,-garbagecollector,-namespace']);
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

/**
 * The floor: the same durable creates straight into the store, no HTTP, no API logic — group-committed and
 * fsync'd on SQLite; on etcd, the store's compare-and-put transactions against the etcd the server will use
 * (under a prefix of their own, which no watch cache lists) — of values as large as the API's.
 */
async function rawStoreRate(n: number, etcd: BenchEtcd | undefined, values: readonly Uint8Array[]): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-raw-'));
  const store: Store & { ready(): Promise<void> } = etcd ? new EtcdStore({ endpoints: [...etcd.endpoints] }) : new SqliteStore({ path: join(dir, 'state.db') });
  await store.ready();
  const prefix = etcd ? '/bench-raw/pods/default' : '/registry/pods/default';
  const t0 = performance.now();
  await parallel(n, clients, async (i) => {
    const r = await store.create(`${prefix}/bench-${i}`, values[i % values.length]!);
    if (!r.ok) throw new Error('raw create failed');
  });
  const rate = n / ((performance.now() - t0) / 1000);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
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

async function run(etcd: BenchEtcd | undefined): Promise<void> {
  const values = await storedPods(64);
  const raw = await rawStoreRate(podsToCreate, etcd, values);

  const t0 = performance.now();
  // The API server alone: no scheduler or controllers acting on (and writing about) the pods created.
  const server = await startServer(['--disable-scheduler', '--controllers=-deployment,-replicaset,-garbagecollector,-namespace', ...datastoreArgs(etcd)]);
  const readyWallMs = performance.now() - t0;
  const readyMs = Number(/ready in ([\d.]+)s/.exec(server.banner)![1]) * 1000;
  try {
    await new Promise((r) => setTimeout(r, 1500));
    const idleRss = rssMb(server.pid);
    const client = new RestClient(loadKubeconfig(server.kubeconfig), { maxSockets: clients });

    // Creates.
    // The load generator shares the 2 cores with the server under test: bodies are encoded before the clock starts
    // (as the raw floor's values are) and answers are counted, not parsed.
    const bodies = Array.from({ length: podsToCreate }, (_, i) => JSON.stringify(pod(i)));
    const latencies: number[] = [];
    let failed = 0;
    const c0 = performance.now();
    const serverCpu0 = cpuSeconds(server.pid);
    const clientCpu0 = process.cpuUsage();
    await parallel(podsToCreate, clients, async (i) => {
      const s = performance.now();
      const r = await client.request('POST', '/api/v1/namespaces/default/pods', { body: bodies[i]!, discard: true });
      latencies.push(performance.now() - s);
      if (r.status !== 201) failed++;
    });
    const createSecs = (performance.now() - c0) / 1000;
    const serverCpu = cpuSeconds(server.pid) - serverCpu0;
    const clientCpuUs = process.cpuUsage(clientCpu0);
    const clientCpu = (clientCpuUs.user + clientCpuUs.system) / 1e6;
    if (failed > 0) throw new Error(`${failed} creates failed`);
    latencies.sort((a, b) => a - b);

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

    const creates = podsToCreate / createSecs;
    process.stdout.write(JSON.stringify({
      bench: 'api',
      store: storeKind,
      ...(etcd ? { etcd_members: etcdMembers } : {}),
      clients,
      pods: podsToCreate,
      creates_per_s: Math.round(creates),
      create_p50_ms: round(percentile(latencies, 0.5), 2),
      create_p99_ms: round(percentile(latencies, 0.99), 2),
      raw_store_writes_per_s: Math.round(raw),
      stored_pod_bytes: Math.round(values.reduce((a, v) => a + v.length, 0) / values.length),
      ratio_to_raw: round(creates / raw, 3),
      server_cpu_ms_per_create: round((serverCpu * 1000) / podsToCreate, 3),
      client_cpu_ms_per_create: round((clientCpu * 1000) / podsToCreate, 3),
      create_phase_cpu_cores: round((serverCpu + clientCpu) / createSecs, 2),
      get_per_s: Math.round(getRate),
      list_10k_pods_ms: round(percentile(listTimes, 0.5)),
      watch_events_per_s: Math.round(events / watchSecs),
      watch_events_received: events,
      patches_sent: patches,
      ready_ms: Math.round(readyMs),
      ready_wall_ms: Math.round(readyWallMs),
      idle_rss_mb: idleRss,
      idle_rss_with_scheduler_and_controllers_mb: await fullServerIdleRss(),
      loaded_rss_mb: rssMb(server.pid),
    }) + '\n');
  } finally {
    await server.stop();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench api failed: ${e.stack}\n`);
  process.exit(1);
});

/**
 * Scheduler benchmark, measured create → bound as upstream's scheduler_perf does: registers N nodes
 * (plain Node objects, no kubelet), creates P pods with resource requests and a node affinity through
 * 16 concurrent clients, and watches for their bindings. Prints one JSON line per configuration.
 */
import { performance } from 'node:perf_hooks';
import { loadKubeconfig } from '../src/client/kubeconfig.js';
import { RestClient } from '../src/client/rest-client.js';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { findNode, type Snapshot } from '../src/scheduler/algorithm.js';
import { ClusterTotals, NodeInfo, newPodInfo } from '../src/scheduler/node-info.js';
import { cpuSeconds, parallel, percentile, startServer } from './harness.js';

const clients = 16;

/** Node i: 32 cpu, 128Gi, 110 pods; a zone of three; every tenth one is `tier=small`. */
function benchNode(i: number): Node {
  const name = `node-${i}`;
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, zone: `zone-${i % 3}`, tier: i % 10 === 0 ? 'small' : 'standard' } },
    status: {
      capacity: { cpu: '32', memory: '128Gi', pods: '110' }, allocatable: { cpu: '32', memory: '128Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'benchmark node' }],
    },
  };
}

/** Pod i: requests 100m/500Mi and requires a `tier=standard` node, as upstream's scheduler_perf pods do. */
function benchPod(i: number): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: `pod-${i}`, labels: { app: 'bench' } },
    spec: {
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['standard'] }] }] } } },
      containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '100m', memory: '500Mi' } } }],
    },
  };
}

async function run(nodes: number, pods: number): Promise<Record<string, unknown>> {
  const server = await startServer(['--controllers=-deployment,-replicaset,-garbagecollector,-namespace']);
  const client = new RestClient(loadKubeconfig(server.kubeconfig), { maxSockets: clients });
  try {
    await parallel(nodes, clients, async (i) => {
      const r = await client.request('POST', '/api/v1/nodes', { body: benchNode(i) });
      if (r.status !== 201) throw new Error(`node create ${r.status}`);
    });
    // Let the scheduler's informer see every node before the clock starts.
    await new Promise((r) => setTimeout(r, 500));
    const created = new Map<string, number>();
    const latencies: number[] = [];
    let bound = 0;
    let lastBound = 0;
    const rv = (await client.call<{ metadata: { resourceVersion: string } }>('GET', '/api/v1/namespaces/default/pods?limit=1')).metadata.resourceVersion;
    const ac = new AbortController();
    let done: () => void = () => {};
    const allBound = new Promise<void>((r) => { done = r; });
    const watching = client.watch<{ metadata: { name: string }; spec: { nodeName?: string } }>(`/api/v1/namespaces/default/pods?watch=true&resourceVersion=${rv}`, (e) => {
      if (e.type !== 'MODIFIED' || !e.object.spec.nodeName) return;
      const t0 = created.get(e.object.metadata.name);
      if (t0 === undefined) return;
      created.delete(e.object.metadata.name);
      lastBound = performance.now();
      latencies.push(lastBound - t0);
      if (++bound === pods) done();
    }, ac.signal);
    const cpu0 = cpuSeconds(server.pid);
    const start = performance.now();
    await parallel(pods, clients, async (i) => {
      created.set(`pod-${i}`, performance.now());
      const r = await client.request('POST', '/api/v1/namespaces/default/pods', { body: benchPod(i) });
      if (r.status !== 201) throw new Error(`pod create ${r.status}`);
    });
    const createdBy = performance.now();
    await Promise.race([allBound, new Promise((r) => setTimeout(r, 120_000))]);
    const cpu = cpuSeconds(server.pid) - cpu0;
    ac.abort();
    await watching;
    latencies.sort((a, b) => a - b);
    const secs = (lastBound - start) / 1000;
    return {
      bench: 'scheduler', nodes, pods, bound,
      pods_per_s: Math.round(bound / secs),
      api_creates_per_s: Math.round(pods / ((createdBy - start) / 1000)),
      p50_schedule_ms: Math.round(percentile(latencies, 0.5)),
      p99_schedule_ms: Math.round(percentile(latencies, 0.99)),
      server_cpu_ms_per_pod: Math.round((cpu * 1000 * 100) / pods) / 100,
      seconds: Math.round(secs * 100) / 100,
    };
  } finally {
    client.close();
    await server.stop();
  }
}

/**
 * The scheduling algorithm alone, in this process, on the same nodes and pods: the ceiling the
 * end-to-end figure would reach if the API cost nothing. Their ratio says where the time goes.
 */
function algorithmOnly(nodes: number, pods: number): Record<string, unknown> {
  const totals = new ClusterTotals();
  const infos = Array.from({ length: nodes }, (_, i) => new NodeInfo(benchNode(i), totals));
  const byName = new Map(infos.map((n) => [n.name, n]));
  const snap: Snapshot = { nodes: infos, totals, allPods: function* () { for (const n of infos) yield* n.pods.values(); } };
  let start = 0;
  const t0 = performance.now();
  for (let i = 0; i < pods; i++) {
    const pod = benchPod(i) as Pod;
    pod.metadata!.namespace = 'default';
    const r = findNode(pod, snap, { startIndex: start });
    start = (start + r.evaluated) % nodes;
    if (!r.node) throw new Error(`pod ${i} found no node`);
    byName.get(r.node)!.addPod(newPodInfo(pod));
  }
  const secs = (performance.now() - t0) / 1000;
  return { bench: 'scheduler-algorithm', nodes, pods, pods_per_s: Math.round(pods / secs), us_per_pod: Math.round((secs * 1e6) / pods) };
}

async function main(): Promise<void> {
  const configs = process.env['BENCH_SCHED'] ? [process.env['BENCH_SCHED'].split('x').map(Number) as [number, number]] : [[1000, 5000], [5000, 10000]] as [number, number][];
  for (const [nodes, pods] of configs) {
    const e2e = await run(nodes, pods);
    const algo = algorithmOnly(nodes, pods);
    process.stdout.write(JSON.stringify(algo) + '\n');
    process.stdout.write(JSON.stringify({ ...e2e, ratio_to_algorithm: Math.round(((e2e['pods_per_s'] as number) / (algo['pods_per_s'] as number)) * 100) / 100 }) + '\n');
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench scheduler failed: ${e.stack}\n`);
  process.exit(1);
});

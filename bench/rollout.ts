/**
 * Rollout benchmark: a 1,000-replica Deployment on 100 simulated nodes (SIMULATION: no containers run;
 * the simulator marks bound pods Running and Ready through the API, as a kubelet would report them).
 * Measures created → all replicas available, then an image change → fully rolled out, judged as
 * `kubectl rollout status` judges it. The floor, in the same run: 1,000 bare pods created straight onto
 * the same nodes (no controllers, no scheduler) until all are Running. Prints one JSON line.
 */
import { performance } from 'node:perf_hooks';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { loadKubeconfig } from '../src/client/kubeconfig.js';
import { RestClient } from '../src/client/rest-client.js';
import { SimulatedNodes } from '../src/simulate/simulated-nodes.js';
import { cpuSeconds, parallel, startServer } from './harness.js';

const replicas = Number(process.env['BENCH_REPLICAS'] ?? 1000);
const nodeCount = Number(process.env['BENCH_NODES'] ?? 100);
const clients = 16;
const round2 = (n: number): number => Math.round(n * 100) / 100;

/** Resolves with the first object at `path` (a watch) for which `done` holds; rejects after `timeoutMs`. */
async function waitFor<T>(client: RestClient, path: string, done: (o: T) => boolean, timeoutMs: number): Promise<T> {
  const ac = new AbortController();
  let found: T | undefined;
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  await client.watch<T>(`${path}${path.includes('?') ? '&' : '?'}watch=true`, (e) => {
    if (found === undefined && (e.type === 'ADDED' || e.type === 'MODIFIED') && done(e.object)) { found = e.object; ac.abort(); }
  }, ac.signal);
  clearTimeout(timer);
  if (found === undefined) throw new Error(`timed out after ${timeoutMs} ms waiting on ${path}`);
  return found;
}

/** `kubectl rollout status` is satisfied: the controller saw this generation and every replica is new and available. */
function rolledOut(d: Deployment, generation: number): boolean {
  const s = d.status ?? {};
  return (s.observedGeneration ?? 0) >= generation && (s.updatedReplicas ?? 0) === replicas && (s.replicas ?? 0) === replicas && (s.availableReplicas ?? 0) === replicas;
}

function deployment(): Deployment {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'nginx-deployment', labels: { app: 'nginx' } },
    spec: {
      replicas, selector: { matchLabels: { app: 'nginx' } },
      template: {
        metadata: { labels: { app: 'nginx' } },
        spec: { containers: [{ name: 'nginx', image: 'nginx:1.17.8', ports: [{ containerPort: 80 }], resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
      },
    },
  };
}

/** The floor: bare pods already bound to a node, created by 16 clients, until the simulator has them all Running. */
async function floor(client: RestClient): Promise<number> {
  let running = 0;
  const ac = new AbortController();
  const allRunning = new Promise<void>((resolve) => {
    void client.watch<Pod>('/api/v1/namespaces/floor/pods?watch=true', (e) => {
      if (e.type === 'MODIFIED' && e.object.status?.phase === 'Running' && e.object.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) {
        if (++running === replicas) { resolve(); ac.abort(); }
      }
    }, ac.signal);
  });
  await client.call('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'floor' } } });
  await new Promise((r) => setTimeout(r, 200));
  const t0 = performance.now();
  await parallel(replicas, clients, async (i) => {
    await client.call('POST', '/api/v1/namespaces/floor/pods', {
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: `bare-${i}` }, spec: { nodeName: `sim-${(i % nodeCount) + 1}`, containers: [{ name: 'nginx', image: 'nginx:1.17.8' }] } },
    });
  });
  await allRunning;
  return (performance.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const server = await startServer();
  const client = new RestClient(loadKubeconfig(server.kubeconfig), { maxSockets: clients });
  const simClient = new RestClient(loadKubeconfig(server.kubeconfig), { maxSockets: 64, userAgent: 'skiff-simulate/bench' });
  const sim = new SimulatedNodes({
    client: simClient, concurrency: 64,
    nodes: Array.from({ length: nodeCount }, (_, i) => ({ name: `sim-${i + 1}`, cpu: '32', memory: '128Gi', pods: 110 })),
  });
  try {
    await sim.start();
    const floorSecs = await floor(client);
    await client.call('DELETE', '/api/v1/namespaces/floor');
    // Let the namespace's pods drain before the clock starts again.
    for (let i = 0; i < 600; i++) {
      const left = await client.call<{ items: unknown[] }>('GET', '/api/v1/namespaces/floor/pods?limit=1').catch(() => ({ items: [] }));
      if (left.items.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const cpu0 = cpuSeconds(server.pid);
    const t0 = performance.now();
    const created = await client.call<Deployment>('POST', '/apis/apps/v1/namespaces/default/deployments', { body: deployment() });
    await waitFor<Deployment>(client, '/apis/apps/v1/namespaces/default/deployments?fieldSelector=metadata.name%3Dnginx-deployment', (d) => rolledOut(d, created.metadata!.generation ?? 1), 300_000);
    const toRunning = (performance.now() - t0) / 1000;

    const t1 = performance.now();
    const patched = await client.call<Deployment>('PATCH', '/apis/apps/v1/namespaces/default/deployments/nginx-deployment', {
      body: { spec: { template: { spec: { containers: [{ name: 'nginx', image: 'nginx:1.17.10' }] } } } }, contentType: 'application/strategic-merge-patch+json',
    });
    await waitFor<Deployment>(client, '/apis/apps/v1/namespaces/default/deployments?fieldSelector=metadata.name%3Dnginx-deployment', (d) => rolledOut(d, patched.metadata!.generation!), 300_000);
    const rollSecs = (performance.now() - t1) / 1000;
    const cpu = cpuSeconds(server.pid) - cpu0;
    process.stdout.write(JSON.stringify({
      bench: 'rollout', replicas, nodes: nodeCount,
      seconds_to_all_running: round2(toRunning),
      rollout_update_seconds: round2(rollSecs),
      floor_bare_pods_seconds: round2(floorSecs),
      ratio_to_floor: round2(toRunning / floorSecs),
      server_cpu_seconds: round2(cpu),
    }) + '\n');
  } finally {
    await sim.stop();
    client.close();
    simClient.close();
    await server.stop();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench rollout failed: ${e.stack}\n`);
  process.exit(1);
});

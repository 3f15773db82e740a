/**
 * Failover benchmark: a one-replica Deployment on simulated nodes (SIMULATION: no containers run);
 * the node holding its pod stops heartbeating, and the clock runs from that moment to the replacement
 * pod Running (and Ready) on another node. What is unavoidable is the server's
 * `--node-monitor-grace-period` plus the pod's `tolerationSeconds` for the unreachable taint; the rest
 * (`overhead_s`) is detection, tainting, eviction, the ReplicaSet's new pod, scheduling and start.
 * Runs BENCH_RUNS times (default 3), moving the pod from node to node, and prints the median as one
 * JSON line, with the phases of the median run.
 */
import { performance } from 'node:perf_hooks';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import { loadKubeconfig } from '../src/client/kubeconfig.js';
import { RestClient } from '../src/client/rest-client.js';
import { SimulatedNodes } from '../src/simulate/simulated-nodes.js';
import { startServer } from './harness.js';

const graceS = Number(process.env['BENCH_GRACE_S'] ?? 4);
const tolerationS = Number(process.env['BENCH_TOLERATION_S'] ?? 2);
const runs = Number(process.env['BENCH_RUNS'] ?? 3);
const nodeCount = 4;
const heartbeatMs = 200;
const round2 = (n: number): number => Math.round(n * 100) / 100;

const podsPath = '/api/v1/namespaces/default/pods';
const isRunning = (p: Pod): boolean => p.status?.phase === 'Running' && !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

function deployment(): unknown {
  const tol = (key: string): unknown => ({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: tolerationS });
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'failover' },
    spec: {
      replicas: 1, selector: { matchLabels: { app: 'failover' } },
      template: {
        metadata: { labels: { app: 'failover' } },
        spec: { tolerations: [tol('node.kubernetes.io/unreachable'), tol('node.kubernetes.io/not-ready')], containers: [{ name: 'web', image: 'nginx:1.17.8' }] },
      },
    },
  };
}

/** Seconds after `t0` at which each step was first seen. */
interface Phases { node_unknown_s?: number; tainted_s?: number; evicted_s?: number; replacement_created_s?: number; replacement_bound_s?: number; replacement_running_s?: number }

async function running(client: RestClient): Promise<Pod> {
  for (let i = 0; i < 300; i++) {
    const l = await client.call<{ items: Pod[] }>('GET', `${podsPath}?labelSelector=app%3Dfailover`);
    const live = l.items.filter((p) => !p.metadata?.deletionTimestamp);
    if (live.length === 1 && isRunning(live[0]!)) return live[0]!;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the failover pod is not running');
}

/** One failover: stops the heartbeats of the pod's node and times the way to a replacement running elsewhere. */
async function failover(client: RestClient, sim: SimulatedNodes): Promise<{ total: number; sinceLastHeartbeat: number; phases: Phases }> {
  const victim = await running(client);
  const lost = victim.spec!.nodeName!;
  const phases: Phases = {};
  let t0 = 0;
  const at = (): number => round2((performance.now() - t0) / 1000);
  const ac = new AbortController();
  let done: () => void = () => undefined;
  const replaced = new Promise<void>((r) => { done = r; });
  void client.watch<Node>(`/api/v1/nodes?watch=true&fieldSelector=metadata.name%3D${lost}`, (e) => {
    if (!t0) return;
    const n = e.object;
    if (phases.node_unknown_s === undefined && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'Unknown')) phases.node_unknown_s = at();
    if (phases.tainted_s === undefined && n.spec?.taints?.some((t) => t.effect === 'NoExecute' && t.key === 'node.kubernetes.io/unreachable')) phases.tainted_s = at();
  }, ac.signal).catch(() => undefined);
  void client.watch<Pod>(`${podsPath}?watch=true&labelSelector=app%3Dfailover`, (e) => {
    if (!t0) return;
    const p = e.object;
    if (p.metadata?.uid === victim.metadata?.uid) {
      if (phases.evicted_s === undefined && p.metadata?.deletionTimestamp) phases.evicted_s = at();
      return;
    }
    if (e.type === 'DELETED') return;
    phases.replacement_created_s ??= at();
    if (phases.replacement_bound_s === undefined && p.spec?.nodeName) phases.replacement_bound_s = at();
    if (phases.replacement_running_s === undefined && isRunning(p) && p.spec?.nodeName !== lost) { phases.replacement_running_s = at(); done(); }
  }, ac.signal).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 300));

  t0 = performance.now();
  const stoppedAtWall = Date.now();
  sim.stopHeartbeats(lost);
  const lease = await client.call<Lease>('GET', `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${lost}`);
  const timeout = new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no replacement within 120 s')), 120_000));
  await Promise.race([replaced, timeout]);
  const total = (performance.now() - t0) / 1000;
  ac.abort();
  // Bring the node back and wait until it is clean, for the next run.
  await sim.resumeHeartbeats(lost);
  for (let i = 0; i < 600; i++) {
    const n = await client.call<Node>('GET', `/api/v1/nodes/${lost}`);
    const pods = await client.call<{ items: Pod[] }>('GET', `${podsPath}?labelSelector=app%3Dfailover`);
    if (!(n.spec?.taints ?? []).length && pods.items.length === 1) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const renew = Date.parse(lease.spec?.renewTime ?? '');
  return { total, sinceLastHeartbeat: Number.isNaN(renew) ? 0 : Math.max(0, (stoppedAtWall - renew) / 1000), phases };
}

async function main(): Promise<void> {
  const server = await startServer(['--node-monitor-grace-period', `${graceS}s`]);
  const client = new RestClient(loadKubeconfig(server.kubeconfig));
  const simClient = new RestClient(loadKubeconfig(server.kubeconfig), { userAgent: 'skiff-simulate/bench' });
  const sim = new SimulatedNodes({ client: simClient, heartbeatMs, nodes: Array.from({ length: nodeCount }, (_, i) => ({ name: `sim-${i + 1}` })) });
  try {
    await sim.start();
    await client.call('POST', '/apis/apps/v1/namespaces/default/deployments', { body: deployment() });
    const results: Awaited<ReturnType<typeof failover>>[] = [];
    for (let i = 0; i < runs; i++) {
      // One node per 10 s is the default eviction rate (--node-eviction-rate 0.1): runs keep that apart.
      if (i > 0) await new Promise((r) => setTimeout(r, 10_500));
      results.push(await failover(client, sim));
    }
    const sorted = [...results].sort((a, b) => a.total - b.total);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    process.stdout.write(JSON.stringify({
      bench: 'failover', grace_s: graceS, toleration_s: tolerationS,
      seconds_to_replacement_running: round2(median.total),
      overhead_s: round2(median.total - graceS - tolerationS),
      runs: results.map((r) => round2(r.total)),
      nodes: nodeCount, heartbeat_s: heartbeatMs / 1000,
      // The grace period counts from the last heartbeat, which came this long before the stop.
      since_last_heartbeat_s: round2(median.sinceLastHeartbeat),
      overhead_from_last_heartbeat_s: round2(median.total + median.sinceLastHeartbeat - graceS - tolerationS),
      phases: median.phases,
    }) + '\n');
  } finally {
    await sim.stop();
    client.close();
    simClient.close();
    await server.stop();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench failover failed: ${e.stack}\n`);
  process.exit(1);
});

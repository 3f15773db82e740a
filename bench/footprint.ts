/**
 * Footprint benchmark: resident memory and CPU of a whole one-machine cluster (the server process —
 * API, store, scheduler, controllers — and the node agent process), idle and with 20 pods running, with
 * the per-container monitors (conmon) and pod sandboxes (pause) counted apart. The floor is what the
 * workload itself needs: 20 pods of `sleep` have no resident runtime under raw runc, so every megabyte
 * here is overhead. Peers for scale: k3s server 1.4–1.6 GB, k3s agent 268–275 MB (perf-anchors §5).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { loadKubeconfig } from '../src/client/kubeconfig.js';
import { RestClient } from '../src/client/rest-client.js';
import { agentIdentity } from '../src/cli/agent-setup.js';
import { cpuSeconds, rssMb, startServer } from './harness.js';

const pods = Number(process.env['BENCH_PODS'] ?? 20);
const round = (n: number): number => Math.round(n * 10) / 10;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Processes whose command line contains `needle` (pgrep -f), as pids. */
function pids(needle: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', needle]).toString().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The parent of a process, from /proc. */
function parentOf(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  } catch {
    return -1;
  }
}

/** Resident memory (MB) of the processes, summed (those gone meanwhile count nothing). */
function sumRss(list: readonly number[]): number {
  return list.reduce((a, p) => { try { return a + rssMb(p); } catch { return a; } }, 0);
}

/** CPU used (as % of one core) by `pid` over `ms`. */
async function idleCpuPercent(pid: number, ms: number): Promise<number> {
  const a = cpuSeconds(pid);
  await sleep(ms);
  return ((cpuSeconds(pid) - a) / (ms / 1000)) * 100;
}

async function main(): Promise<void> {
  const server = await startServer([], { agent: true });
  const client = new RestClient(loadKubeconfig(server.kubeconfig));
  try {
    for (let i = 0; i < 300; i++) {
      const nodes = await client.call<{ items: { status?: { conditions?: { type: string; status: string }[] } }[] }>('GET', '/api/v1/nodes');
      if (nodes.items.some((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))) break;
      await sleep(100);
    }
    const agentPid = Number(execFileSync('pgrep', ['-P', String(server.pid), '-f', 'component-worker']).toString().trim());
    // Settle: images imported, first heartbeats and lease renewals done, garbage collected.
    await sleep(5000);
    const idle = { server: rssMb(server.pid), agent: rssMb(agentPid) };
    const [serverCpu, agentCpu] = await Promise.all([idleCpuPercent(server.pid, 10_000), idleCpuPercent(agentPid, 10_000)]);

    const pod = (name: string): Pod => ({
      apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { bench: 'footprint' } },
      spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'main', image: 'busybox:latest', imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] },
    } as Pod);
    await Promise.all(Array.from({ length: pods }, (_, i) => client.call('POST', '/api/v1/namespaces/default/pods', { body: pod(`fp-${i}`) })));
    for (let i = 0; i < 600; i++) {
      const list = await client.call<{ items: Pod[] }>('GET', '/api/v1/namespaces/default/pods?labelSelector=bench%3Dfootprint');
      if (list.items.filter((p) => p.status?.phase === 'Running').length === pods) break;
      await sleep(100);
    }
    await sleep(5000);
    const conmons = pids(`conmon .*--root=${agentIdentity(join(server.dataDir, 'agent')).runcRoot}`);
    const monitors = new Set(conmons);
    const pauses = pids('^/pause$').filter((p) => monitors.has(parentOf(p)));
    const loaded = { server: rssMb(server.pid), agent: rssMb(agentPid), conmon: sumRss(conmons), pause: sumRss(pauses) };
    process.stdout.write(`${JSON.stringify({
      bench: 'footprint',
      server_rss_mb: round(idle.server + idle.agent),
      with_20_pods_rss_mb: round(loaded.server + loaded.agent + loaded.conmon + loaded.pause),
      idle_server_rss_mb: round(idle.server), idle_agent_rss_mb: round(idle.agent), idle_total_rss_mb: round(idle.server + idle.agent),
      idle_server_cpu_pct: round(serverCpu), idle_agent_cpu_pct: round(agentCpu),
      pods, loaded_server_rss_mb: round(loaded.server), loaded_agent_rss_mb: round(loaded.agent),
      conmon_count: conmons.length, conmon_rss_mb: round(loaded.conmon), pause_count: pauses.length, pause_rss_mb: round(loaded.pause),
      overhead_per_pod_mb: round((loaded.server + loaded.agent + loaded.conmon + loaded.pause - idle.server - idle.agent) / pods),
      floor_overhead_mb: 0,
      k3s_server_idle_rss_mb: 1428, ratio_to_k3s_server: round((idle.server + idle.agent) / 1428),
    })}\n`);
  } finally {
    client.close();
    await server.stop();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench footprint failed: ${e.stack}\n`);
  process.exit(1);
});

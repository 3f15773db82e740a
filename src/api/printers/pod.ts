import type { Pod, Container } from 'kubernetes-types/core/v1.js';
import { ageColumn, col, nameColumn, type TablePrinter } from './table.js';
import { since } from './duration.js';

const isSidecar = (c: Container | undefined): boolean => c?.restartPolicy === 'Always';

/** The STATUS column: upstream's printPod reason logic (init progress, waiting/terminated reasons, Terminating). */
export function podStatusReason(pod: Pod): { reason: string; ready: number; total: number; restarts: number; lastRestart: number } {
  const spec = pod.spec ?? { containers: [] };
  const status = pod.status ?? {};
  let restarts = 0;
  let sidecarRestarts = 0;
  let total = spec.containers?.length ?? 0;
  let ready = 0;
  let lastRestart = 0;
  let lastSidecarRestart = 0;
  const phase = status.phase ?? '';
  let reason = status.reason || phase;
  for (const c of status.conditions ?? []) if (c.type === 'PodScheduled' && c.reason === 'SchedulingGated') reason = 'SchedulingGated';
  const inits = new Map((spec.initContainers ?? []).map((c) => [c.name, c]));
  for (const c of spec.initContainers ?? []) if (isSidecar(c)) total++;

  let initializing = false;
  const initStatuses = status.initContainerStatuses ?? [];
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i]!;
    restarts += cs.restartCount ?? 0;
    const finished = cs.lastState?.terminated?.finishedAt ? Date.parse(cs.lastState.terminated.finishedAt) : 0;
    if (finished > lastRestart) lastRestart = finished;
    const sidecar = isSidecar(inits.get(cs.name));
    if (sidecar) {
      sidecarRestarts += cs.restartCount ?? 0;
      if (finished > lastSidecarRestart) lastSidecarRestart = finished;
    }
    const t = cs.state?.terminated;
    const w = cs.state?.waiting;
    // exitCode is required in the API; a missing one decodes as 0 upstream.
    if (t && (t.exitCode ?? 0) === 0) continue;
    if (sidecar && cs.started) { if (cs.ready) ready++; continue; }
    if (t) {
      reason = t.reason ? `Init:${t.reason}` : t.signal ? `Init:Signal:${t.signal}` : `Init:ExitCode:${t.exitCode ?? 0}`;
    } else if (w && w.reason && w.reason !== 'PodInitializing') {
      reason = `Init:${w.reason}`;
    } else {
      reason = `Init:${i}/${spec.initContainers?.length ?? 0}`;
    }
    initializing = true;
    break;
  }
  const initialized = (status.conditions ?? []).some((c) => c.type === 'Initialized' && c.status === 'True');
  if (!initializing || initialized) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    const cstats = status.containerStatuses ?? [];
    for (let i = cstats.length - 1; i >= 0; i--) {
      const cs = cstats[i]!;
      restarts += cs.restartCount ?? 0;
      const finished = cs.lastState?.terminated?.finishedAt ? Date.parse(cs.lastState.terminated.finishedAt) : 0;
      if (finished > lastRestart) lastRestart = finished;
      const w = cs.state?.waiting;
      const t = cs.state?.terminated;
      if (w && w.reason) reason = w.reason;
      else if (t && t.reason) reason = t.reason;
      else if (t) reason = t.signal ? `Signal:${t.signal}` : `ExitCode:${t.exitCode ?? 0}`;
      else if (cs.ready && cs.state?.running) { hasRunning = true; ready++; }
    }
    if (reason === 'Completed' && hasRunning) {
      reason = (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') ? 'Running' : 'NotReady';
    }
  }
  if (pod.metadata?.deletionTimestamp && status.reason === 'NodeLost') reason = 'Unknown';
  else if (pod.metadata?.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';
  return { reason, ready, total, restarts, lastRestart };
}

export const podPrinter: TablePrinter<Pod> = {
  columns: [
    nameColumn,
    col('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
    col('Status', 'The aggregate status of the containers in this pod.'),
    col('Restarts', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
    ageColumn,
    col('IP', 'IP address allocated to the pod. Routable at least within the cluster.', 1),
    col('Node', 'Name of the node the pod is assigned to.', 1),
    col('Nominated Node', 'Name of the node where the pod was nominated to run after preemption.', 1),
    col('Readiness Gates', 'Readiness gates of the pod and how many of them are true.', 1),
  ],
  row(pod, now) {
    const s = podStatusReason(pod);
    const restarts = s.restarts !== 0 && s.lastRestart > 0 ? `${s.restarts} (${since(new Date(s.lastRestart).toISOString(), now)} ago)` : String(s.restarts);
    const gates = pod.spec?.readinessGates ?? [];
    let gatesCell = '<none>';
    if (gates.length > 0) {
      // Only the first condition of each gate's type counts, as upstream.
      const trueCount = gates.filter((g) => (pod.status?.conditions ?? []).find((c) => c.type === g.conditionType)?.status === 'True').length;
      gatesCell = `${trueCount}/${gates.length}`;
    }
    return [
      pod.metadata?.name ?? '', `${s.ready}/${s.total}`, s.reason, restarts, since(pod.metadata?.creationTimestamp, now),
      // v1 podIP wins over podIPs when both are set (the v1 → internal conversion upstream prints from).
      pod.status?.podIP || pod.status?.podIPs?.[0]?.ip || '<none>', pod.spec?.nodeName || '<none>', pod.status?.nominatedNodeName || '<none>', gatesCell,
    ];
  },
  conditions(pod) {
    if (pod.status?.phase === 'Succeeded') return [{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }];
    if (pod.status?.phase === 'Failed') return [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }];
    return undefined;
  },
};

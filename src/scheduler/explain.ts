import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import { findNode, fitErrorMessage, preemptionDryRun, type Snapshot } from './algorithm.js';
import { labelsKey } from './framework.js';
import { ClusterTotals, NodeInfo, newPodInfo, type PodInfo } from './node-info.js';

/** A scheduler's-eye view of a cluster built from listed nodes and pods (for explanations and what-if). */
export class ClusterView implements Snapshot {
  readonly nodes: NodeInfo[];
  readonly #byName: Map<string, NodeInfo>;
  readonly #same = new Map<string, Map<string, number>>();
  readonly totals = new ClusterTotals();

  constructor(nodes: readonly Node[], pods: readonly Pod[]) {
    this.nodes = nodes.map((n) => new NodeInfo(n, this.totals));
    this.#byName = new Map(this.nodes.map((n) => [n.name, n]));
    for (const p of pods) {
      const phase = p.status?.phase;
      if (p.spec?.nodeName && phase !== 'Succeeded' && phase !== 'Failed') this.place(p, p.spec.nodeName);
    }
  }

  *allPods(): Iterable<PodInfo> {
    for (const n of this.nodes) yield* n.pods.values();
  }

  sameLabels(k: string): ReadonlyMap<string, number> | undefined {
    return this.#same.get(k);
  }

  place(p: Pod, node: string): void {
    const info = this.#byName.get(node);
    if (!info) return;
    info.addPod(newPodInfo(p));
    const k = `${p.metadata?.namespace}|${labelsKey(p.metadata?.labels)}`;
    const m = this.#same.get(k) ?? new Map<string, number>();
    m.set(node, (m.get(node) ?? 0) + 1);
    this.#same.set(k, m);
  }
}

/**
 * `skiff explain-pending`: node by node, why the pod does not fit (every failing filter, with how much is
 * missing), which nodes would take it, and the FailedScheduling summary upstream would print.
 */
export function explainPending(pod: Pod, view: ClusterView): string {
  const r = findNode(pod, view, { exhaustive: true });
  const lines: string[] = [];
  const name = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
  const state = pod.spec?.nodeName ? `bound to ${pod.spec.nodeName}` : pod.status?.conditions?.find((c) => c.type === 'PodScheduled')?.reason === 'Unschedulable' ? 'Pending (unschedulable)' : 'Pending';
  lines.push(`Pod ${name}: ${state}`);
  const req = newPodInfo(pod).requests;
  const show = ['cpu', 'memory', 'ephemeral-storage'].filter((k) => (req.get(k) ?? 0) > 0);
  if (show.length > 0) {
    const fmt = (k: string): string => {
      const v = req.get(k)!;
      if (k === 'cpu') return v % 1000 === 0 ? `${v / 1000}` : `${v}m`;
      const gi = v / 1000 / 2 ** 30;
      return gi >= 1 ? `${Math.round(gi * 10) / 10}Gi` : `${Math.round(v / 1000 / 2 ** 20)}Mi`;
    };
    lines.push(`Requests (all containers together): ${show.map((k) => `${k} ${fmt(k)}`).join(', ')}`);
  }
  lines.push(`Nodes (${view.nodes.length}):`);
  for (const n of view.nodes) {
    const s = r.statuses.get(n.name);
    if (!s) {
      lines.push(`  ${n.name}: fits (score ${r.scores.get(n.name) ?? '-'})`);
      continue;
    }
    for (const d of s.detail ?? s.reasons) lines.push(`  ${n.name}: ${d}`);
  }
  if (view.nodes.length === 0) lines.push('  (no nodes registered)');
  if (r.node === undefined) {
    // The scheduler stops at the first failing filter of each node: its summary counts only that one.
    const first = findNode(pod, view);
    const pre = preemptionDryRun(pod, view, first);
    lines.push(`Scheduler says: ${fitErrorMessage(view.nodes.length, first, pre.message || undefined)}`);
    if (pre.candidates.length > 0) lines.push(`Preemption could make room on ${pre.candidates[0]!.node} by evicting ${pre.candidates[0]!.victims.map((v) => v.key).join(', ')}`);
  } else {
    lines.push(`Would be placed on: ${r.node}`);
  }
  return lines.join('\n') + '\n';
}

/** The pods a manifest would create: Pods as they are, workloads' templates times their replicas. */
export function podsOf(doc: Record<string, unknown>, namespace: string): Pod[] {
  const kind = doc['kind'];
  const meta = (doc['metadata'] ?? {}) as { name?: string; namespace?: string };
  const ns = meta.namespace ?? namespace;
  if (kind === 'Pod') return [{ ...(doc as Pod), metadata: { ...(doc as Pod).metadata, namespace: ns } }];
  if (kind === 'Deployment' || kind === 'ReplicaSet') {
    const w = doc as Deployment | ReplicaSet;
    const n = w.spec?.replicas ?? 1;
    return Array.from({ length: n }, (_, i) => ({
      apiVersion: 'v1', kind: 'Pod',
      metadata: { ...(w.spec?.template?.metadata ?? {}), name: `${meta.name}-${i + 1}`, namespace: ns, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: meta.name ?? '', uid: 'what-if', controller: true }] },
      spec: w.spec?.template?.spec ?? { containers: [] },
    }));
  }
  return [];
}

/** `skiff what-if`: places the pods one after another on the current cluster, nothing created. */
export function whatIf(pods: readonly Pod[], view: ClusterView): string {
  const rows: string[][] = [['POD', 'NODE', 'WHY']];
  for (const p of pods) {
    const r = findNode(p, view);
    const name = `${p.metadata?.namespace}/${p.metadata?.name}`;
    if (r.node) {
      view.place({ ...p, spec: { ...p.spec!, nodeName: r.node } }, r.node);
      rows.push([name, r.node, `fits on ${r.feasible} of ${view.nodes.length} node(s)`]);
    } else {
      rows.push([name, '<pending>', fitErrorMessage(view.nodes.length, r)]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('   ')).join('\n') + '\n';
}

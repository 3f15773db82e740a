import type { Pod } from 'kubernetes-types/core/v1.js';
import { CycleState, maxNodeScore, type Plugin, type Status } from './framework.js';
import { NodeInfo, newPodInfo, type ClusterTotals, type PodInfo } from './node-info.js';
import { nodeUnschedulable } from './plugins/node-unschedulable.js';
import { nodeName } from './plugins/node-name.js';
import { taintToleration } from './plugins/taint-toleration.js';
import { nodeAffinity } from './plugins/node-affinity.js';
import { nodePorts } from './plugins/node-ports.js';
import { balancedAllocation, nodeResourcesFit } from './plugins/node-resources.js';
import { interPodAffinity } from './plugins/inter-pod-affinity.js';
import { podTopologySpread } from './plugins/pod-topology-spread.js';
import { imageLocality } from './plugins/image-locality.js';
import { podSpreadScore } from './plugins/spread-score.js';

/** Upstream's default profile, in its filter order (cheap and decisive checks first). */
export const defaultPlugins: readonly Plugin[] = [
  nodeUnschedulable, nodeName, taintToleration, nodeAffinity, nodePorts, nodeResourcesFit,
  podTopologySpread, interPodAffinity, balancedAllocation, imageLocality, podSpreadScore,
];

/** The cluster as one scheduling attempt sees it. */
export interface Snapshot {
  readonly nodes: readonly NodeInfo[];
  allPods(): Iterable<PodInfo>;
  sameLabels?(labelsKey: string): ReadonlyMap<string, number> | undefined;
  /** Counts the NodeInfos of `nodes` keep (see ClusterTotals). */
  readonly totals?: ClusterTotals;
}

export interface FindOptions {
  readonly plugins?: readonly Plugin[];
  /** Where to start looking, so successive pods spread their search over all nodes. */
  readonly startIndex?: number;
  /** Evaluate every node and every filter (for explanations), not just enough to pick a good node. */
  readonly exhaustive?: boolean;
  /** Keep each scored node's total in the result (implied by `exhaustive`). */
  readonly recordScores?: boolean;
  /** Upstream's percentageOfNodesToScore; 0 = adaptive default. */
  readonly percentageOfNodesToScore?: number;
  /** Random source for breaking ties between equally good nodes. */
  readonly random?: () => number;
}

export interface FindResult {
  readonly node?: string;
  /** Why each rejected node was rejected. */
  readonly statuses: Map<string, Status>;
  readonly evaluated: number;
  readonly feasible: number;
  /** Total score of each scored node, when asked for (explanations). */
  readonly scores: Map<string, number>;
  readonly preFilter?: Status;
}

/** How many feasible nodes are enough to choose from (upstream's numFeasibleNodesToFind). */
export function feasibleNodesToFind(all: number, percentage = 0): number {
  if (all < 100) return all;
  let pct = percentage;
  if (pct <= 0) pct = Math.max(5, 50 - Math.floor(all / 125));
  return Math.max(100, Math.floor((all * pct) / 100));
}

/**
 * One scheduling decision: run the filters over nodes (starting at `startIndex`, stopping once enough
 * feasible nodes are found), score the feasible ones, and pick the best (a random one among ties).
 */
export function findNode(pod: Pod, snap: Snapshot, o: FindOptions = {}): FindResult {
  const plugins = o.plugins ?? defaultPlugins;
  const info = newPodInfo(pod);
  const state = new CycleState(info, snap.nodes, () => snap.allPods(), (k) => snap.sameLabels?.(k), snap.totals);
  const statuses = new Map<string, Status>();
  const scores = new Map<string, number>();
  for (const p of plugins) {
    const s = p.preFilter?.(state, pod);
    if (s && s.code !== 'Success') {
      for (const n of snap.nodes) statuses.set(n.name, { ...s, plugin: p.name });
      return { statuses, evaluated: snap.nodes.length, feasible: 0, scores, preFilter: { ...s, plugin: p.name } };
    }
  }
  const all = snap.nodes.length;
  const want = o.exhaustive ? all : feasibleNodesToFind(all, o.percentageOfNodesToScore);
  const feasible: NodeInfo[] = [];
  let evaluated = 0;
  const start = all === 0 ? 0 : (o.startIndex ?? 0) % all;
  const filters = plugins.filter((p) => p.filter);
  for (let i = 0; i < all && feasible.length < want; i++) {
    const node = snap.nodes[(start + i) % all]!;
    evaluated++;
    let failed: Status | undefined;
    for (const p of filters) {
      const s = p.filter!(state, pod, node);
      if (s.code === 'Success') continue;
      if (!failed) failed = { code: s.code, reasons: s.reasons, ...(s.detail ? { detail: s.detail } : {}), plugin: p.name };
      else failed = { code: failed.code === 'UnschedulableAndUnresolvable' ? failed.code : s.code, reasons: [...failed.reasons, ...s.reasons], detail: [...(failed.detail ?? []), ...(s.detail ?? [])], plugin: failed.plugin };
      if (!o.exhaustive) break;
    }
    if (failed) statuses.set(node.name, failed);
    else feasible.push(node);
  }
  if (feasible.length === 0) return { statuses, evaluated, feasible: 0, scores };
  if (feasible.length === 1 && !o.exhaustive) return { node: feasible[0]!.name, statuses, evaluated, feasible: 1, scores };
  const totals = new Array<number>(feasible.length).fill(0);
  for (const p of plugins) {
    if (!p.score) continue;
    p.preScore?.(state, pod, feasible);
    const raw = new Array<number>(feasible.length);
    for (let i = 0; i < feasible.length; i++) raw[i] = p.score(state, pod, feasible[i]!);
    p.normalize?.(raw);
    const w = p.weight ?? 1;
    for (let i = 0; i < raw.length; i++) totals[i]! += Math.min(maxNodeScore, Math.max(0, raw[i]!)) * w;
  }
  let best = -1;
  let bestScore = -Infinity;
  let ties = 0;
  const random = o.random ?? Math.random;
  for (let i = 0; i < feasible.length; i++) {
    // Totals per node only serve explanations; the hot path does not build the map.
    if (o.exhaustive || o.recordScores) scores.set(feasible[i]!.name, totals[i]!);
    if (totals[i]! > bestScore) { bestScore = totals[i]!; best = i; ties = 1; }
    else if (totals[i] === bestScore) {
      ties++;
      if (random() * ties < 1) best = i;
    }
  }
  return { node: feasible[best]!.name, statuses, evaluated, feasible: feasible.length, scores };
}

/** Upstream's FitError message: `0/3 nodes are available: 1 Insufficient memory, 2 node(s) ... .` */
export function fitErrorMessage(numAllNodes: number, r: FindResult, postFilter?: string): string {
  // Upstream fails before filtering, with ErrNoNodesAvailable, when there are no nodes at all.
  if (numAllNodes === 0) return 'no nodes available to schedule pods';
  let msg = `0/${numAllNodes} nodes are available:`;
  if (r.preFilter) msg += ` ${r.preFilter.reasons.join(', ')}.`;
  else {
    const counts = new Map<string, number>();
    for (const s of r.statuses.values()) for (const reason of s.reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
    const parts = [...counts].map(([reason, n]) => `${n} ${reason}`).sort();
    if (parts.length > 0) msg += ` ${parts.join(', ')}.`;
  }
  if (postFilter) msg += ` ${postFilter}.`;
  return msg;
}

/** Pods a preemption could evict from a node for `pod`: lower priority, lowest first. */
export interface PreemptionCandidate {
  readonly node: string;
  readonly victims: readonly PodInfo[];
}

const priorityOf = (p: Pod): number => p.spec?.priority ?? 0;
const startOf = (p: Pod): number => (p.status?.startTime ? Date.parse(p.status.startTime) : Number.POSITIVE_INFINITY);

/** Upstream's MoreImportantPod: higher priority first, then the one that started earlier. */
function moreImportant(a: Pod, b: Pod): number {
  if (priorityOf(a) !== priorityOf(b)) return priorityOf(b) - priorityOf(a);
  const sa = startOf(a);
  const sb = startOf(b);
  return sa === sb ? 0 : sa < sb ? -1 : 1;
}

/** Runs the pre-filters over `nodes` (the whole cluster) and the filters on `target`, one of them. */
function filterOne(pod: Pod, nodes: readonly NodeInfo[], target: NodeInfo, plugins: readonly Plugin[]): Status {
  const state = new CycleState(newPodInfo(pod), nodes, function* () { for (const n of nodes) yield* n.pods.values(); });
  for (const p of plugins) {
    const s = p.preFilter?.(state, pod);
    if (s && s.code !== 'Success') return { ...s, plugin: p.name };
  }
  for (const p of plugins) {
    if (!p.filter) continue;
    const s = p.filter(state, pod, target);
    if (s.code !== 'Success') return { ...s, plugin: p.name };
  }
  return { code: 'Success', reasons: [] };
}

/**
 * Could a filter's verdict on one node depend on pods elsewhere? Only hard topology spread, required pod
 * (anti-)affinity of the pod, or some existing pod's required anti-affinity make it so.
 */
function needsWholeCluster(pod: Pod, snap: Snapshot): boolean {
  const a = pod.spec?.affinity;
  if ((pod.spec?.topologySpreadConstraints ?? []).some((c) => c.whenUnsatisfiable === 'DoNotSchedule')) return true;
  if (a?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length || a?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length) return true;
  for (const n of snap.nodes) for (const p of n.pods.values()) if (p.pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length) return true;
  return false;
}

const notHelpful = 'Preemption is not helpful for scheduling';
const noVictims = 'No preemption victims found for incoming pod';

/**
 * The PostFilter of upstream's DefaultPreemption, as a dry run: for each node rejected for a reason
 * eviction could fix (Unschedulable, not UnschedulableAndUnresolvable), would the pod fit with the
 * lower-priority pods gone — judged against the whole cluster, so spreading and affinity see the other
 * nodes — and which of them can stay? Returns the candidates, best first by upstream's criteria (lowest
 * highest-priority victim, lowest priority sum, fewest victims), and the `preemption: ...` part of the
 * FailedScheduling message when there is none.
 */
export function preemptionDryRun(pod: Pod, snap: Snapshot, r: FindResult, plugins: readonly Plugin[] = defaultPlugins): { candidates: PreemptionCandidate[]; message: string } {
  if (pod.spec?.preemptionPolicy === 'Never') return { candidates: [], message: 'preemption: not eligible due to preemptionPolicy=Never' };
  const counts = new Map<string, number>();
  const note = (reason: string): void => { counts.set(reason, (counts.get(reason) ?? 0) + 1); };
  const candidates: PreemptionCandidate[] = [];
  const prio = priorityOf(pod);
  const wholeCluster = needsWholeCluster(pod, snap);
  // Upstream stops once it has max(100, 10% of the nodes) candidates (minCandidateNodesAbsolute/Percentage).
  const enough = Math.max(100, Math.floor(snap.nodes.length / 10));
  for (const node of snap.nodes) {
    if (candidates.length >= enough) break;
    const status = r.statuses.get(node.name);
    if (status?.code !== 'Unschedulable') { note(notHelpful); continue; }
    const lower = [...node.pods.values()].filter((p) => priorityOf(p.pod) < prio);
    if (lower.length === 0) { note(noVictims); continue; }
    const trial = new NodeInfo(node.node);
    const lowerKeys = new Set(lower.map((p) => p.key));
    for (const p of node.pods.values()) if (!lowerKeys.has(p.key)) trial.addPod(p);
    const nodes = wholeCluster ? snap.nodes.map((n) => (n === node ? trial : n)) : [trial];
    const without = filterOne(pod, nodes, trial, plugins);
    if (without.code !== 'Success') { for (const reason of without.reasons) note(reason); continue; }
    // Put back as many of the evicted pods as still leave room, most important first.
    const victims: PodInfo[] = [];
    for (const p of [...lower].sort((a, b) => moreImportant(a.pod, b.pod))) {
      trial.addPod(p);
      if (filterOne(pod, nodes, trial, plugins).code !== 'Success') { trial.removePod(p.key); victims.push(p); }
    }
    if (victims.length > 0) candidates.push({ node: node.name, victims });
    else note(noVictims);
  }
  const highest = (c: PreemptionCandidate): number => Math.max(...c.victims.map((v) => priorityOf(v.pod)));
  // Upstream adds MaxInt32+1 to each priority, so the sum also prefers fewer victims.
  const sum = (c: PreemptionCandidate): number => c.victims.reduce((t, v) => t + priorityOf(v.pod) + 2 ** 31, 0);
  candidates.sort((a, b) => highest(a) - highest(b) || sum(a) - sum(b) || a.victims.length - b.victims.length);
  const parts = [...counts].map(([reason, n]) => `${n} ${reason}`).sort();
  const message = candidates.length > 0 ? '' : `preemption: 0/${snap.nodes.length} nodes are available: ${parts.join(', ')}`;
  return { candidates, message };
}

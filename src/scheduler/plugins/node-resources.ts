import type { CycleState, Plugin } from '../framework.js';
import { maxNodeScore, success } from '../framework.js';
import { formatAmount } from './format.js';

const named = new Set(['cpu', 'memory', 'ephemeral-storage']);
const fitKey = 'NodeResourcesFit';

/** One requested resource the filter compares with what a node has free. */
interface Check { readonly res: string; readonly want: number }

/**
 * Does the pod fit the node's allocatable resources next to the pods already there: cpu, memory,
 * ephemeral-storage, extended resources, and the pod count. The detail says by how much it does not.
 */
export const nodeResourcesFit: Plugin = {
  name: 'NodeResourcesFit',
  weight: 1,
  filter(state, _pod, node) {
    const checks = state.read<Check[]>(fitKey) ?? fitChecks(state);
    let ok = node.pods.size + 1 <= node.allocPods;
    for (let i = 0; ok && i < checks.length; i++) {
      const { res, want } = checks[i]!;
      const free = res === 'cpu' ? node.allocCpu - node.requestedCpu
        : res === 'memory' ? node.allocMemory - node.requestedMemory
          : (node.allocatable.get(res) ?? 0) - (node.requested.get(res) ?? 0);
      if (want > free) ok = false;
    }
    if (ok) return success;
    const maxPods = node.allocatable.get('pods');
    const reasons: string[] = [];
    const detail: string[] = [];
    if (maxPods !== undefined && node.pods.size + 1 > maxPods) {
      reasons.push('Too many pods');
      detail.push(`Too many pods: ${node.pods.size} of ${maxPods} allowed`);
    }
    for (const { res, want } of checks) {
      const alloc = node.allocatable.get(res) ?? 0;
      const used = node.requested.get(res) ?? 0;
      if (want > alloc - used) {
        reasons.push(`Insufficient ${res}`);
        detail.push(`Insufficient ${res}: requests ${formatAmount(res, want)}, free ${formatAmount(res, Math.max(0, alloc - used))} (allocatable ${formatAmount(res, alloc)}, already requested ${formatAmount(res, used)})`);
      }
    }
    if (reasons.length === 0) return success;
    return { code: 'Unschedulable', reasons, detail };
  },
  // LeastAllocated: prefer nodes with more room left, cpu and memory weighted equally (a resource the
  // node has none of is left out, as upstream's leastResourceScorer does).
  score(state, _pod, node) {
    const cpu = leastAllocated(node.allocCpu, node.scoringCpu + (state.pod.scoringRequests.get('cpu') ?? 0));
    const mem = leastAllocated(node.allocMemory, node.scoringMemory + (state.pod.scoringRequests.get('memory') ?? 0));
    if (cpu === undefined) return mem ?? 0;
    if (mem === undefined) return cpu;
    return Math.floor((cpu + mem) / 2);
  },
};

/**
 * BalancedAllocation: prefer nodes where cpu and memory would be used in similar proportions. As upstream,
 * it looks at the real requests (no 100m/200Mi defaults), leaves out a resource the node has none of,
 * and does not score a pod that requests neither cpu nor memory.
 */
export const balancedAllocation: Plugin = {
  name: 'NodeResourcesBalancedAllocation',
  weight: 1,
  score(state, _pod, node) {
    const wantCpu = state.pod.requests.get('cpu') ?? 0;
    const wantMem = state.pod.requests.get('memory') ?? 0;
    if (wantCpu === 0 && wantMem === 0) return 0;
    const cpu = fraction(node.allocCpu, node.requestedCpu + wantCpu);
    const mem = fraction(node.allocMemory, node.requestedMemory + wantMem);
    const std = cpu !== undefined && mem !== undefined ? Math.abs((cpu - mem) / 2) : 0;
    return Math.trunc((1 - std) * maxNodeScore);
  },
};

/** The share of an allocatable amount in use with the pod added; undefined when the node has none. */
function fraction(alloc: number, used: number): number | undefined {
  return alloc <= 0 ? undefined : Math.min(1, used / alloc);
}

/** How much room is left, 0..100; undefined (left out) when the node has none of the resource. */
function leastAllocated(alloc: number, used: number): number | undefined {
  if (alloc <= 0) return undefined;
  return used > alloc ? 0 : Math.floor(((alloc - used) * maxNodeScore) / alloc);
}

/**
 * What the filter compares, in upstream's order (cpu, memory, ephemeral-storage, then extended resources
 * and hugepages); computed once per cycle, since the filter runs on hundreds of nodes.
 */
function fitChecks(state: CycleState): Check[] {
  const order = [...named, ...[...state.pod.requests.keys()].filter((r) => !named.has(r))];
  const checks: Check[] = [];
  for (const res of order) {
    const want = state.pod.requests.get(res) ?? 0;
    if (want <= 0 || res === 'pods') continue;
    if (!named.has(res) && !res.includes('/') && !res.startsWith('hugepages-')) continue;
    checks.push({ res, want });
  }
  state.write(fitKey, checks);
  return checks;
}

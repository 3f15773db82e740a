import type { Plugin } from '../framework.js';
import { maxNodeScore, success } from '../framework.js';
import { formatAmount } from './format.js';

const named = new Set(['cpu', 'memory', 'ephemeral-storage']);

/**
 * Does the pod fit the node's allocatable resources next to the pods already there: cpu, memory,
 * ephemeral-storage, extended resources, and the pod count. The detail says by how much it does not.
 */
export const nodeResourcesFit: Plugin = {
  name: 'NodeResourcesFit',
  weight: 1,
  filter(state, _pod, node) {
    const reasons: string[] = [];
    const detail: string[] = [];
    const maxPods = node.allocatable.get('pods');
    if (maxPods !== undefined && node.pods.size + 1 > maxPods) {
      reasons.push('Too many pods');
      detail.push(`Too many pods: ${node.pods.size} of ${maxPods} allowed`);
    }
    // Upstream's order: cpu, memory, ephemeral-storage, then extended resources and hugepages.
    const order = [...named, ...[...state.pod.requests.keys()].filter((r) => !named.has(r))];
    for (const res of order) {
      const want = state.pod.requests.get(res) ?? 0;
      if (want <= 0 || res === 'pods') continue;
      if (!named.has(res) && !res.includes('/') && !res.startsWith('hugepages-')) continue;
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
    let sum = 0;
    let n = 0;
    for (const res of ['cpu', 'memory']) {
      const alloc = node.allocatable.get(res) ?? 0;
      if (alloc <= 0) continue;
      n++;
      const used = (node.scoringRequested.get(res) ?? 0) + (state.pod.scoringRequests.get(res) ?? 0);
      sum += used > alloc ? 0 : Math.floor(((alloc - used) * maxNodeScore) / alloc);
    }
    return n === 0 ? 0 : Math.floor(sum / n);
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
    const want = ['cpu', 'memory'].map((r) => state.pod.requests.get(r) ?? 0);
    if (want.every((v) => v === 0)) return 0;
    const fractions: number[] = [];
    ['cpu', 'memory'].forEach((res, i) => {
      const alloc = node.allocatable.get(res) ?? 0;
      if (alloc <= 0) return;
      fractions.push(Math.min(1, ((node.requested.get(res) ?? 0) + want[i]!) / alloc));
    });
    const std = fractions.length === 2 ? Math.abs((fractions[0]! - fractions[1]!) / 2) : 0;
    return Math.trunc((1 - std) * maxNodeScore);
  },
};

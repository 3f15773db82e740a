import type { Node, Pod, TopologySpreadConstraint } from 'kubernetes-types/core/v1.js';
import { fromLabelSelector, Selector } from '../../api/selectors/label-selector.js';
import type { Plugin } from '../framework.js';
import { success, unschedulable } from '../framework.js';
import type { NodeInfo } from '../node-info.js';
import { labelValue, matchesRequiredNodeAffinity, toleratedBy } from './helpers.js';

/** A constraint as upstream's filterTopologySpreadConstraints prepares it. */
export interface SpreadConstraint {
  topologyKey: string;
  maxSkew: number;
  minDomains: number;
  selector: Selector;
  nodeAffinityPolicy: string;
  nodeTaintsPolicy: string;
}

/** The constraint's selector, with the pod's own values for `matchLabelKeys` joined in. */
export function compileConstraint(c: TopologySpreadConstraint, pod: Pod): SpreadConstraint {
  let selector: Selector;
  try { selector = fromLabelSelector(c.labelSelector ?? undefined); } catch { selector = Selector.nothing(); }
  const labels = pod.metadata?.labels;
  const extra = (c.matchLabelKeys ?? []).filter((k) => labelValue(labels, k) !== undefined).map((k) => ({ key: k, op: '=' as const, values: [labels![k]!] }));
  if (extra.length > 0 && !selector.nothing) selector = new Selector([...selector.requirements, ...extra]);
  return {
    topologyKey: c.topologyKey, maxSkew: c.maxSkew, minDomains: c.minDomains ?? 1, selector,
    nodeAffinityPolicy: c.nodeAffinityPolicy ?? 'Honor', nodeTaintsPolicy: c.nodeTaintsPolicy ?? 'Ignore',
  };
}

/** Does the node have every constraint's topology label (upstream's nodeLabelsMatchSpreadConstraints)? */
export function hasAllTopologyKeys(node: Node, constraints: readonly { topologyKey: string }[]): boolean {
  return constraints.every((c) => labelValue(node.metadata?.labels, c.topologyKey) !== undefined);
}

/** Upstream's matchNodeInclusionPolicies: which nodes a constraint counts (nodeAffinityPolicy, nodeTaintsPolicy). */
export function includesNode(c: SpreadConstraint, pod: Pod, node: NodeInfo): boolean {
  if (c.nodeAffinityPolicy === 'Honor' && !matchesRequiredNodeAffinity(pod, node.node)) return false;
  if (c.nodeTaintsPolicy === 'Honor') {
    for (const t of node.taints) {
      if ((t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !toleratedBy(t, pod.spec?.tolerations)) return false;
    }
  }
  return true;
}

/** Matching pods on the node: same namespace, not terminating; an empty selector counts none (upstream). */
export function countMatching(node: NodeInfo, selector: Selector, namespace: string | undefined): number {
  if (selector.empty()) return 0;
  let count = 0;
  for (const p of node.pods.values()) {
    if (p.pod.metadata?.namespace !== namespace || p.pod.metadata?.deletionTimestamp) continue;
    if (selector.matches(p.pod.metadata?.labels)) count++;
  }
  return count;
}

interface Constraint extends SpreadConstraint {
  /** How many matching pods each domain of this key holds (only eligible nodes count). */
  counts: Map<string, number>;
  min: number;
  selfMatch: number;
}

const key = 'PodTopologySpread';

/**
 * Topology spread constraints: with `DoNotSchedule`, a node is refused when placing the pod there would
 * make its domain hold more than `maxSkew` matching pods above the emptiest eligible domain (taken as 0
 * while there are fewer than `minDomains` domains). Constraints with `ScheduleAnyway` only score.
 */
export const podTopologySpread: Plugin = {
  name: key,
  preFilter(state, pod) {
    const hard = (pod.spec?.topologySpreadConstraints ?? []).filter((c) => c.whenUnsatisfiable === 'DoNotSchedule');
    if (hard.length === 0) return undefined;
    const ns = pod.metadata?.namespace;
    const constraints: Constraint[] = hard.map((c) => {
      const sc = compileConstraint(c, pod);
      return { ...sc, counts: new Map(), min: 0, selfMatch: sc.selector.matches(pod.metadata?.labels) ? 1 : 0 };
    });
    for (const n of state.nodes) {
      if (!hasAllTopologyKeys(n.node, constraints)) continue;
      for (const c of constraints) {
        if (!includesNode(c, pod, n)) continue;
        const v = labelValue(n.node.metadata?.labels, c.topologyKey)!;
        c.counts.set(v, (c.counts.get(v) ?? 0) + countMatching(n, c.selector, ns));
      }
    }
    for (const c of constraints) c.min = c.counts.size < c.minDomains ? 0 : Math.min(...c.counts.values());
    state.write(key, constraints);
    return undefined;
  },
  filter(state, _pod, node) {
    const constraints = state.read<Constraint[]>(key);
    if (!constraints) return success;
    for (const c of constraints) {
      const v = labelValue(node.node.metadata?.labels, c.topologyKey);
      if (v === undefined) return unschedulable("node(s) didn't match pod topology spread constraints (missing required label)", `${node.name} has no ${c.topologyKey} label`, true);
      const skew = (c.counts.get(v) ?? 0) + c.selfMatch - c.min;
      if (skew > c.maxSkew) {
        return unschedulable("node(s) didn't match pod topology spread constraints", `placing it in ${c.topologyKey}=${v} makes skew ${skew}, more than maxSkew ${c.maxSkew}`);
      }
    }
    return success;
  },
};

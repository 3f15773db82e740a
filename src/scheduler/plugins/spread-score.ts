import type { Pod } from 'kubernetes-types/core/v1.js';
import type { CycleState, Plugin } from '../framework.js';
import { labelsKey, maxNodeScore } from '../framework.js';
import type { NodeInfo } from '../node-info.js';
import { labelValue, matchesRequiredNodeAffinity } from './helpers.js';
import { compileConstraint, countMatching, hasAllTopologyKeys, includesNode, type SpreadConstraint } from './pod-topology-spread.js';

const key = 'PodTopologySpread/score';
const hostname = 'kubernetes.io/hostname';
const zone = 'topology.kubernetes.io/zone';

interface Soft {
  topologyKey: string;
  maxSkew: number;
  /** Matching pods on one node. */
  count(n: NodeInfo): number;
  /** Which nodes count toward a domain (node inclusion policies). */
  includes(n: NodeInfo): boolean;
  /** Matching pods per domain (not for hostname, counted per node). */
  domains: Map<string, number>;
  /** log(number of domains + 2): upstream's topologyNormalizingWeight. */
  weight: number;
}

interface Pre { constraints: Soft[]; ignored: Set<string> }

/** A node that may not be scored: left at 0 by `normalize` (upstream's IgnoredNodes). */
const ignoredScore = -1;

function softConstraints(state: CycleState, pod: Pod): Soft[] {
  const ns = pod.metadata?.namespace;
  const own = pod.spec?.topologySpreadConstraints ?? [];
  if (own.length > 0) {
    return own.filter((c) => c.whenUnsatisfiable === 'ScheduleAnyway').map((c) => {
      const sc: SpreadConstraint = compileConstraint(c, pod);
      return { topologyKey: sc.topologyKey, maxSkew: sc.maxSkew, count: (n) => countMatching(n, sc.selector, ns), includes: (n) => includesNode(sc, pod, n), domains: new Map(), weight: 0 };
    });
  }
  // System default spreading (hostname maxSkew 3, zone maxSkew 5) for pods a controller owns. Siblings
  // are pods of the same namespace with the same labels (a ReplicaSet's pods share them, hash included).
  if (!(pod.metadata?.ownerReferences ?? []).some((r) => r.controller)) return [];
  const perNode = state.sameLabels(`${ns}|${labelsKey(pod.metadata?.labels)}`);
  const count = (n: NodeInfo): number => perNode?.get(n.name) ?? 0;
  const includes = (n: NodeInfo): boolean => matchesRequiredNodeAffinity(pod, n.node);
  return [
    { topologyKey: hostname, maxSkew: 3, count, includes, domains: new Map(), weight: 0 },
    { topologyKey: zone, maxSkew: 5, count, includes, domains: new Map(), weight: 0 },
  ];
}

/**
 * Spreading as a score, as upstream's PodTopologySpread Score: `ScheduleAnyway` constraints, or — for
 * pods owned by a controller without constraints of their own — the system default of spreading a
 * controller's pods across nodes and zones. Each constraint adds `matching pods in the node's domain ×
 * log(domains + 2) + maxSkew - 1`; fewer scores higher after normalizing.
 */
export const podSpreadScore: Plugin = {
  name: 'PodTopologySpreadScore',
  weight: 2,
  preScore(state, pod, nodes) {
    const constraints = softConstraints(state, pod);
    if (constraints.length === 0) { state.write(key, undefined); return; }
    // Only explicit constraints need all their topology labels on a node; the defaults spread by
    // hostname even where no zone label exists.
    const requireAll = (pod.spec?.topologySpreadConstraints ?? []).length > 0;
    const ignored = new Set<string>();
    const sizes = constraints.map(() => 0);
    for (const n of nodes) {
      if (requireAll && !hasAllTopologyKeys(n.node, constraints)) { ignored.add(n.name); continue; }
      constraints.forEach((c, i) => {
        if (c.topologyKey === hostname) return;
        const v = labelValue(n.node.metadata?.labels, c.topologyKey) ?? '';
        if (!c.domains.has(v)) { c.domains.set(v, 0); sizes[i]!++; }
      });
    }
    constraints.forEach((c, i) => { c.weight = Math.log((c.topologyKey === hostname ? nodes.length - ignored.size : sizes[i]!) + 2); });
    for (const n of state.nodes) {
      if (requireAll && !hasAllTopologyKeys(n.node, constraints)) continue;
      for (const c of constraints) {
        if (c.topologyKey === hostname || !c.includes(n)) continue;
        const v = labelValue(n.node.metadata?.labels, c.topologyKey) ?? '';
        const cur = c.domains.get(v);
        if (cur !== undefined) c.domains.set(v, cur + c.count(n));
      }
    }
    state.write(key, { constraints, ignored } satisfies Pre);
  },
  score(state, _pod, node: NodeInfo) {
    const pre = state.read<Pre>(key);
    // No soft constraints: upstream skips the plugin, so it adds nothing to any node.
    if (!pre) return ignoredScore;
    if (pre.ignored.has(node.name)) return ignoredScore;
    let score = 0;
    for (const c of pre.constraints) {
      const v = labelValue(node.node.metadata?.labels, c.topologyKey);
      if (v === undefined) continue;
      const cnt = c.topologyKey === hostname ? c.count(node) : c.domains.get(v) ?? 0;
      score += cnt * c.weight + (c.maxSkew - 1);
    }
    return Math.round(score);
  },
  normalize(scores) {
    let min = Infinity;
    let max = 0;
    for (const s of scores) {
      if (s === ignoredScore) continue;
      if (s < min) min = s;
      if (s > max) max = s;
    }
    for (let i = 0; i < scores.length; i++) {
      const s = scores[i]!;
      if (s === ignoredScore) scores[i] = 0;
      else if (max === 0) scores[i] = maxNodeScore;
      else scores[i] = Math.floor((maxNodeScore * (max + min - s)) / max);
    }
  },
};

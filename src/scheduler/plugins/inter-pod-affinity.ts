import type { Pod, PodAffinityTerm, WeightedPodAffinityTerm } from 'kubernetes-types/core/v1.js';
import { fromLabelSelector, type Selector } from '../../api/selectors/label-selector.js';
import type { CycleState, Plugin } from '../framework.js';
import { success, unschedulable } from '../framework.js';
import type { NodeInfo } from '../node-info.js';
import { labelValue } from './helpers.js';

interface Term { selector: Selector; namespaces: Set<string> | 'all'; topologyKey: string; weight: number }

function compile(term: PodAffinityTerm, pod: Pod, weight = 0): Term {
  let selector: Selector;
  try { selector = fromLabelSelector(term.labelSelector ?? undefined); } catch { selector = fromLabelSelector(undefined); }
  const ns = term.namespaces && term.namespaces.length > 0 ? new Set(term.namespaces) : term.namespaceSelector ? 'all' as const : new Set([pod.metadata?.namespace ?? 'default']);
  return { selector, namespaces: ns, topologyKey: term.topologyKey, weight };
}

function matches(t: Term, p: Pod): boolean {
  if (t.namespaces !== 'all' && !t.namespaces.has(p.metadata?.namespace ?? '')) return false;
  return t.selector.matches(p.metadata?.labels);
}

/** Upstream's podMatchesAllAffinityTerms: false for no terms. */
function matchesAll(terms: readonly Term[], p: Pod): boolean {
  return terms.length > 0 && terms.every((t) => matches(t, p));
}

const domainKey = (key: string, value: string): string => `${key}\u0000${value}`;

/** Adds `by` to the count of the node's domain for `topologyKey`, if the node has that label. */
function bump(counts: Map<string, number>, node: NodeInfo, topologyKey: string, by: number): void {
  const v = labelValue(node.node.metadata?.labels, topologyKey);
  if (v === undefined) return;
  const k = domainKey(topologyKey, v);
  const n = (counts.get(k) ?? 0) + by;
  if (n === 0) counts.delete(k);
  else counts.set(k, n);
}

interface Pre {
  affinity: Term[];
  anti: Term[];
  /** Per topology domain: existing pods that match all required affinity terms (upstream's affinityCounts). */
  affinityCounts: Map<string, number>;
  /** Per topology domain: existing pods matching a required anti-affinity term. */
  antiCounts: Map<string, number>;
  /** Domains where an existing pod's required anti-affinity forbids the incoming pod. */
  existingAnti: Map<string, number>;
}

const key = 'InterPodAffinity';
/** Upstream's default hardPodAffinityWeight: existing pods' required affinity terms as a preference. */
const hardPodAffinityWeight = 1;

type PodSet = 'pods' | 'podsWithAffinity' | 'podsWithRequiredAntiAffinity';

/** Every pod of the given set placed on one of the cycle's nodes (bound or assumed), with its node. */
function forEachPod(state: CycleState, set: PodSet, fn: (node: NodeInfo, pod: Pod) => void): void {
  const t = state.totals;
  if (t && ((set === 'podsWithAffinity' && t.podsWithAffinity === 0) || (set === 'podsWithRequiredAntiAffinity' && t.podsWithRequiredAntiAffinity === 0))) return;
  for (const node of state.nodes) {
    const pods = node[set];
    if (pods.size > 0) for (const p of pods.values()) fn(node, p.pod);
  }
}

/**
 * Required pod affinity and anti-affinity (of the incoming pod, and existing pods' anti-affinity
 * against it) per topology domain; preferred terms (both ways) as a score — upstream's InterPodAffinity.
 */
export const interPodAffinity: Plugin = {
  name: key,
  weight: 2,
  preFilter(state, pod) {
    const a = pod.spec?.affinity;
    const affinity = (a?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => compile(t, pod));
    const anti = (a?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => compile(t, pod));
    const pre: Pre = { affinity, anti, affinityCounts: new Map(), antiCounts: new Map(), existingAnti: new Map() };
    // Without terms of its own, only existing pods' required anti-affinity can matter.
    const set: PodSet = affinity.length > 0 || anti.length > 0 ? 'pods' : 'podsWithRequiredAntiAffinity';
    forEachPod(state, set, (node, p) => {
      // An existing pod counts for the affinity terms only if it matches all of them.
      if (affinity.length > 0 && matchesAll(affinity, p)) for (const t of affinity) bump(pre.affinityCounts, node, t.topologyKey, 1);
      for (const t of anti) if (matches(t, p)) bump(pre.antiCounts, node, t.topologyKey, 1);
      for (const raw of p.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
        const t = compile(raw, p);
        if (matches(t, pod)) bump(pre.existingAnti, node, t.topologyKey, 1);
      }
    });
    state.write(key, pre);
    return undefined;
  },
  filter(state, pod, node) {
    const pre = state.read<Pre>(key);
    if (!pre || (pre.affinity.length === 0 && pre.anti.length === 0 && pre.existingAnti.size === 0)) return success;
    const labels = node.node.metadata?.labels ?? {};
    // Required affinity: every term's domain here must hold a pod matching all terms; the first pod of a
    // group that wants to be with itself may go to any node that has all the topology labels.
    let podsExist = true;
    for (const t of pre.affinity) {
      const v = labelValue(labels, t.topologyKey);
      if (v === undefined) return unschedulable("node(s) didn't match pod affinity rules", `${node.name} has no ${t.topologyKey} label`, true);
      if ((pre.affinityCounts.get(domainKey(t.topologyKey, v)) ?? 0) <= 0) podsExist = false;
    }
    if (!podsExist && !(pre.affinityCounts.size === 0 && matchesAll(pre.affinity, pod))) {
      return unschedulable("node(s) didn't match pod affinity rules", `no pod matching the affinity terms in ${node.name}'s domain`, true);
    }
    for (const t of pre.anti) {
      const v = labelValue(labels, t.topologyKey);
      if (v !== undefined && (pre.antiCounts.get(domainKey(t.topologyKey, v)) ?? 0) > 0) {
        return unschedulable("node(s) didn't match pod anti-affinity rules", `a matching pod already runs in ${node.name}'s ${t.topologyKey}=${v} domain`);
      }
    }
    for (const [k, v] of Object.entries(labels)) {
      if ((pre.existingAnti.get(domainKey(k, v)) ?? 0) > 0) {
        return unschedulable("node(s) didn't satisfy existing pods anti-affinity rules", `a pod in ${node.name}'s ${k}=${v} domain has anti-affinity against this pod`);
      }
    }
    return success;
  },
  preScore(state, pod) {
    const a = pod.spec?.affinity;
    const weighted = (ws: readonly WeightedPodAffinityTerm[] | undefined, owner: Pod, sign: number): Term[] =>
      (ws ?? []).map((w) => compile(w.podAffinityTerm, owner, sign * w.weight));
    const prefer = weighted(a?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution, pod, 1);
    const avoid = weighted(a?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution, pod, -1);
    const own = [...prefer, ...avoid];
    const scores = new Map<string, number>();
    forEachPod(state, own.length > 0 ? 'pods' : 'podsWithAffinity', (node, p) => {
      const ea = p.spec?.affinity;
      if (own.length === 0 && !ea?.podAffinity && !ea?.podAntiAffinity) return;
      // The incoming pod's preferences about the existing pod...
      for (const t of own) if (matches(t, p)) bump(scores, node, t.topologyKey, t.weight);
      // ...and the existing pod's about the incoming one (its required affinity counts as a preference).
      const theirs = [
        ...(ea?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => compile(t, p, hardPodAffinityWeight)),
        ...weighted(ea?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution, p, 1),
        ...weighted(ea?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution, p, -1),
      ];
      for (const t of theirs) if (matches(t, pod)) bump(scores, node, t.topologyKey, t.weight);
    });
    state.write(`${key}/score`, scores);
  },
  score(state, _pod, node: NodeInfo) {
    const scores = state.read<Map<string, number>>(`${key}/score`);
    if (!scores || scores.size === 0) return 0;
    let total = 0;
    for (const [k, v] of Object.entries(node.node.metadata?.labels ?? {})) total += scores.get(domainKey(k, v)) ?? 0;
    return total;
  },
  normalize(scores) {
    let min = Infinity;
    let max = -Infinity;
    for (const s of scores) { if (s < min) min = s; if (s > max) max = s; }
    const diff = max - min;
    // Upstream computes this in floating point and truncates: 100 * ((s - min) / diff).
    for (let i = 0; i < scores.length; i++) scores[i] = diff > 0 ? Math.trunc(100 * ((scores[i]! - min) / diff)) : 0;
  },
};

export type { CycleState };

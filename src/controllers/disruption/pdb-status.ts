import type { Pod } from 'kubernetes-types/core/v1.js';
import type { Condition } from 'kubernetes-types/meta/v1.js';
import type { PodDisruptionBudget, PodDisruptionBudgetStatus } from 'kubernetes-types/policy/v1.js';
import { isPodReady } from '../../api/pod-conditions.js';
import { setCondition } from '../../api/status-conditions.js';
import { rfc3339 } from '../../util/time.js';

/** How long an eviction the API approved may take to show up as a deletion before the budget counts the pod again. */
export const deletionTimeoutMs = 2 * 60 * 1000;

/**
 * An int-or-percent scaled to a total, rounding up (upstream's GetScaledValueFromIntOrPercent with
 * roundUp). Throws for a string that is not a percentage.
 */
export function scaledValue(v: number | string, total: number): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) throw new Error(`invalid value for IntOrString: invalid type: string is not a percentage`);
  return Math.ceil((Number(m[1]) * total) / 100);
}

/** What the budget's bound needs: whether the pods' controllers' scale is the total, from the spec. */
export function needsScale(spec: PodDisruptionBudget['spec']): boolean {
  return spec?.maxUnavailable !== undefined || typeof spec?.minAvailable === 'string';
}

/**
 * Expected pods and desired healthy pods of a budget (upstream's getExpectedPodCount): with
 * maxUnavailable, the controllers' total scale minus the allowance; with an integer minAvailable, the
 * number itself over the matching pods; with a percentage, that share of the total scale.
 * `expectedScale` is the summed scale of the pods' controllers (used only when `needsScale`).
 */
export function expectedCounts(spec: PodDisruptionBudget['spec'], podCount: number, expectedScale: number): { expected: number; desired: number } {
  if (spec?.maxUnavailable !== undefined) {
    const max = scaledValue(spec.maxUnavailable, expectedScale);
    return { expected: expectedScale, desired: Math.max(0, expectedScale - max) };
  }
  if (spec?.minAvailable !== undefined) {
    if (typeof spec.minAvailable === 'number') return { expected: podCount, desired: spec.minAvailable };
    return { expected: expectedScale, desired: scaledValue(spec.minAvailable, expectedScale) };
  }
  return { expected: 0, desired: 0 };
}

/**
 * The evictions still awaiting their deletion (upstream's buildDisruptedPodMap): entries of pods that are
 * still there, not yet being deleted, and younger than the deletion timeout. Returns the next time an
 * entry expires, for a recheck, and the pods that were expected to go but did not.
 */
export function disruptedPods(pods: readonly Pod[], previous: Readonly<Record<string, string>> | undefined, now: number): { map: Record<string, string>; recheckAt?: number; overdue: string[] } {
  const map: Record<string, string> = {};
  const overdue: string[] = [];
  let recheckAt: number | undefined;
  if (!previous) return { map, overdue };
  for (const p of pods) {
    const name = p.metadata?.name ?? '';
    if (p.metadata?.deletionTimestamp) continue;
    const at = previous[name];
    if (at === undefined) continue;
    const expires = Date.parse(at) + deletionTimeoutMs;
    if (expires < now) { overdue.push(name); continue; }
    map[name] = at;
    if (recheckAt === undefined || expires < recheckAt) recheckAt = expires;
  }
  return { map, ...(recheckAt !== undefined ? { recheckAt } : {}), overdue };
}

/** Ready pods that are neither being deleted nor about to be (upstream's countHealthyPods). */
export function countHealthy(pods: readonly Pod[], disrupted: Readonly<Record<string, string>>, now: number): number {
  let n = 0;
  for (const p of pods) {
    if (p.metadata?.deletionTimestamp) continue;
    const at = disrupted[p.metadata?.name ?? ''];
    if (at !== undefined && Date.parse(at) + deletionTimeoutMs > now) continue;
    if (isPodReady(p)) n++;
  }
  return n;
}

/** The DisruptionAllowed condition for a status (upstream's UpdateDisruptionAllowedCondition). */
export function disruptionAllowedCondition(status: Pick<PodDisruptionBudgetStatus, 'disruptionsAllowed' | 'observedGeneration'>, now: number): Condition {
  const ok = status.disruptionsAllowed > 0;
  return {
    type: 'DisruptionAllowed', status: ok ? 'True' : 'False', reason: ok ? 'SufficientPods' : 'InsufficientPods', message: '',
    observedGeneration: status.observedGeneration ?? 0, lastTransitionTime: rfc3339(now),
  };
}

/**
 * A budget's new status (upstream's updatePdbStatus): disruptionsAllowed is currentHealthy minus
 * desiredHealthy, never below 0, and 0 while no pod is expected (so a budget whose pods have not been
 * seen yet protects them).
 */
export function budgetStatus(pdb: PodDisruptionBudget, counts: { current: number; desired: number; expected: number; disrupted: Record<string, string> }, now: number): PodDisruptionBudgetStatus {
  let allowed = counts.current - counts.desired;
  if (counts.expected <= 0 || allowed <= 0) allowed = 0;
  const status: PodDisruptionBudgetStatus = {
    currentHealthy: counts.current, desiredHealthy: counts.desired, expectedPods: counts.expected, disruptionsAllowed: allowed,
    observedGeneration: pdb.metadata?.generation ?? 0,
    ...(Object.keys(counts.disrupted).length > 0 ? { disruptedPods: counts.disrupted } : {}),
  };
  return { ...status, conditions: setCondition(pdb.status?.conditions, disruptionAllowedCondition(status, now)) };
}

/** The status of a budget whose sync failed: no disruption allowed, and why (upstream's failSafe). */
export function failSafeStatus(pdb: PodDisruptionBudget, message: string, now: number): PodDisruptionBudgetStatus {
  const prev = pdb.status ?? { currentHealthy: 0, desiredHealthy: 0, expectedPods: 0, disruptionsAllowed: 0 };
  return {
    ...prev, disruptionsAllowed: 0,
    conditions: setCondition(prev.conditions, {
      type: 'DisruptionAllowed', status: 'False', reason: 'SyncFailed', message, observedGeneration: prev.observedGeneration ?? 0, lastTransitionTime: rfc3339(now),
    }),
  };
}

/** Whether two statuses say the same (ignoring condition times), so an unchanged status is not written. */
export function sameStatus(a: PodDisruptionBudgetStatus | undefined, b: PodDisruptionBudgetStatus): boolean {
  if (!a) return false;
  const strip = (s: PodDisruptionBudgetStatus): unknown => ({
    ...s, disruptedPods: s.disruptedPods ?? {}, observedGeneration: s.observedGeneration ?? 0,
    conditions: (s.conditions ?? []).map(({ lastTransitionTime: _t, ...c }) => c),
  });
  return JSON.stringify(sortKeys(strip(a))) === JSON.stringify(sortKeys(strip(b)));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}


import type { PodCondition, PodStatus } from 'kubernetes-types/core/v1.js';
import { rfc3339 } from '../util/time.js';

type Mut<T> = { -readonly [P in keyof T]: T[P] };

/**
 * Upstream's UpdatePodCondition: sets a condition of `status` by type. The transition time moves to
 * `now` only when the status changes (or the condition is new). Returns true when anything changed,
 * so callers write only then.
 */
export function updatePodCondition(status: Mut<PodStatus>, condition: PodCondition, now: number): boolean {
  const conditions = (status.conditions ??= []) as PodCondition[];
  const i = conditions.findIndex((c) => c.type === condition.type);
  // A condition nobody probes carries `lastProbeTime: null`, as upstream serialises the zero time.
  const next = { lastProbeTime: null, ...condition, lastTransitionTime: rfc3339(now) } as Mut<PodCondition>;
  if (i < 0) {
    conditions.push(next);
    return true;
  }
  const old = conditions[i]!;
  if (old.status === next.status) next.lastTransitionTime = old.lastTransitionTime;
  const same = old.status === next.status && (old.reason ?? '') === (next.reason ?? '') && (old.message ?? '') === (next.message ?? '')
    && (old.lastProbeTime ?? null) === (next.lastProbeTime ?? null) && (old.lastTransitionTime ?? null) === (next.lastTransitionTime ?? null);
  conditions[i] = next;
  return !same;
}

/** The DisruptionTarget condition (`type`, `status`, `reason`, `message`) a pod about to be disrupted carries. */
export function disruptionTarget(reason: string, message: string): PodCondition {
  return { type: 'DisruptionTarget', status: 'True', reason, message };
}

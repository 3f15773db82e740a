import type { Condition } from 'kubernetes-types/meta/v1.js';

/** metav1's SetStatusCondition: replaces the condition of that type, the transition time kept unless the status changes. */
export function setCondition(list: readonly Condition[] | undefined, c: Condition): Condition[] {
  const out = [...(list ?? [])];
  const i = out.findIndex((x) => x.type === c.type);
  if (i < 0) return [...out, c];
  const old = out[i]!;
  out[i] = { ...c, lastTransitionTime: old.status === c.status ? old.lastTransitionTime : c.lastTransitionTime };
  return out;
}

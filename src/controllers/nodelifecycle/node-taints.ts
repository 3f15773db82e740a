import type { Node, Taint } from 'kubernetes-types/core/v1.js';
import { taintNodeNotReady, taintNodeUnreachable } from '../../api/tolerations.js';
import { rfc3339 } from '../../util/time.js';

/** The NoExecute taint of a node whose agent says it is not ready. */
export const notReadyTaint: Taint = { key: taintNodeNotReady, effect: 'NoExecute' };
/** The NoExecute taint of a node that stopped heartbeating. */
export const unreachableTaint: Taint = { key: taintNodeUnreachable, effect: 'NoExecute' };

/** The taint a cordoned node carries, so only pods tolerating it land there (upstream's TaintNodeUnschedulable). */
export const taintNodeUnschedulable = 'node.kubernetes.io/unschedulable';

/** Which NoSchedule taint each node condition status stands for (upstream's nodeConditionToTaintKeyStatusMap). */
const conditionTaintKeys: Record<string, Record<string, string>> = {
  Ready: { False: taintNodeNotReady, Unknown: taintNodeUnreachable },
  MemoryPressure: { True: 'node.kubernetes.io/memory-pressure' },
  DiskPressure: { True: 'node.kubernetes.io/disk-pressure' },
  NetworkUnavailable: { True: 'node.kubernetes.io/network-unavailable' },
  PIDPressure: { True: 'node.kubernetes.io/pid-pressure' },
};

const managedNoScheduleKeys = new Set([taintNodeUnschedulable, ...Object.values(conditionTaintKeys).flatMap((m) => Object.values(m))]);

/** Same key and effect (upstream's MatchTaint): the identity of a taint on a node. */
export function sameTaint(a: Taint, b: Taint): boolean {
  return a.key === b.key && a.effect === b.effect;
}

export function hasTaint(taints: readonly Taint[] | undefined, t: Taint): boolean {
  return (taints ?? []).some((x) => sameTaint(x, t));
}

/**
 * The NoSchedule taints a node's conditions and cordon call for (upstream's TaintNodesByCondition):
 * not-ready / unreachable for a Ready condition False / Unknown, memory, disk and PID pressure, network
 * unavailable, and unschedulable for a cordoned node.
 */
export function conditionTaints(node: Node): Taint[] {
  const out: Taint[] = [];
  for (const c of node.status?.conditions ?? []) {
    const key = conditionTaintKeys[c.type]?.[c.status];
    if (key) out.push({ key, effect: 'NoSchedule' });
  }
  if (node.spec?.unschedulable) out.push({ key: taintNodeUnschedulable, effect: 'NoSchedule' });
  return out;
}

/**
 * The node's taints with `add` put on (time-stamped now; one of the same key and effect but another
 * value is replaced) and `remove` taken off; undefined when nothing changes (upstream's
 * SwapNodeControllerTaint on the node's current taints).
 */
export function swapTaints(taints: readonly Taint[] | undefined, add: readonly Taint[], remove: readonly Taint[], now: number): Taint[] | undefined {
  let out = [...(taints ?? [])];
  let changed = false;
  for (const r of remove) {
    const kept = out.filter((t) => !sameTaint(t, r));
    if (kept.length !== out.length) { out = kept; changed = true; }
  }
  for (const a of add) {
    const existing = out.find((t) => sameTaint(t, a));
    if (existing && (existing.value ?? '') === (a.value ?? '')) continue;
    out = out.filter((t) => !sameTaint(t, a));
    out.push({ ...a, timeAdded: rfc3339(now) });
    changed = true;
  }
  return changed ? out : undefined;
}

/** The NoSchedule taints the controller manages that a node has, and those it should have: what to add and remove. */
export function noScheduleTaintChanges(node: Node): { add: Taint[]; remove: Taint[] } {
  const want = conditionTaints(node);
  const have = (node.spec?.taints ?? []).filter((t) => t.effect === 'NoSchedule' && managedNoScheduleKeys.has(t.key));
  return { add: want.filter((t) => !hasTaint(have, t)), remove: have.filter((t) => !hasTaint(want, t)) };
}

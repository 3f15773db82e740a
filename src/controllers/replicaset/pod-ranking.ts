import type { Pod } from 'kubernetes-types/core/v1.js';
import { isPodReady, readyCondition } from '../../api/pod-conditions.js';

const phaseRank: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function maxRestarts(pod: Pod): number {
  let n = 0;
  for (const c of pod.status?.containerStatuses ?? []) n = Math.max(n, c.restartCount ?? 0);
  return n;
}

function time(t: string | undefined): number {
  return t ? Date.parse(t) : 0;
}

/**
 * Orders pods from the one to delete first to the one to keep longest, as upstream's ranking for
 * scale-down: unscheduled before scheduled, Pending before Unknown before Running, not ready before
 * ready, pods doubled up on a node before lone ones, recently ready before long ready, more restarts
 * before fewer, newer before older.
 */
export function rankForDeletion(pods: readonly Pod[], now: number): Pod[] {
  const perNode = new Map<string, number>();
  for (const p of pods) if (p.spec?.nodeName) perNode.set(p.spec.nodeName, (perNode.get(p.spec.nodeName) ?? 0) + 1);
  const rank = (p: Pod): number => (p.spec?.nodeName ? perNode.get(p.spec.nodeName) ?? 0 : 0);
  return [...pods].sort((a, b) => {
    const aa = !!a.spec?.nodeName;
    const ba = !!b.spec?.nodeName;
    if (aa !== ba) return aa ? 1 : -1;
    const ap = phaseRank[a.status?.phase ?? 'Pending'] ?? 0;
    const bp = phaseRank[b.status?.phase ?? 'Pending'] ?? 0;
    if (ap !== bp) return ap - bp;
    const ar = isPodReady(a);
    const br = isPodReady(b);
    if (ar !== br) return ar ? 1 : -1;
    if (rank(a) !== rank(b)) return rank(b) - rank(a);
    if (ar && br) {
      // Compared on a log scale of time ready, so pods ready within the same order of magnitude tie.
      const at = Math.floor(Math.log2(Math.max(1, now - time(readyCondition(a)?.lastTransitionTime))));
      const bt = Math.floor(Math.log2(Math.max(1, now - time(readyCondition(b)?.lastTransitionTime))));
      if (at !== bt) return at - bt;
    }
    const rs = maxRestarts(b) - maxRestarts(a);
    if (rs !== 0) return rs;
    const ct = time(b.metadata?.creationTimestamp) - time(a.metadata?.creationTimestamp);
    if (ct !== 0) return ct;
    return (a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1;
  });
}

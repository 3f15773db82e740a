import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { isPodTerminal } from '../../api/pod-conditions.js';

/** The taint an administrator puts on a node that is down for good, so its terminating pods are released. */
export const OUT_OF_SERVICE_TAINT = 'node.kubernetes.io/out-of-service';

const created = (p: Pod): number => Date.parse(p.metadata?.creationTimestamp ?? '') || 0;

/** Terminated pods beyond `threshold`, oldest first (upstream's gcTerminated; 0 keeps them all). */
export function terminatedBeyond(pods: readonly Pod[], threshold: number): Pod[] {
  if (threshold <= 0) return [];
  const terminated = pods.filter((p) => isPodTerminal(p));
  if (terminated.length <= threshold) return [];
  return terminated.sort((a, b) => created(a) - created(b) || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '')).slice(0, terminated.length - threshold);
}

/** Names of the nodes pods are bound to that the node informer does not have. */
export function missingNodes(pods: readonly Pod[], exists: (node: string) => boolean): Set<string> {
  const missing = new Set<string>();
  for (const p of pods) {
    const n = p.spec?.nodeName;
    if (n && !exists(n)) missing.add(n);
  }
  return missing;
}

/** Pods being deleted that were never scheduled: no agent will ever finish them (upstream's gcUnscheduledTerminating). */
export function unscheduledTerminating(pods: readonly Pod[]): Pod[] {
  return pods.filter((p) => p.metadata?.deletionTimestamp && !p.spec?.nodeName);
}

/**
 * Pods being deleted on nodes that are not Ready and carry the out-of-service taint (upstream's gcTerminating):
 * the administrator has declared the machine gone, so no agent will finish them.
 */
export function terminatingOutOfService(pods: readonly Pod[], node: (name: string) => Node | undefined): Pod[] {
  return pods.filter((p) => {
    if (!p.metadata?.deletionTimestamp || !p.spec?.nodeName) return false;
    const n = node(p.spec.nodeName);
    if (!n) return false;
    const ready = n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    return !ready && (n.spec?.taints ?? []).some((t) => t.key === OUT_OF_SERVICE_TAINT);
  });
}

import type { Node, NodeCondition } from 'kubernetes-types/core/v1.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import { rfc3339 } from '../../util/time.js';

/** What the controller remembers of a node between passes (upstream's nodeHealthData), times on its own clock. */
export interface NodeHealth {
  /** When the controller last saw a sign of life: a new Ready heartbeat or a renewed Lease. */
  readonly probeTimestamp: number;
  /** When the controller saw the Ready condition last change. */
  readonly readyTransitionTimestamp: number;
  /** The node's Ready condition as last seen. */
  readonly ready: NodeCondition | undefined;
  /** The renewTime of the node's Lease as last seen. */
  readonly leaseRenewTime: string | undefined;
}

/** The conditions the controller sets to Unknown on a silent node (NetworkUnavailable belongs to the network plugin). */
export const monitoredConditions = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'] as const;

export interface HealthCheck {
  /** The node's health record after this look. */
  readonly health: NodeHealth;
  /** The Ready condition as the node had it before this look (upstream's observedReadyCondition). */
  readonly observed: NodeCondition;
  /** The Ready condition after this look; undefined when the node never reported one and is still within its startup grace. */
  readonly current: NodeCondition | undefined;
  /** The conditions to write to the node's status, when the look changed its Ready condition. */
  readonly conditions?: NodeCondition[];
  /** When the node's grace runs out (probeTimestamp + grace), on the controller's clock. */
  readonly deadline: number;
}

/**
 * When a sign of life counts from: when it was delivered (`observed`, on the controller's clock, as the
 * informer saw it), else now — never before the previous one, never in the future. (Upstream takes the
 * time of the pass that notices it, which can be a monitor period late.)
 */
function seenAt(observed: number | undefined, previous: number, now: number): number {
  if (observed === undefined) return now;
  return Math.min(now, Math.max(previous, observed));
}

function timeOf(s: string | undefined): number {
  const t = s ? Date.parse(s) : NaN;
  return Number.isNaN(t) ? 0 : t;
}

/**
 * Upstream's tryUpdateNodeHealth, as a pure function: notes a sign of life when the node's Ready
 * heartbeat changed since the last look or its Lease was renewed (at `observedAt`, when the controller
 * received it, or now), and once `gracePeriodMs` (or the
 * startup grace for a node that never reported Ready) has passed without one, turns Ready, MemoryPressure,
 * DiskPressure and PIDPressure to Unknown — reason `NodeStatusUnknown`, "Kubelet stopped posting node
 * status." (or `NodeStatusNeverUpdated` for conditions never reported) — returning the conditions to write.
 */
export function checkNodeHealth(
  node: Node, lease: Lease | undefined, saved: NodeHealth | undefined, now: number, gracePeriodMs: number, startupGracePeriodMs: number,
  observedAt: { readonly lease?: number; readonly ready?: number } = {},
): HealthCheck {
  const conds = node.status?.conditions ?? [];
  const currentReady = conds.find((c) => c.type === 'Ready');
  const created = timeOf(node.metadata?.creationTimestamp);
  let grace = gracePeriodMs;
  let observed: NodeCondition;
  let health: NodeHealth | undefined = saved;
  if (!currentReady) {
    // Never reported: treat as Unknown since creation, with the longer startup grace.
    const ts = node.metadata?.creationTimestamp;
    observed = { type: 'Ready', status: 'Unknown', lastHeartbeatTime: ts, lastTransitionTime: ts };
    grace = startupGracePeriodMs;
    health = saved ? { ...saved, ready: undefined } : { probeTimestamp: created, readyTransitionTimestamp: created, ready: undefined, leaseRenewTime: undefined };
  } else {
    observed = currentReady;
    const savedReady = saved?.ready;
    if (!saved || !savedReady) {
      // First look (or the node reported Ready for the first time): assume alive now.
      health = { probeTimestamp: now, readyTransitionTimestamp: now, ready: currentReady, leaseRenewTime: saved?.leaseRenewTime };
    } else if (savedReady.lastHeartbeatTime !== currentReady.lastHeartbeatTime) {
      const transition = savedReady.lastTransitionTime !== currentReady.lastTransitionTime ? now : saved.readyTransitionTimestamp;
      health = { probeTimestamp: seenAt(observedAt.ready, saved.probeTimestamp, now), readyTransitionTimestamp: transition, ready: currentReady, leaseRenewTime: saved.leaseRenewTime };
    } else {
      health = { ...saved, ready: currentReady };
    }
  }
  // A renewed Lease is a sign of life too: a node that renews its Lease but never posts status counts as healthy.
  const renew = lease?.spec?.renewTime;
  if (renew && (health!.leaseRenewTime === undefined || timeOf(renew) > timeOf(health!.leaseRenewTime))) {
    health = { ...health!, probeTimestamp: Math.max(health!.probeTimestamp, seenAt(observedAt.lease, health!.probeTimestamp, now)), leaseRenewTime: renew };
  }
  const h = health!;
  const deadline = h.probeTimestamp + grace;
  if (now <= deadline) return { health: h, observed, current: currentReady, deadline };

  // Silent too long: everything the kubelet reports becomes Unknown.
  const stamp = rfc3339(now);
  const next = conds.map((c) => ({ ...c }));
  for (const type of monitoredConditions) {
    const c = next.find((x) => x.type === type);
    if (!c) {
      next.push({ type, status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.', lastHeartbeatTime: node.metadata?.creationTimestamp, lastTransitionTime: stamp });
    } else if (c.status !== 'Unknown') {
      c.status = 'Unknown';
      c.reason = 'NodeStatusUnknown';
      c.message = 'Kubelet stopped posting node status.';
      c.lastTransitionTime = stamp;
    }
  }
  const ready = next.find((c) => c.type === 'Ready')!;
  const changed = !sameCondition(ready, currentReady ?? observed);
  if (!changed) return { health: h, observed, current: ready, deadline };
  return { health: { ...h, readyTransitionTimestamp: now, ready }, observed, current: ready, conditions: next, deadline };
}

function sameCondition(a: NodeCondition, b: NodeCondition): boolean {
  return a.status === b.status && (a.reason ?? '') === (b.reason ?? '') && (a.message ?? '') === (b.message ?? '')
    && (a.lastHeartbeatTime ?? '') === (b.lastHeartbeatTime ?? '') && (a.lastTransitionTime ?? '') === (b.lastTransitionTime ?? '');
}

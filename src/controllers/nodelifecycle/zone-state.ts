import type { Node } from 'kubernetes-types/core/v1.js';
import type { NodeLifecycleSettings } from './options.js';

/**
 * How healthy a zone is, which decides how fast its lost nodes' pods are evicted: at the normal rate,
 * slowly or not at all when a large share is down (maybe a network partition, where evicting would
 * only make things worse), and not at all when every zone of the cluster is down (the control plane is
 * the one cut off).
 */
export type ZoneState = 'Initial' | 'Normal' | 'PartialDisruption' | 'FullDisruption';

/** A node with this label is left out of the zone health count (upstream's LabelNodeExcludeDisruption). */
export const excludeDisruptionLabel = 'node.kubernetes.io/exclude-disruption';

/**
 * The zone a node belongs to, from its region and zone labels (the deprecated failure-domain ones win,
 * as upstream's GetZoneKey); "" for nodes without either. The NUL keeps `a:b` + `c` apart from `a` + `b:c`.
 */
export function zoneKey(node: Node): string {
  const l = node.metadata?.labels ?? {};
  const zone = l['failure-domain.beta.kubernetes.io/zone'] ?? l['topology.kubernetes.io/zone'] ?? '';
  const region = l['failure-domain.beta.kubernetes.io/region'] ?? l['topology.kubernetes.io/region'] ?? '';
  if (!region && !zone) return '';
  return `${region}:\x00:${zone}`;
}

/** A zone key as people read it (`region/zone`, or `<default>`). */
export function zoneName(key: string): string {
  return key === '' ? '<default>' : key.replace(':\x00:', '/');
}

/**
 * Upstream's ComputeZoneState over the Ready statuses of a zone's nodes (undefined: no Ready condition):
 * FullDisruption when none is Ready, PartialDisruption when more than two and at least `threshold` of
 * them are not, Normal otherwise. Returns the number of not-Ready nodes too.
 */
export function computeZoneState(readyStatuses: readonly (string | undefined)[], threshold: number): { notReady: number; state: ZoneState } {
  let ready = 0;
  let notReady = 0;
  for (const s of readyStatuses) if (s === 'True') ready++; else notReady++;
  if (ready === 0 && notReady > 0) return { notReady, state: 'FullDisruption' };
  if (notReady > 2 && notReady / (notReady + ready) >= threshold) return { notReady, state: 'PartialDisruption' };
  return { notReady, state: 'Normal' };
}

/** The eviction rate for a zone of `size` nodes in `state` (upstream's setLimiterInZone with its Reduced/HealthyQPSFunc). */
export function zoneEvictionRate(state: ZoneState, size: number, s: Pick<NodeLifecycleSettings, 'evictionRate' | 'secondaryEvictionRate' | 'largeClusterSizeThreshold'>): number {
  switch (state) {
    case 'Initial': case 'Normal': return s.evictionRate;
    // A small zone half down stops evicting; a large one evicts at the secondary rate.
    case 'PartialDisruption': return size > s.largeClusterSizeThreshold ? s.secondaryEvictionRate : 0;
    // A zone entirely down is evicted at the normal rate — unless every zone is (see planDisruption).
    case 'FullDisruption': return s.evictionRate;
  }
}

/** What one health pass decides about zones (upstream's handleDisruption, as data). */
export interface DisruptionPlan {
  /** The zone states after this pass. */
  readonly states: Map<string, ZoneState>;
  /** New eviction rates for zones whose rate changes. */
  readonly rates: Map<string, number>;
  /** Every zone is down: remove the NoExecute taints of every node and evict nothing. */
  readonly enterMasterDisruption: boolean;
  /** Some zone is back after all were down: count every node's heartbeat from now. */
  readonly exitMasterDisruption: boolean;
}

/**
 * Decides zone states and eviction rates from the Ready statuses of each zone's nodes (`zones`) and
 * the states of the previous pass (`previous`, zones seen before; a zone new to it starts Initial).
 */
export function planDisruption(
  previous: ReadonlyMap<string, ZoneState>,
  zones: ReadonlyMap<string, readonly (string | undefined)[]>,
  s: Pick<NodeLifecycleSettings, 'evictionRate' | 'secondaryEvictionRate' | 'largeClusterSizeThreshold' | 'unhealthyZoneThreshold'>,
): DisruptionPlan {
  const computed = new Map<string, ZoneState>();
  let allAreFullyDisrupted = true;
  for (const [zone, statuses] of zones) {
    const { state } = computeZoneState(statuses, s.unhealthyZoneThreshold);
    if (state !== 'FullDisruption') allAreFullyDisrupted = false;
    computed.set(zone, state);
  }
  // Zones without nodes are forgotten; new ones start from Initial.
  const states = new Map<string, ZoneState>();
  for (const zone of zones.keys()) states.set(zone, previous.get(zone) ?? 'Initial');
  let allWereFullyDisrupted = true;
  for (const state of states.values()) if (state !== 'FullDisruption') { allWereFullyDisrupted = false; break; }
  const rates = new Map<string, number>();
  const plan = (enter: boolean, exit: boolean): DisruptionPlan => ({ states, rates, enterMasterDisruption: enter, exitMasterDisruption: exit });
  // Everything was and still is down (or there are no zones): nothing changes.
  if (allAreFullyDisrupted && allWereFullyDisrupted) return plan(false, false);
  if (allAreFullyDisrupted) {
    for (const zone of states.keys()) { rates.set(zone, 0); states.set(zone, 'FullDisruption'); }
    return plan(true, false);
  }
  if (allWereFullyDisrupted) {
    for (const [zone, state] of computed) { rates.set(zone, zoneEvictionRate(state, zones.get(zone)!.length, s)); states.set(zone, state); }
    return plan(false, true);
  }
  for (const [zone, state] of computed) {
    if (states.get(zone) === state) continue;
    rates.set(zone, zoneEvictionRate(state, zones.get(zone)!.length, s));
    states.set(zone, state);
  }
  return plan(false, false);
}

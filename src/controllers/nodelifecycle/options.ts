/** kube-controller-manager's node lifecycle settings, by their flag names; every field has upstream's default. */
export interface NodeLifecycleOptions {
  /** `--node-monitor-grace-period`: how long a node may go without a heartbeat before it is Unknown (40 s). */
  readonly monitorGracePeriodMs?: number;
  /** `--node-monitor-period`: how often every node's health is checked (5 s; a node's deadline also wakes the check). */
  readonly monitorPeriodMs?: number;
  /** `--node-startup-grace-period`: how long a node that never reported status gets (60 s). */
  readonly startupGracePeriodMs?: number;
  /** `--node-eviction-rate`: nodes per second whose pods may be evicted (tainted NoExecute) in a healthy zone (0.1). */
  readonly evictionRate?: number;
  /** `--secondary-node-eviction-rate`: the rate in a partially disrupted zone of a large cluster (0.01). */
  readonly secondaryEvictionRate?: number;
  /** `--unhealthy-zone-threshold`: the share of not-Ready nodes (at least 3) that makes a zone partially disrupted (0.55). */
  readonly unhealthyZoneThreshold?: number;
  /** `--large-cluster-size-threshold`: zones with more nodes than this keep evicting, slowly, when partially disrupted (50). */
  readonly largeClusterSizeThreshold?: number;
}

/** The options with every default filled in. */
export type NodeLifecycleSettings = Required<NodeLifecycleOptions>;

export function nodeLifecycleSettings(o: NodeLifecycleOptions = {}): NodeLifecycleSettings {
  return {
    monitorGracePeriodMs: o.monitorGracePeriodMs ?? 40_000,
    monitorPeriodMs: o.monitorPeriodMs ?? 5_000,
    startupGracePeriodMs: o.startupGracePeriodMs ?? 60_000,
    evictionRate: o.evictionRate ?? 0.1,
    secondaryEvictionRate: o.secondaryEvictionRate ?? 0.01,
    unhealthyZoneThreshold: o.unhealthyZoneThreshold ?? 0.55,
    largeClusterSizeThreshold: o.largeClusterSizeThreshold ?? 50,
  };
}

/**
 * The pod network of one node agent: a pinned network namespace per pod sandbox, wired by CNI plugins
 * (loopback, bridge with host-local IPAM on the node's pod CIDR, portmap for hostPorts).
 */

export interface PortMapping {
  readonly hostPort: number;
  readonly containerPort: number;
  /** `tcp`, `udp` or `sctp` (lower case, as CNI's portMappings capability wants). */
  readonly protocol: string;
  /** Host address to bind; empty for all. */
  readonly hostIP?: string;
}

export interface SandboxNetworkRequest {
  /** The sandbox's id (unique on the node; also the CNI container id). */
  readonly id: string;
  readonly podName: string;
  readonly podNamespace: string;
  readonly podUid: string;
  readonly portMappings: readonly PortMapping[];
}

export interface SandboxNetwork {
  /** Path of the pinned network namespace (e.g. `/var/run/netns/<prefix>-<id>`), for the OCI spec. */
  readonly netnsPath: string;
  /** The pod's primary IP (IPv4). */
  readonly ip: string;
  readonly ips: readonly string[];
}

export interface PodNetwork {
  /** Creates the namespace and runs CNI ADD (loopback, then the pod network). Idempotent per id. */
  setUp(req: SandboxNetworkRequest): Promise<SandboxNetwork>;
  /** CNI DEL while the namespace still exists, then removes it. Safe to call twice or after a partial setUp. */
  tearDown(id: string): Promise<void>;
  /** What setUp gave `id`, recovered from disk (for re-adopting sandboxes after an agent restart). */
  status(id: string): SandboxNetwork | undefined;
  /** Removes namespaces, IPAM reservations, cached results and iptables rules of sandboxes not in `live`. */
  garbageCollect(live: ReadonlySet<string>): Promise<void>;
  /** The other nodes' pod CIDRs: traffic to them is routed, not masqueraded. */
  setPeerPodCIDRs?(cidrs: readonly string[]): Promise<void>;
}

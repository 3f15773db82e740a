import type { Node, Pod, Taint } from 'kubernetes-types/core/v1.js';
import { parseResourceList, podRequests, podRequestsForScoring, type ResourceList } from './resources.js';

/** Resource amounts as numbers of milli-units: exact up to about 9 PB of memory, and fast to add. */
export type Amounts = Map<string, number>;

export function toAmounts(r: ResourceList): Amounts {
  const out: Amounts = new Map();
  for (const [k, v] of r) out.set(k, Number(v));
  return out;
}

/** A pod as the scheduler keeps it: its object and what it asks for, computed once. */
export interface PodInfo {
  readonly pod: Pod;
  readonly key: string;
  readonly requests: Amounts;
  readonly scoringRequests: Amounts;
  /** Host ports as `protocol/ip/port`. */
  readonly hostPorts: readonly { protocol: string; ip: string; port: number }[];
  /** Has pod affinity or anti-affinity terms (of any kind): other pods' placement may depend on it. */
  readonly hasAffinity: boolean;
  /** Has required anti-affinity terms: they can forbid nodes to incoming pods. */
  readonly hasRequiredAntiAffinity: boolean;
}

export function podKey(pod: Pod): string {
  return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
}

export function newPodInfo(pod: Pod): PodInfo {
  const hostPorts: { protocol: string; ip: string; port: number }[] = [];
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
    for (const p of c.ports ?? []) if (p.hostPort) hostPorts.push({ protocol: p.protocol ?? 'TCP', ip: p.hostIP || '0.0.0.0', port: p.hostPort });
  }
  const a = pod.spec?.affinity;
  return {
    pod, key: podKey(pod), requests: toAmounts(podRequests(pod)), scoringRequests: toAmounts(podRequestsForScoring(pod)), hostPorts,
    hasAffinity: Boolean(a?.podAffinity || a?.podAntiAffinity),
    hasRequiredAntiAffinity: (a?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length ?? 0) > 0,
  };
}

/**
 * Cluster-wide counts kept up to date by the NodeInfos of one cache (upstream's snapshot keeps the same
 * lists), so a cycle can skip scans over every node that would find nothing.
 */
export class ClusterTotals {
  podsWithAffinity = 0;
  podsWithRequiredAntiAffinity = 0;
  /** How many nodes hold each image name (upstream's ImageStateSummary.NumNodes). */
  readonly nodesWithImage = new Map<string, number>();

  countImages(images: ReadonlyMap<string, number>, delta: 1 | -1): void {
    for (const name of images.keys()) {
      const n = (this.nodesWithImage.get(name) ?? 0) + delta;
      if (n <= 0) this.nodesWithImage.delete(name);
      else this.nodesWithImage.set(name, n);
    }
  }
}

/**
 * One node and the pods placed on it (bound, or assumed while their binding is in flight), with the
 * sums the filters need kept up to date incrementally.
 */
export class NodeInfo {
  node: Node;
  allocatable: Amounts = new Map();
  readonly pods = new Map<string, PodInfo>();
  /**
   * The subsets of `pods` with (anti-)affinity terms, as upstream keeps them: most pods have none, and
   * inter-pod affinity only has to look at these unless the incoming pod has terms of its own.
   */
  readonly podsWithAffinity = new Map<string, PodInfo>();
  readonly podsWithRequiredAntiAffinity = new Map<string, PodInfo>();
  readonly requested: Amounts = new Map();
  readonly scoringRequested: Amounts = new Map();
  readonly usedPorts = new Map<string, number>();
  /**
   * cpu and memory of `allocatable`, `requested` and `scoringRequested` as plain numbers: the scores
   * read them for hundreds of nodes per cycle.
   */
  allocCpu = 0;
  allocMemory = 0;
  /** Allocatable pod count; Infinity when the node states none. */
  allocPods = Infinity;
  requestedCpu = 0;
  requestedMemory = 0;
  scoringCpu = 0;
  scoringMemory = 0;
  /** Taints the filters see, including the implicit not-ready one (see `effectiveTaints`). */
  taints: Taint[] = [];
  /** Image names on the node with their sizes (for image locality). */
  images = new Map<string, number>();

  readonly #totals: ClusterTotals | undefined;

  /** `totals`, when given, follows this node's pods and images until `detach()`. */
  constructor(node: Node, totals?: ClusterTotals) {
    this.node = node;
    this.#totals = totals;
    this.setNode(node);
  }

  /** The node leaves the cache: its pods and images no longer count in the totals. */
  detach(): void {
    const t = this.#totals;
    if (!t) return;
    t.countImages(this.images, -1);
    for (const p of this.pods.values()) {
      if (p.hasAffinity) t.podsWithAffinity--;
      if (p.hasRequiredAntiAffinity) t.podsWithRequiredAntiAffinity--;
    }
  }

  get name(): string { return this.node.metadata?.name ?? ''; }

  setNode(node: Node): void {
    this.node = node;
    const alloc = node.status?.allocatable ?? node.status?.capacity;
    this.allocatable = toAmounts(parseResourceList(alloc as Record<string, string> | undefined));
    // `pods` is a count: keep it in units, not milli-units.
    const pods = this.allocatable.get('pods');
    if (pods !== undefined) this.allocatable.set('pods', Math.floor(pods / 1000));
    this.allocPods = this.allocatable.get('pods') ?? Infinity;
    this.allocCpu = this.allocatable.get('cpu') ?? 0;
    this.allocMemory = this.allocatable.get('memory') ?? 0;
    this.taints = effectiveTaints(node);
    this.#totals?.countImages(this.images, -1);
    this.images = new Map();
    for (const img of node.status?.images ?? []) for (const n of img.names ?? []) this.images.set(n, img.sizeBytes ?? 0);
    this.#totals?.countImages(this.images, 1);
  }

  addPod(p: PodInfo): void {
    if (this.pods.has(p.key)) this.removePod(p.key);
    this.pods.set(p.key, p);
    if (p.hasAffinity) {
      this.podsWithAffinity.set(p.key, p);
      if (this.#totals) this.#totals.podsWithAffinity++;
    }
    if (p.hasRequiredAntiAffinity) {
      this.podsWithRequiredAntiAffinity.set(p.key, p);
      if (this.#totals) this.#totals.podsWithRequiredAntiAffinity++;
    }
    for (const [k, v] of p.requests) this.requested.set(k, (this.requested.get(k) ?? 0) + v);
    for (const [k, v] of p.scoringRequests) this.scoringRequested.set(k, (this.scoringRequested.get(k) ?? 0) + v);
    this.#syncCpuMemory();
    for (const hp of p.hostPorts) {
      const k = `${hp.protocol}/${hp.ip}/${hp.port}`;
      this.usedPorts.set(k, (this.usedPorts.get(k) ?? 0) + 1);
    }
  }

  #syncCpuMemory(): void {
    this.requestedCpu = this.requested.get('cpu') ?? 0;
    this.requestedMemory = this.requested.get('memory') ?? 0;
    this.scoringCpu = this.scoringRequested.get('cpu') ?? 0;
    this.scoringMemory = this.scoringRequested.get('memory') ?? 0;
  }

  removePod(key: string): void {
    const p = this.pods.get(key);
    if (!p) return;
    this.pods.delete(key);
    if (this.podsWithAffinity.delete(key) && this.#totals) this.#totals.podsWithAffinity--;
    if (this.podsWithRequiredAntiAffinity.delete(key) && this.#totals) this.#totals.podsWithRequiredAntiAffinity--;
    for (const [k, v] of p.requests) this.requested.set(k, (this.requested.get(k) ?? 0) - v);
    for (const [k, v] of p.scoringRequests) this.scoringRequested.set(k, (this.scoringRequested.get(k) ?? 0) - v);
    this.#syncCpuMemory();
    for (const hp of p.hostPorts) {
      const k = `${hp.protocol}/${hp.ip}/${hp.port}`;
      const n = (this.usedPorts.get(k) ?? 0) - 1;
      if (n <= 0) this.usedPorts.delete(k);
      else this.usedPorts.set(k, n);
    }
  }
}

/**
 * The node's taints, plus `node.kubernetes.io/not-ready:NoSchedule` when the node does not report
 * Ready (or `node.kubernetes.io/unreachable:NoSchedule` when its Ready condition is Unknown) — what
 * upstream's node lifecycle controller would have added — so an unready node is refused with the same
 * wording users know.
 */
export function effectiveTaints(node: Node): Taint[] {
  const taints = [...(node.spec?.taints ?? [])];
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  // Only a NoSchedule taint of either key stands in for the implicit one: the NoExecute ones are
  // tolerated for a while by every pod (DefaultTolerationSeconds), which must not make the node schedulable.
  if (ready?.status !== 'True' && !taints.some((t) => t.effect === 'NoSchedule' && (t.key === 'node.kubernetes.io/not-ready' || t.key === 'node.kubernetes.io/unreachable'))) {
    taints.push({ key: ready?.status === 'Unknown' ? 'node.kubernetes.io/unreachable' : 'node.kubernetes.io/not-ready', effect: 'NoSchedule' });
  }
  return taints;
}

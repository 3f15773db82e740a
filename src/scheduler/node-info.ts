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
}

export function podKey(pod: Pod): string {
  return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
}

export function newPodInfo(pod: Pod): PodInfo {
  const hostPorts: { protocol: string; ip: string; port: number }[] = [];
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
    for (const p of c.ports ?? []) if (p.hostPort) hostPorts.push({ protocol: p.protocol ?? 'TCP', ip: p.hostIP || '0.0.0.0', port: p.hostPort });
  }
  return { pod, key: podKey(pod), requests: toAmounts(podRequests(pod)), scoringRequests: toAmounts(podRequestsForScoring(pod)), hostPorts };
}

/**
 * One node and the pods placed on it (bound, or assumed while their binding is in flight), with the
 * sums the filters need kept up to date incrementally.
 */
export class NodeInfo {
  node: Node;
  allocatable: Amounts = new Map();
  readonly pods = new Map<string, PodInfo>();
  readonly requested: Amounts = new Map();
  readonly scoringRequested: Amounts = new Map();
  readonly usedPorts = new Map<string, number>();
  /** Taints the filters see, including the implicit not-ready one (see `effectiveTaints`). */
  taints: Taint[] = [];
  /** Image names on the node with their sizes (for image locality). */
  images = new Map<string, number>();

  constructor(node: Node) {
    this.node = node;
    this.setNode(node);
  }

  get name(): string { return this.node.metadata?.name ?? ''; }

  setNode(node: Node): void {
    this.node = node;
    const alloc = node.status?.allocatable ?? node.status?.capacity;
    this.allocatable = toAmounts(parseResourceList(alloc as Record<string, string> | undefined));
    // `pods` is a count: keep it in units, not milli-units.
    const pods = this.allocatable.get('pods');
    if (pods !== undefined) this.allocatable.set('pods', Math.floor(pods / 1000));
    this.taints = effectiveTaints(node);
    this.images = new Map();
    for (const img of node.status?.images ?? []) for (const n of img.names ?? []) this.images.set(n, img.sizeBytes ?? 0);
  }

  addPod(p: PodInfo): void {
    if (this.pods.has(p.key)) this.removePod(p.key);
    this.pods.set(p.key, p);
    for (const [k, v] of p.requests) this.requested.set(k, (this.requested.get(k) ?? 0) + v);
    for (const [k, v] of p.scoringRequests) this.scoringRequested.set(k, (this.scoringRequested.get(k) ?? 0) + v);
    for (const hp of p.hostPorts) {
      const k = `${hp.protocol}/${hp.ip}/${hp.port}`;
      this.usedPorts.set(k, (this.usedPorts.get(k) ?? 0) + 1);
    }
  }

  removePod(key: string): void {
    const p = this.pods.get(key);
    if (!p) return;
    this.pods.delete(key);
    for (const [k, v] of p.requests) this.requested.set(k, (this.requested.get(k) ?? 0) - v);
    for (const [k, v] of p.scoringRequests) this.scoringRequested.set(k, (this.scoringRequested.get(k) ?? 0) - v);
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
  if (ready?.status !== 'True' && !taints.some((t) => t.key === 'node.kubernetes.io/not-ready' || t.key === 'node.kubernetes.io/unreachable')) {
    taints.push({ key: ready?.status === 'Unknown' ? 'node.kubernetes.io/unreachable' : 'node.kubernetes.io/not-ready', effect: 'NoSchedule' });
  }
  return taints;
}

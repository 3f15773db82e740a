import type { Node, NodeCondition } from 'kubernetes-types/core/v1.js';
import type { RestClient } from '../client/rest-client.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { rfc3339, rfc3339Micro } from '../util/time.js';
import { deepEqual } from '../util/deep-equal.js';
import type { HostInfo } from './host-info.js';
import type { LocalImage } from './images/types.js';

export interface NodeStatusOptions {
  readonly client: RestClient;
  readonly nodeName: string;
  readonly address: string;
  readonly podCIDR: string;
  readonly maxPods: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly runtimeVersion: string;
  /** Port of the agent's streaming server, published in `status.daemonEndpoints` (0: none yet). */
  readonly kubeletPort?: number;
  readonly host: () => Promise<HostInfo>;
  readonly images: () => readonly LocalImage[];
  readonly clock: Clock;
  readonly log: Logger;
  /** Lease renewal period (kubelet's 10 s); the lease lasts four periods (40 s). */
  readonly heartbeatMs?: number;
}

/** kubelet's hard eviction thresholds, taken out of capacity to give allocatable. */
const evictionMemoryKi = 100 * 1024;
const evictionStorageShare = 0.1;

export const kubeletVersion = 'v1.32.0+skiff';

function cond(type: string, ok: boolean, reason: string, message: string, prev: readonly NodeCondition[] | undefined, now: string): NodeCondition {
  const status = ok ? 'True' : 'False';
  const p = prev?.find((c) => c.type === type);
  return { type, status, lastHeartbeatTime: now, lastTransitionTime: p?.status === status && p.lastTransitionTime ? p.lastTransitionTime : now, reason, message };
}

/**
 * Registers this machine's Node, keeps its Lease in `kube-node-lease` renewed every 10 s and its status
 * (capacity, allocatable, conditions, addresses, nodeInfo, images) current, as kubelet's node status
 * manager does: a status write when something changed, or once a minute to say it is alive.
 */
export class NodeStatusReporter {
  readonly #o: NodeStatusOptions;
  #timer: { cancel(): void } | undefined;
  #stopped = false;
  #lastStatus: unknown;
  #lastStatusAt = 0;
  #leaseRV: string | undefined;

  constructor(o: NodeStatusOptions) {
    this.#o = o;
  }

  get #path(): string { return `/api/v1/nodes/${this.#o.nodeName}`; }

  /** Creates the Node (or takes the existing one over), writes its first status and lease. */
  async register(): Promise<void> {
    const existing = await this.#o.client.request<Node>('GET', this.#path);
    if (existing.status === 404) {
      const r = await this.#o.client.request('POST', '/api/v1/nodes', {
        body: { apiVersion: 'v1', kind: 'Node', metadata: { name: this.#o.nodeName, labels: { ...this.#o.labels } }, spec: { podCIDR: this.#o.podCIDR, podCIDRs: [this.#o.podCIDR] } },
      });
      if (r.status !== 201 && r.status !== 409) throw new Error(`registering node ${this.#o.nodeName}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      this.#o.log.info('node registered', { node: this.#o.nodeName });
    } else if (existing.status === 200) {
      // Labels we own are refreshed; the pod CIDR is set if nobody assigned one.
      const spec = existing.body.spec ?? {};
      await this.#o.client.request('PATCH', this.#path, {
        body: { metadata: { labels: { ...this.#o.labels } }, ...(spec.podCIDR ? {} : { spec: { podCIDR: this.#o.podCIDR, podCIDRs: [this.#o.podCIDR] } }) },
        contentType: 'application/merge-patch+json',
      });
    } else {
      throw new Error(`reading node ${this.#o.nodeName}: HTTP ${existing.status}`);
    }
    await this.#renewLease();
    await this.updateStatus(true);
  }

  /** Starts the heartbeat loop. */
  start(): void {
    const period = this.#o.heartbeatMs ?? 10_000;
    const tick = async (): Promise<void> => {
      if (this.#stopped) return;
      try {
        await this.#renewLease();
        await this.updateStatus(false);
      } catch (e) {
        this.#o.log.warn('node heartbeat failed', { err: e as Error });
      }
      if (!this.#stopped) this.#timer = this.#o.clock.setTimeout(() => void tick(), period);
    };
    this.#timer = this.#o.clock.setTimeout(() => void tick(), period);
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
  }

  async #renewLease(): Promise<void> {
    const c = this.#o.client;
    const name = this.#o.nodeName;
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`;
    const seconds = Math.round(((this.#o.heartbeatMs ?? 10_000) * 4) / 1000);
    const now = rfc3339Micro(this.#o.clock.now());
    const node = await c.request<Node>('GET', this.#path);
    const owner = node.status === 200 && node.body.metadata?.uid
      ? [{ apiVersion: 'v1', kind: 'Node', name, uid: node.body.metadata.uid }] : undefined;
    const body = {
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
      metadata: { name, namespace: 'kube-node-lease', ...(owner ? { ownerReferences: owner } : {}), ...(this.#leaseRV ? { resourceVersion: this.#leaseRV } : {}) },
      spec: { holderIdentity: name, leaseDurationSeconds: seconds, renewTime: now },
    };
    let r = await c.request<{ metadata: { resourceVersion: string } }>('PUT', path, { body });
    if (r.status === 409 || r.status === 404) {
      // Someone else wrote it, or it is gone: start from what is there.
      delete (body.metadata as { resourceVersion?: string }).resourceVersion;
      const cur = await c.request<{ metadata: { resourceVersion: string } }>('GET', path);
      if (cur.status === 200) r = await c.request('PUT', path, { body: { ...body, metadata: { ...body.metadata, resourceVersion: cur.body.metadata.resourceVersion } } });
      else r = await c.request('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', { body });
    }
    if (r.status === 200 || r.status === 201) this.#leaseRV = r.body.metadata.resourceVersion;
    else throw new Error(`renewing lease ${name}: HTTP ${r.status}`);
  }

  /** Writes the node's status if it changed (or `force`, or a minute passed). */
  async updateStatus(force: boolean): Promise<void> {
    const h = await this.#o.host();
    const o = this.#o;
    const nowMs = o.clock.now();
    const current = await o.client.request<Node>('GET', this.#path);
    if (current.status !== 200) throw new Error(`reading node ${o.nodeName}: HTTP ${current.status}`);
    const prev = current.body.status?.conditions;
    const now = rfc3339(nowMs);
    const memPressure = h.memoryAvailableKi < evictionMemoryKi;
    const diskPressure = h.storageAvailableBytes < h.storageBytes * evictionStorageShare;
    const pidPressure = h.pids > h.pidMax * 0.9;
    const capacity = { cpu: String(h.cpu), memory: `${h.memoryKi}Ki`, pods: String(o.maxPods), 'ephemeral-storage': `${Math.floor(h.storageBytes / 1024)}Ki` };
    const allocatable = {
      cpu: String(h.cpu), memory: `${Math.max(0, h.memoryKi - evictionMemoryKi)}Ki`, pods: String(o.maxPods),
      'ephemeral-storage': String(Math.floor(h.storageBytes * (1 - evictionStorageShare))),
    };
    const images = [...o.images()].sort((a, b) => b.size - a.size).slice(0, 50)
      .map((i) => ({ names: [...i.repoDigests, ...i.repoTags], sizeBytes: i.size }));
    const status = {
      capacity, allocatable,
      conditions: [
        cond('MemoryPressure', memPressure, memPressure ? 'KubeletHasInsufficientMemory' : 'KubeletHasSufficientMemory', memPressure ? 'kubelet has insufficient memory available' : 'kubelet has sufficient memory available', prev, now),
        cond('DiskPressure', diskPressure, diskPressure ? 'KubeletHasDiskPressure' : 'KubeletHasNoDiskPressure', diskPressure ? 'kubelet has disk pressure' : 'kubelet has no disk pressure', prev, now),
        cond('PIDPressure', pidPressure, pidPressure ? 'KubeletHasInsufficientPID' : 'KubeletHasSufficientPID', pidPressure ? 'kubelet has insufficient PID available' : 'kubelet has sufficient PID available', prev, now),
        cond('Ready', true, 'KubeletReady', 'kubelet is posting ready status', prev, now),
      ],
      addresses: [{ type: 'InternalIP', address: o.address }, { type: 'Hostname', address: h.hostname }],
      daemonEndpoints: { kubeletEndpoint: { Port: o.kubeletPort ?? 0 } },
      nodeInfo: {
        machineID: h.machineID, systemUUID: h.systemUUID, bootID: h.bootID, kernelVersion: h.kernelVersion, osImage: h.osImage,
        containerRuntimeVersion: o.runtimeVersion, kubeletVersion, kubeProxyVersion: '', operatingSystem: 'linux', architecture: h.architecture,
      },
      images,
    };
    // Heartbeat times always change; compare the rest.
    const comparable = { ...status, conditions: status.conditions.map(({ lastHeartbeatTime: _h, lastTransitionTime: _t, ...c }) => c) };
    // What the server holds counts too: the node lifecycle controller sets conditions to Unknown while
    // this agent is away, and those must be put right at once when it is back, not a minute later.
    const byType = (cs: readonly { type: string }[]): unknown[] => [...cs].sort((a, b) => a.type.localeCompare(b.type));
    const onServer = byType((prev ?? []).map(({ lastHeartbeatTime: _h, lastTransitionTime: _t, ...c }) => c));
    const serverAgrees = deepEqual(byType(comparable.conditions), onServer);
    if (!force && serverAgrees && deepEqual(comparable, this.#lastStatus) && nowMs - this.#lastStatusAt < 60_000) return;
    const r = await o.client.request('PATCH', `${this.#path}/status`, { body: { status }, contentType: 'application/merge-patch+json' });
    if (r.status !== 200) throw new Error(`updating node status: HTTP ${r.status}`);
    this.#lastStatus = comparable;
    this.#lastStatusAt = nowMs;
  }
}

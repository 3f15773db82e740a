import type { Node } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/types.js';
import { WorkQueue, runWorkers } from '../../client/work-queue.js';
import type { Informer } from '../../client/informer.js';
import { parseIpv4Cidr, subnetAt, type Ipv4Cidr } from '../../util/ipv4-cidr.js';
import type { EventRecorder } from '../../client/event-recorder.js';
import type { Controller, ControllerContext } from '../controller.js';

type N = Node & KubeObject;

/**
 * Node IPAM (kube-controller-manager's range allocator): gives every Node without a `spec.podCIDR` the
 * first free subnet of `--cluster-cidr` (a /24 each by default), counting the subnets nodes already
 * hold — the built-in agent's own included — as taken. Agents wait for it before they set up pod networking.
 */
export class NodeIpamController implements Controller {
  readonly name = 'nodeipam';
  readonly #ctx: ControllerContext;
  readonly #inf: Informer<N>;
  readonly #queue: WorkQueue<string>;
  readonly #cluster: Ipv4Cidr;
  readonly #maskSize: number;
  readonly #events: EventRecorder;
  /** Subnets handed out that the informer may not show yet (its cache lags the patch). */
  readonly #assigned = new Map<string, string>();

  constructor(ctx: ControllerContext) {
    this.#ctx = ctx;
    this.#cluster = parseIpv4Cidr(ctx.config?.clusterCIDR ?? '10.42.0.0/16');
    this.#maskSize = ctx.config?.nodeCIDRMaskSize ?? 24;
    this.#queue = new WorkQueue({ clock: ctx.clock });
    this.#events = ctx.recorder('cidrAllocator');
    this.#inf = ctx.informers.for<N>('', 'v1', 'nodes');
    const enqueue = (n: N): void => { if (!n.spec?.podCIDR) this.#queue.add(n.metadata.name!); };
    this.#inf.addHandlers({ add: enqueue, update: (_o, n) => enqueue(n) });
  }

  async run(signal: AbortSignal): Promise<void> {
    signal.addEventListener('abort', () => this.#queue.shutDown());
    await this.#inf.waitForSync();
    // One worker: two allocations at once could hand out the same subnet.
    await runWorkers(this.#queue, 1, (key) => this.sync(key), (key, e) => this.#ctx.log.warn('pod CIDR allocation failed', { node: key, err: e as Error }));
  }

  async sync(name: string): Promise<void> {
    const node = this.#inf.get(name);
    if (!node || node.spec?.podCIDR) return;
    const nodes = this.#inf.list();
    const live = new Set(nodes.map((n) => n.metadata.name));
    for (const n of this.#assigned.keys()) if (!live.has(n)) this.#assigned.delete(n);
    const taken = new Set([...nodes.flatMap((n) => [n.spec?.podCIDR, ...(n.spec?.podCIDRs ?? [])]), ...this.#assigned.values()].filter((c): c is string => !!c));
    for (let i = 0; ; i++) {
      const cidr = subnetAt(this.#cluster, this.#maskSize, i);
      if (!cidr) {
        this.#events.event(node, 'Normal', 'CIDRNotAvailable', `Node ${name} status is now: CIDRNotAvailable`);
        throw new Error(`no free /${this.#maskSize} left in ${this.#cluster.cidr}`);
      }
      if (taken.has(cidr)) continue;
      await this.#ctx.client.call('PATCH', `/api/v1/nodes/${encodeURIComponent(name)}`, {
        body: { spec: { podCIDR: cidr, podCIDRs: [cidr] } }, contentType: 'application/merge-patch+json',
      });
      this.#assigned.set(name, cidr);
      this.#ctx.log.info('pod CIDR allocated', { node: name, podCIDR: cidr });
      return;
    }
  }
}

import type { Node } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/types.js';
import { Informer } from '../../client/informer.js';
import type { RestClient } from '../../client/rest-client.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { runChecked } from './command.js';

type N = Node & KubeObject;

/**
 * Host-gw pod routing (flannel's host-gw backend): a route to every other node's pod CIDR via that
 * node's InternalIP, so pods reach pods on other nodes by IP without encapsulation. It needs the nodes
 * on one L2 segment; the routes follow the Node objects (added, changed, removed).
 */
export class NodeRoutes {
  readonly #inf: Informer<N>;
  readonly #log: Logger;
  /** The routes this agent installed: pod CIDR → gateway. Only these are ever replaced or removed. */
  readonly #installed = new Map<string, string>();
  #chain: Promise<void> = Promise.resolve();

  constructor(client: RestClient, private readonly nodeName: string, log: Logger = silentLogger) {
    this.#log = log.with({ component: 'node-routes' });
    this.#inf = new Informer<N>(client, { path: '/api/v1/nodes', log: this.#log });
    const sync = (): void => { this.#chain = this.#chain.then(() => this.#sync()).catch((e: Error) => this.#log.warn('cannot sync pod routes', { err: e })); };
    this.#inf.addHandlers({ add: sync, update: sync, delete: sync });
  }

  async start(): Promise<void> {
    await this.#inf.start();
  }

  /** Stops following the nodes; the routes stay until the next agent (or `skiff killall`) takes over. */
  stop(): void {
    this.#inf.stop();
  }

  /** Waits for the routes to match the nodes seen so far (tests). */
  settled(): Promise<void> { return this.#chain; }

  async #sync(): Promise<void> {
    const want = new Map<string, string>();
    for (const n of this.#inf.list()) {
      if (n.metadata.name === this.nodeName) continue;
      const ip = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
      const cidrs = n.spec?.podCIDRs?.length ? n.spec.podCIDRs : n.spec?.podCIDR ? [n.spec.podCIDR] : [];
      if (!ip || ip.includes(':')) continue;
      for (const c of cidrs) if (!c.includes(':')) want.set(c, ip);
    }
    for (const [cidr, via] of want) {
      if (this.#installed.get(cidr) === via) continue;
      await runChecked('ip', ['route', 'replace', cidr, 'via', via], { timeoutMs: 10_000 });
      this.#installed.set(cidr, via);
      this.#log.info('route to a node\'s pods', { podCIDR: cidr, via });
    }
    for (const [cidr, via] of this.#installed) {
      if (want.has(cidr)) continue;
      await runChecked('ip', ['route', 'del', cidr, 'via', via], { timeoutMs: 10_000 }).catch(() => { /* already gone */ });
      this.#installed.delete(cidr);
      this.#log.info('route removed: the node is gone', { podCIDR: cidr, via });
    }
  }
}

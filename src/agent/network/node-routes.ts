import type { Node } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/types.js';
import { Informer } from '../../client/informer.js';
import type { RestClient } from '../../client/rest-client.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { runChecked, runCommand } from './command.js';
import { VTEP_MAC_ANNOTATION, directlyReachable, ensureVtep, routeThroughVtep, unrouteThroughVtep, vtepName } from './vxlan.js';

type N = Node & KubeObject;

export interface NodeRoutesOptions {
  readonly client: RestClient;
  readonly nodeName: string;
  /** This node's address (the VXLAN endpoint's local address) and pod CIDR. */
  readonly address: string;
  readonly podCIDR: string;
  /** Told the other nodes' pod CIDRs after every sync (the pod network exempts them from masquerade). */
  readonly onPeerPodCIDRs?: (cidrs: readonly string[]) => Promise<void>;
  readonly log?: Logger;
}

type Route = { kind: 'direct'; via: string } | { kind: 'vxlan'; nodeIP: string; mac: string };

const same = (a: Route | undefined, b: Route): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Pod routing between nodes, as flannel's vxlan backend with DirectRouting: a node on one of this
 * host's L2 segments gets a plain route to its pod CIDR via its address (host-gw); any other is
 * reached through a VXLAN device (VNI 1, UDP 8472), the peers' endpoint MACs published as a Node
 * annotation. The routes follow the Node objects (added, changed, removed).
 */
export class NodeRoutes {
  readonly #o: NodeRoutesOptions;
  readonly #inf: Informer<N>;
  readonly #log: Logger;
  readonly #device: string;
  /** The routes this agent installed, by pod CIDR. Only these are ever replaced or removed. */
  readonly #installed = new Map<string, Route>();
  #macPublished: string | undefined;
  #chain: Promise<void> = Promise.resolve();
  #lastView = '';
  #lastSyncAt = 0;

  constructor(o: NodeRoutesOptions) {
    this.#o = o;
    this.#log = (o.log ?? silentLogger).with({ component: 'node-routes' });
    this.#device = vtepName(o.nodeName);
    this.#inf = new Informer<N>(o.client, { path: '/api/v1/nodes', log: this.#log });
    const sync = (): void => { this.#chain = this.#chain.then(() => this.#syncIfChanged()).catch((e: Error) => this.#log.warn('cannot sync pod routes', { err: e })); };
    this.#inf.addHandlers({ add: sync, update: sync, delete: sync });
  }

  async start(): Promise<void> {
    await this.#inf.start();
  }

  /** Stops following the nodes; the routes stay until the next agent (or `skiff killall`) takes over. */
  stop(): void {
    this.#inf.stop();
  }

  /**
   * Every heartbeat of every node is an update: only a change in what routing depends on (names,
   * addresses, pod CIDRs, endpoint MACs) leads to a sync — or a minute passing, which repairs routes
   * removed behind the agent's back.
   */
  async #syncIfChanged(): Promise<void> {
    const view = JSON.stringify(this.#inf.list().map((n) => [
      n.metadata.name, n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address, n.spec?.podCIDRs ?? n.spec?.podCIDR,
      n.metadata.annotations?.[VTEP_MAC_ANNOTATION],
    ]).sort());
    if (view === this.#lastView && Date.now() - this.#lastSyncAt < 60_000) return;
    await this.#sync();
    this.#lastView = view;
    this.#lastSyncAt = Date.now();
  }

  async #sync(): Promise<void> {
    const want = new Map<string, Route>();
    const peers: string[] = [];
    let vtepPublished = false;
    for (const n of this.#inf.list()) {
      if (n.metadata.name === this.#o.nodeName) continue;
      const ip = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
      const cidrs = (n.spec?.podCIDRs?.length ? n.spec.podCIDRs : n.spec?.podCIDR ? [n.spec.podCIDR] : []).filter((c) => !c.includes(':'));
      peers.push(...cidrs);
      if (!ip || ip.includes(':') || cidrs.length === 0) continue;
      if (await directlyReachable(ip)) {
        for (const c of cidrs) want.set(c, { kind: 'direct', via: ip });
        continue;
      }
      // Our endpoint first: the peer needs our MAC as much as we need its.
      // Once per sync, not per remote node: ensureVtep runs three `ip` commands.
      if (!vtepPublished) await this.#publishVtep();
      vtepPublished = true;
      const mac = n.metadata.annotations?.[VTEP_MAC_ANNOTATION];
      if (!mac) continue; // not published yet: its update brings us back here
      for (const c of cidrs) want.set(c, { kind: 'vxlan', nodeIP: ip, mac });
    }
    for (const [cidr, route] of want) {
      const had = this.#installed.get(cidr);
      if (same(had, route)) continue;
      if (had) await this.#remove(cidr, had);
      if (route.kind === 'direct') await runChecked('ip', ['route', 'replace', cidr, 'via', route.via], { timeoutMs: 10_000 });
      else await routeThroughVtep(this.#device, cidr, route.nodeIP, route.mac);
      this.#installed.set(cidr, route);
      this.#log.info('route to a node\'s pods', { podCIDR: cidr, ...route });
    }
    for (const [cidr, route] of this.#installed) {
      if (want.has(cidr)) continue;
      await this.#remove(cidr, route);
      this.#installed.delete(cidr);
      this.#log.info('route removed: the node is gone', { podCIDR: cidr });
    }
    await this.#o.onPeerPodCIDRs?.(peers);
  }

  async #remove(cidr: string, route: Route): Promise<void> {
    if (route.kind === 'direct') await runCommand('ip', ['route', 'del', cidr, 'via', route.via], { timeoutMs: 10_000 });
    else await unrouteThroughVtep(this.#device, cidr, route.nodeIP, route.mac);
  }

  /** Creates this node's VXLAN endpoint if needed and publishes its MAC on the Node. */
  async #publishVtep(): Promise<void> {
    const mac = await ensureVtep(this.#device, this.#o.address, this.#o.podCIDR);
    if (this.#macPublished === mac && this.#inf.get(this.#o.nodeName)?.metadata.annotations?.[VTEP_MAC_ANNOTATION] === mac) return;
    await this.#o.client.call('PATCH', `/api/v1/nodes/${encodeURIComponent(this.#o.nodeName)}`, {
      body: { metadata: { annotations: { [VTEP_MAC_ANNOTATION]: mac } } }, contentType: 'application/merge-patch+json',
    });
    this.#macPublished = mac;
    this.#log.info('VXLAN endpoint published', { device: this.#device, mac });
  }
}

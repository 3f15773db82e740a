import type { EndpointSubset } from 'kubernetes-types/core/v1.js';
import type { Store } from '../store/store.js';
import type { KubeObject } from '../api/types.js';
import { ApiError } from '../api/status.js';
import type { Logger } from '../util/log.js';
import type { RestStore } from './registry/rest-store.js';

/** Where each server's lease lives in the store (upstream keeps `/masterleases/<ip>`; we add the port, servers may share a host). */
export const SERVER_LEASES_PREFIX = '/masterleases/';

export interface EndpointsReconcilerOptions {
  readonly store: Store;
  readonly endpoints: RestStore;
  /** This server's address and port, as other machines reach it. */
  readonly ip: string;
  readonly port: number;
  /** How long a server's lease outlives its last renewal (upstream: 15 s, renewed every 10 s). */
  readonly leaseTTLSeconds?: number;
  readonly renewIntervalMs?: number;
  readonly log: Logger;
}

interface ServerLease { readonly ip: string; readonly port: number }

/**
 * Keeps the `default/kubernetes` Endpoints listing every live API server, as kube-apiserver's lease
 * endpoint reconciler does: each server renews a short store lease under SERVER_LEASES_PREFIX and rewrites
 * the Endpoints from the leases present, so a server that stops renewing drops out within the lease's TTL.
 * Agents read these Endpoints to learn every server they may fail over to.
 */
export class EndpointsReconciler {
  readonly #o: EndpointsReconcilerOptions;
  readonly #key: string;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(o: EndpointsReconcilerOptions) {
    this.#o = o;
    this.#key = `${SERVER_LEASES_PREFIX}${o.ip}:${o.port}`;
  }

  /** Registers this server (awaited, so the Endpoints list it before the server reports ready), then renews. */
  async start(): Promise<void> {
    await this.#reconcile();
    this.#timer = setInterval(() => {
      this.#running = this.#reconcile().catch((e: unknown) => this.#o.log.warn('cannot renew this server\'s endpoint lease', { err: e as Error }));
    }, this.#o.renewIntervalMs ?? 10_000);
    this.#timer.unref();
  }

  /** Stops renewing and removes this server from the Endpoints (a graceful shutdown should not leave clients a dead address). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
    try {
      const cur = await this.#o.store.get(this.#key);
      if (cur.kv) await this.#o.store.delete(this.#key, cur.kv.modRev);
      await this.#writeEndpoints(await this.#live());
    } catch (e) {
      this.#o.log.warn('cannot remove this server from the kubernetes endpoints', { err: e as Error });
    }
  }

  async #reconcile(): Promise<void> {
    if (this.#stopped) return;
    await this.#renew();
    await this.#writeEndpoints(await this.#live());
  }

  async #renew(): Promise<void> {
    const { store } = this.#o;
    const lease = await store.grantLease(this.#o.leaseTTLSeconds ?? 15);
    const value = new TextEncoder().encode(JSON.stringify({ ip: this.#o.ip, port: this.#o.port } satisfies ServerLease));
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await store.get(this.#key);
      const r = cur.kv ? await store.update(this.#key, value, cur.kv.modRev, lease) : await store.create(this.#key, value, lease);
      if (r.ok) return;
    }
    throw new Error(`could not write ${this.#key}: it kept changing`);
  }

  async #live(): Promise<ServerLease[]> {
    const { kvs } = await this.#o.store.list({ prefix: SERVER_LEASES_PREFIX });
    const leases: ServerLease[] = [];
    for (const kv of kvs) {
      try {
        const l = JSON.parse(new TextDecoder().decode(kv.value)) as ServerLease;
        if (typeof l.ip === 'string' && Number.isInteger(l.port)) leases.push(l);
      } catch {
        this.#o.log.warn('ignoring an unreadable server lease', { key: kv.key });
      }
    }
    return leases;
  }

  async #writeEndpoints(leases: readonly ServerLease[]): Promise<void> {
    const subsets = endpointSubsets(leases);
    const { endpoints } = this.#o;
    // Two servers starting together may both find no Endpoints: the one whose create loses retries as an update.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#updateEndpoints(endpoints, subsets);
        return;
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 409) || attempt >= 2) throw e;
      }
    }
  }

  async #updateEndpoints(endpoints: RestStore, subsets: EndpointSubset[]): Promise<void> {
    const o = { dryRun: false, fieldManager: 'skiff', fieldValidation: 'Strict' as const, warnings: [] };
    await endpoints.guaranteedUpdate('default', 'kubernetes', o, (cur) => sameSubsets(cur, subsets) ? cur : { ...cur, subsets }, {
      onMissing: () => endpoints.createDecoded({
        apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } }, subsets,
      }, o),
    });
  }
}

/** One subset per port (servers normally share one), addresses sorted so every server writes the same object. */
export function endpointSubsets(leases: readonly ServerLease[]): EndpointSubset[] {
  const byPort = new Map<number, Set<string>>();
  for (const l of leases) byPort.set(l.port, (byPort.get(l.port) ?? new Set()).add(l.ip));
  return [...byPort.entries()].sort(([a], [b]) => a - b).map(([port, ips]) => ({
    addresses: [...ips].sort().map((ip) => ({ ip })),
    ports: [{ name: 'https', port, protocol: 'TCP' }],
  }));
}

function sameSubsets(cur: KubeObject, subsets: EndpointSubset[]): boolean {
  return JSON.stringify((cur as { subsets?: unknown }).subsets ?? []) === JSON.stringify(subsets);
}

import type { Lease } from 'kubernetes-types/coordination/v1.js';
import { realClock, type Clock } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { RestClient } from './rest-client.js';
import { rfc3339Micro } from '../util/time.js';

/** How long a Lease lasts and how often candidates retry (kube-controller-manager's --leader-elect-* flags). */
export interface LeaderElectionTiming {
  readonly leaseDurationMs: number;
  readonly retryPeriodMs: number;
}

export interface LeaderElectionOptions {
  readonly namespace?: string;
  /** Lease name, e.g. `kube-controller-manager`. */
  readonly name: string;
  /** This candidate's identity (host name plus a unique suffix). */
  readonly identity: string;
  /** How long a lease is valid without renewal (default 15 s, as upstream). */
  readonly leaseDurationMs?: number;
  /** How often the holder renews and candidates retry (default 2 s). */
  readonly retryPeriodMs?: number;
  readonly clock?: Clock;
  readonly log?: Logger;
}


/**
 * Leader election over a coordination.k8s.io/v1 Lease, as client-go's: a candidate takes the lease
 * when it is free or expired, the holder renews it every retry period, and every write is a
 * compare-and-swap on the Lease's resourceVersion, so two candidates can never both win.
 * `run` calls `lead` with a signal that aborts when leadership is lost.
 */
export class LeaderElector {
  readonly #client: RestClient;
  readonly #o: Required<Omit<LeaderElectionOptions, 'clock' | 'log'>>;
  readonly #clock: Clock;
  readonly #log: Logger;
  #leading = false;

  constructor(client: RestClient, o: LeaderElectionOptions) {
    this.#client = client;
    this.#o = { namespace: 'kube-system', leaseDurationMs: 15_000, retryPeriodMs: 2_000, ...o };
    this.#clock = o.clock ?? realClock;
    this.#log = (o.log ?? silentLogger).with({ lease: o.name });
  }

  get isLeader(): boolean { return this.#leading; }

  #path(name?: string): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.#o.namespace}/leases${name ? `/${name}` : ''}`;
  }

  /** One attempt to acquire or renew; true when this candidate holds the lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.#clock.now();
    const seconds = Math.ceil(this.#o.leaseDurationMs / 1000);
    const r = await this.#client.request<Lease>('GET', this.#path(this.#o.name));
    if (r.status === 404) {
      const c = await this.#client.request('POST', this.#path(), {
        body: {
          apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.#o.name, namespace: this.#o.namespace },
          spec: { holderIdentity: this.#o.identity, leaseDurationSeconds: seconds, acquireTime: rfc3339Micro(now), renewTime: rfc3339Micro(now), leaseTransitions: 0 },
        },
      });
      return c.status === 201;
    }
    if (r.status !== 200) return false;
    const lease = r.body;
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const renewed = spec.renewTime ? Date.parse(spec.renewTime) : 0;
    const expired = renewed + (spec.leaseDurationSeconds ?? seconds) * 1000 < now;
    if (holder && holder !== this.#o.identity && !expired) return false;
    const mine = holder === this.#o.identity;
    const next = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.#o.identity,
        leaseDurationSeconds: seconds,
        renewTime: rfc3339Micro(now),
        acquireTime: mine ? spec.acquireTime : rfc3339Micro(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
    const u = await this.#client.request('PUT', this.#path(this.#o.name), { body: next });
    return u.status === 200;
  }

  /** Gives the lease up on a clean stop, so another candidate need not wait for it to expire. */
  async #release(): Promise<void> {
    const r = await this.#client.request<Lease>('GET', this.#path(this.#o.name));
    if (r.status !== 200 || r.body.spec?.holderIdentity !== this.#o.identity) return;
    const spec = { ...r.body.spec };
    delete spec.holderIdentity;
    delete spec.acquireTime;
    spec.leaseDurationSeconds = 1;
    await this.#client.request('PUT', this.#path(this.#o.name), { body: { ...r.body, spec } });
  }

  /**
   * Campaigns until `signal` aborts: whenever this candidate wins, `lead(leadership)` runs; the
   * leadership signal aborts when a renewal fails for longer than the lease duration.
   */
  async run(lead: (leadership: AbortSignal) => Promise<void> | void, signal: AbortSignal): Promise<void> {
    const sleep = (ms: number): Promise<void> => new Promise((r) => this.#clock.setTimeout(r, ms));
    while (!signal.aborted) {
      const won = await this.tryAcquireOrRenew().catch(() => false);
      if (!won) { await sleep(this.#o.retryPeriodMs); continue; }
      this.#leading = true;
      this.#log.info('became leader', { identity: this.#o.identity });
      const leadership = new AbortController();
      const onStop = (): void => leadership.abort();
      signal.addEventListener('abort', onStop);
      const work = Promise.resolve().then(() => lead(leadership.signal));
      let lastRenew = this.#clock.now();
      while (!leadership.signal.aborted) {
        await sleep(this.#o.retryPeriodMs);
        if (leadership.signal.aborted) break;
        const ok = await this.tryAcquireOrRenew().catch(() => false);
        if (ok) lastRenew = this.#clock.now();
        else if (this.#clock.now() - lastRenew > this.#o.leaseDurationMs * 2 / 3) {
          this.#log.warn('lost leadership', { identity: this.#o.identity });
          leadership.abort();
        }
      }
      signal.removeEventListener('abort', onStop);
      this.#leading = false;
      await work.catch((e: unknown) => this.#log.error('leader work failed', { err: e as Error }));
      if (signal.aborted) await this.#release().catch(() => {});
    }
  }
}

import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3, isRecoverableError, type IOptions } from 'etcd3';
import { circuitBreaker, ConsecutiveBreaker, handleWhen, isBrokenCircuitError, noop } from 'cockatiel';
import { StoreUnavailableError } from '../store.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { classify, describe } from './errors.js';

/** Client TLS material (PEM): the CA that signed the members' certificates, and our client pair if they ask for one. */
export interface EtcdTLS {
  /** Absent: the system's trusted roots. */
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** How to reach the cluster. */
export interface EtcdConnectionOptions {
  /** Client URLs of the members, `http://host:port` or `https://host:port` (all of one kind). */
  readonly endpoints: readonly string[];
  readonly tls?: EtcdTLS;
  /** Deadline of one store call, retries and failover to other members included (default 5000 ms). */
  readonly requestTimeoutMs?: number;
  /** Deadline of one attempt on one member, so a frozen member leaves time to try another (default 2000 ms). */
  readonly attemptTimeoutMs?: number;
  /** gRPC keep-alive ping interval on open connections (default 30 s; etcd refuses pings more often than every 5 s). */
  readonly keepaliveMs?: number;
  readonly log?: Logger;
}

/** Per-attempt gRPC options handed to a call. */
export interface AttemptOptions { readonly deadline: number }

/** A call's value, and whether an earlier attempt may have been applied without us learning it. */
export interface CallResult<T> { readonly value: T; readonly ambiguous: boolean }

/**
 * The gRPC connection to an etcd cluster (the `etcd3` client with storage.md's fixes): a 512 MiB receive limit
 * instead of gRPC's 4 MiB, keep-alive pings, a circuit breaker per member, and no retries inside the client —
 * `call` retries itself, across members, within one deadline, so it knows when a write's first attempt may
 * have landed.
 */
export class EtcdConnection {
  readonly client: Etcd3;
  readonly endpoints: readonly string[];
  readonly #requestTimeoutMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #log: Logger;
  #closed = false;

  constructor(o: EtcdConnectionOptions) {
    if (o.endpoints.length === 0) throw new Error('etcd: no endpoints given');
    this.endpoints = o.endpoints;
    this.#requestTimeoutMs = o.requestTimeoutMs ?? 5000;
    this.#attemptTimeoutMs = Math.min(o.attemptTimeoutMs ?? 2000, this.#requestTimeoutMs);
    this.#log = o.log ?? silentLogger;
    const keepalive = o.keepaliveMs ?? 30_000;
    const options: IOptions = {
      hosts: [...o.endpoints],
      // gRPC takes a null root certificate as "the system's roots"; etcd3's type does not say so.
      ...(o.tls ? { credentials: { rootCertificate: (o.tls.ca ?? null) as Buffer, privateKey: o.tls.key, certChain: o.tls.cert } } : {}),
      grpcOptions: {
        'grpc.max_receive_message_length': 512 * 1024 * 1024,
        'grpc.keepalive_time_ms': keepalive,
        'grpc.keepalive_timeout_ms': Math.min(10_000, keepalive),
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 2000,
        // The store retries by itself; gRPC's own retry buffering and channelz bookkeeping only cost CPU per call.
        'grpc.enable_retries': 0,
        'grpc.enable_channelz': 0,
      },
      faultHandling: {
        // A member failing three calls in a row is skipped for a second, then probed again.
        host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
        global: noop,
      },
    };
    this.client = new Etcd3(options);
  }

  get requestTimeoutMs(): number {
    return this.#requestTimeoutMs;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs `fn` until it succeeds or the request deadline passes, each attempt with its own deadline on whichever
   * member the pool picks (members that keep failing are skipped). Unreachable or frozen members end as a
   * StoreUnavailableError naming the endpoints; errors that retrying cannot fix (compacted or future revision,
   * invalid request) are thrown as they are.
   */
  async call<T>(what: string, fn: (o: AttemptOptions) => Promise<T>, timeoutMs = this.#requestTimeoutMs): Promise<CallResult<T>> {
    const deadline = Date.now() + timeoutMs;
    let ambiguous = false;
    let backoff = 20;
    let last: unknown;
    // What a member said is more telling than our own deadline cutting an attempt short.
    let lastSaid: unknown;
    for (let attempt = 1; ; attempt++) {
      if (this.#closed) throw new StoreUnavailableError('store is closed');
      const attemptMs = Math.min(deadline - Date.now(), this.#attemptTimeoutMs);
      try {
        const value = await fn({ deadline: Date.now() + attemptMs });
        if (attempt > 1) this.#log.info('etcd call succeeded after retrying', { call: what, attempts: attempt });
        return { value, ambiguous };
      } catch (e) {
        last = e;
        const kind = classify(e);
        if (kind === 'compacted' || kind === 'future' || kind === 'fatal') throw e;
        if (kind === 'ambiguous') ambiguous = true;
        if (!/DEADLINE_EXCEEDED/.test(describe(e)) && !isBrokenCircuitError(e)) lastSaid = e;
      }
      const remaining = deadline - Date.now();
      // An attempt with almost no time left could only time out.
      if (remaining <= 50) break;
      await sleep(Math.min(backoff, remaining - 50));
      backoff = Math.min(backoff * 2, 250);
    }
    if (this.#closed) throw new StoreUnavailableError('store is closed');
    const cause = lastSaid === undefined
      ? `no member answered within ${this.#attemptTimeoutMs} ms`
      : describe(lastSaid) + (last !== lastSaid ? `; other attempts had no answer within ${this.#attemptTimeoutMs} ms` : '');
    throw new StoreUnavailableError(`etcd unavailable (${this.endpoints.join(', ')}): ${what} did not succeed within ${timeoutMs} ms: ${cause}`, { cause: last });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.client.close();
  }
}

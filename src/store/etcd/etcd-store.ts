import type { ITxnRequest, ITxnResponse } from 'etcd3';
import {
  CompactedError, FutureRevisionError, StoreUnavailableError,
  type KV, type ListOptions, type ListResult, type Store, type WatchEvent, type WatchHandle, type WriteResult,
} from '../store.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { EtcdConnection, type CallResult, type EtcdConnectionOptions } from './connection.js';
import { classify } from './errors.js';
import { keyBytes, num, optionalKV, rangeEnd, toKV } from './kv.js';
import { WatchHub } from './watch-hub.js';
import { Compaction, compactKey } from './compaction.js';
import { SharedReads } from './shared-reads.js';
import { Defragmenter, type DefragOptions, type DefragRound } from './defrag.js';

/** Options of the etcd store; see EtcdConnectionOptions for endpoints, TLS and deadlines. */
export interface EtcdStoreOptions extends EtcdConnectionOptions {
  /** How long ready() keeps trying to reach the cluster (default 20 s). */
  readonly dialTimeoutMs?: number;
  /** Keys per request when a list asks for everything (default 2000): etcd answers stay small. */
  readonly listPageSize?: number;
  /** Events the shared watch keeps for watches that start a little in the past: at least this many, up to a quarter more (default 5000). */
  readonly watchHistorySize?: number;
  /** How long compaction may take (default 60 s; a physical compaction of 100k revisions takes about 2 s). */
  readonly compactTimeoutMs?: number;
  /** Periodic defragmentation of the members, one server at a time (see Defragmenter; default every hour). */
  readonly defrag?: DefragOptions;
}

const bytes = (v: Uint8Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
const sameValue = (a: Uint8Array, b: Uint8Array): boolean => bytes(a).equals(bytes(b));

/**
 * The store on an etcd cluster (3.4+): keys as callers give them, revision = etcd's `mod_revision`, writes as
 * transactions comparing revisions, reads at a revision with paging, one shared whole-keyspace watch (WatchHub),
 * compaction, and leases as etcd leases. Every call has a deadline and fails over across endpoints; a cluster
 * that cannot answer in time gives StoreUnavailableError. A write resolves only once the shared watch has
 * delivered it, so a watch cache holds an acknowledged write before its writer sees the answer, as on SQLite.
 */
export class EtcdStore implements Store {
  readonly #conn: EtcdConnection;
  readonly #log: Logger;
  readonly #o: EtcdStoreOptions;
  readonly #ready: Promise<void>;
  readonly #compaction: Compaction;
  readonly #revisions: SharedReads<number>;
  #hub: WatchHub | undefined;
  #defrag: Defragmenter | undefined;
  #inflight = new Set<Promise<unknown>>();
  /** Values of puts in flight, by key: the feed's events for them carry these buffers (see WatchHub's `adopt`). */
  #writing = new Map<string, Uint8Array[]>();
  #closed = false;

  constructor(o: EtcdStoreOptions) {
    this.#o = o;
    this.#log = o.log ?? silentLogger;
    this.#conn = new EtcdConnection(o);
    this.#compaction = new Compaction(this.#conn, { log: this.#log, timeoutMs: o.compactTimeoutMs });
    this.#revisions = new SharedReads(() => this.#readRevision());
    this.#ready = this.#open();
    this.#ready.catch(() => {});
  }

  /** Resolves once the cluster answered; rejects with a StoreUnavailableError when it did not within the dial timeout. */
  ready(): Promise<void> {
    return this.#ready;
  }

  async #open(): Promise<void> {
    const { value: r } = await this.#conn.call('connect', (o) => this.#conn.client.kv.range({ key: keyBytes(compactKey) }, o), this.#o.dialTimeoutMs ?? 20_000);
    const rev = num(r.header.revision);
    this.#compaction.load(r.kvs[0]);
    this.#hub = new WatchHub(this.#conn, rev, {
      log: this.#log, historySize: this.#o.watchHistorySize, adopt: (key, value) => this.#writing.get(key)?.find((v) => sameValue(v, value)),
    });
    // Compactions by other servers reach us through the feed.
    const hub = this.#hub;
    const follow = (from: number): void => void hub.subscribe(compactKey, from, (batch) => this.#compaction.observe(batch), () => follow(hub.rev));
    follow(rev);
    // Writes wait for the feed only while it is connected: until it is, one acknowledged now could reach the watch
    // caches after its writer heard back. So the store is ready once the feed is.
    if (!(await hub.waitLive(this.#o.dialTimeoutMs ?? 20_000))) this.#log.warn('the etcd watch is not connected yet; writes will not wait for it until it is', { rev });
    if (!this.#closed) {
      this.#defrag = new Defragmenter(this.#conn, this.#o, this.#o.defrag, this.#log);
      this.#defrag.start();
    }
    this.#log.info('connected to etcd', { endpoints: this.#conn.endpoints, clusterId: r.header.cluster_id, memberId: r.header.member_id, rev, compactRev: this.#compaction.rev });
  }

  async #opened(): Promise<WatchHub> {
    if (this.#closed) throw new StoreUnavailableError('store is closed');
    await this.#ready;
    return this.#hub!;
  }

  /** Tracks a call so close() lets it finish. */
  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p)).catch(() => {});
    return p;
  }

  /**
   * A linearisable read of etcd's revision. Every consistent GET and LIST asks, so concurrent callers share one
   * request (SharedReads) rather than each making a round trip.
   */
  currentRev(): Promise<number> {
    return this.#revisions.next();
  }

  async #readRevision(): Promise<number> {
    const hub = await this.#opened();
    const { value: r } = await this.#conn.call('read revision', (o) => this.#conn.client.kv.range({ key: keyBytes(compactKey), count_only: true }, o));
    const rev = num(r.header.revision);
    hub.expect(rev);
    return rev;
  }

  compactRev(): number {
    return this.#compaction.rev;
  }

  /** Turns etcd's OUT_OF_RANGE answers for a read at `rev` into the store's errors. */
  async #revisionError(e: unknown, rev: number): Promise<never> {
    const kind = classify(e);
    if (kind === 'compacted') {
      // Reads at `rev` are gone, so etcd has compacted past it.
      this.#compaction.learn(rev + 1);
      throw new CompactedError(rev, this.#compaction.rev);
    }
    if (kind === 'future') throw new FutureRevisionError(rev, await this.currentRev().catch(() => 0));
    throw e;
  }

  async get(key: string, rev?: number): Promise<{ kv?: KV; rev: number }> {
    await this.#opened();
    try {
      const { value: r } = await this.#conn.call('get', (o) => this.#conn.client.kv.range({ key: keyBytes(key), revision: rev ?? 0 }, o));
      return { kv: optionalKV(r.kvs[0]), rev: rev || num(r.header.revision) };
    } catch (e) {
      return this.#revisionError(e, rev ?? 0);
    }
  }

  async list(o: ListOptions): Promise<ListResult> {
    await this.#opened();
    const limit = o.limit && o.limit > 0 ? o.limit : 0;
    const end = rangeEnd(o.prefix);
    let start = o.startAfter !== undefined && o.startAfter >= o.prefix ? keyBytes(o.startAfter + '\0') : keyBytes(o.prefix);
    let rev = o.rev ?? 0;
    const kvs: KV[] = [];
    // A list of everything is read in pages at the first page's revision, so no answer hits a message limit.
    const page = limit > 0 ? limit : (this.#o.listPageSize ?? 2000);
    try {
      for (;;) {
        const { value: r } = await this.#conn.call('list', (opts) => this.#conn.client.kv.range({ key: start, range_end: end, limit: page, revision: rev }, opts));
        if (rev === 0) rev = num(r.header.revision);
        for (const kv of r.kvs) kvs.push(toKV(kv));
        if (limit > 0 || !r.more || r.kvs.length === 0) return { kvs, rev, more: limit > 0 && r.more };
        start = Buffer.concat([r.kvs[r.kvs.length - 1]!.key, Buffer.from([0])]);
      }
    } catch (e) {
      return this.#revisionError(e, o.rev ?? 0);
    }
  }

  /**
   * Runs a write transaction and, once committed, waits until the shared watch has delivered its revision.
   * `put` names the key and value the transaction may write, so the feed's event can carry the caller's buffer.
   */
  async #txn(what: string, req: ITxnRequest, put?: { key: string; value: Uint8Array }): Promise<CallResult<ITxnResponse> & { rev: number }> {
    const hub = await this.#opened();
    if (put) this.#writing.set(put.key, [...(this.#writing.get(put.key) ?? []), put.value]);
    try {
      return await this.#commit(hub, what, req);
    } finally {
      if (put) {
        const rest = this.#writing.get(put.key)?.filter((v) => v !== put.value) ?? [];
        if (rest.length > 0) this.#writing.set(put.key, rest);
        else this.#writing.delete(put.key);
      }
    }
  }

  async #commit(hub: WatchHub, what: string, req: ITxnRequest): Promise<CallResult<ITxnResponse> & { rev: number }> {
    const result = await this.#track(this.#conn.call(what, (o) => this.#conn.client.kv.txn(req, o)));
    const rev = num(result.value.header.revision);
    // While the feed reconnects, writes do not wait for it (it resumes from where it was, missing nothing).
    if (!hub.live) hub.expect(rev);
    else if (!(await hub.waitFor(rev, this.#conn.requestTimeoutMs))) {
      this.#log.warn('etcd watch did not deliver a committed write in time', { write: what, rev, watchRev: hub.rev });
    }
    return { ...result, rev };
  }

  async create(key: string, value: Uint8Array, lease = 0): Promise<WriteResult> {
    const k = keyBytes(key);
    const { value: r, ambiguous, rev } = await this.#txn('create', {
      compare: [{ key: k, target: 'Create', result: 'Equal', create_revision: 0 }],
      success: [{ request_put: { key: k, value: bytes(value), lease } }],
      failure: [{ request_range: { key: k } }],
    }, { key, value });
    if (r.succeeded) return { ok: true, kv: { key, value, createRev: rev, modRev: rev, lease } };
    const current = optionalKV(r.responses[0]?.response_range?.kvs[0]);
    // A retried create whose first attempt landed finds its own write: same bytes, never modified since.
    if (ambiguous && current && current.createRev === current.modRev && current.lease === lease && sameValue(current.value, value)) {
      return { ok: true, kv: current };
    }
    return { ok: false, current, rev };
  }

  async update(key: string, value: Uint8Array, expectModRev: number, lease = 0): Promise<WriteResult> {
    const k = keyBytes(key);
    const { value: r, ambiguous, rev } = await this.#txn('update', {
      compare: [
        { key: k, target: 'Create', result: 'Greater', create_revision: 0 },
        { key: k, target: 'Mod', result: 'Equal', mod_revision: expectModRev },
      ],
      success: [{ request_put: { key: k, value: bytes(value), lease, prev_kv: true } }],
      failure: [{ request_range: { key: k } }],
    }, { key, value });
    if (r.succeeded) {
      const prev = optionalKV(r.responses[0]?.response_put?.prev_kv);
      return { ok: true, kv: { key, value, createRev: prev?.createRev ?? rev, modRev: rev, lease }, prev };
    }
    const current = optionalKV(r.responses[0]?.response_range?.kvs[0]);
    // A retried update whose first attempt landed: the key moved on from the expected revision to our bytes.
    if (ambiguous && current && current.modRev > expectModRev && current.lease === lease && sameValue(current.value, value)) {
      return { ok: true, kv: current };
    }
    return { ok: false, current, rev };
  }

  async delete(key: string, expectModRev?: number): Promise<WriteResult> {
    const k = keyBytes(key);
    const { value: r, ambiguous, rev } = await this.#txn('delete', {
      compare: expectModRev === undefined
        ? [{ key: k, target: 'Create', result: 'Greater', create_revision: 0 }]
        : [{ key: k, target: 'Create', result: 'Greater', create_revision: 0 }, { key: k, target: 'Mod', result: 'Equal', mod_revision: expectModRev }],
      success: [{ request_delete_range: { key: k, prev_kv: true } }],
      failure: [{ request_range: { key: k } }],
    });
    if (r.succeeded) {
      const prev = optionalKV(r.responses[0]?.response_delete_range?.prev_kvs[0]);
      return { ok: true, kv: { key, value: prev?.value ?? new Uint8Array(), createRev: prev?.createRev ?? 0, modRev: rev, lease: 0 }, prev };
    }
    const current = optionalKV(r.responses[0]?.response_range?.kvs[0]);
    // A retried delete whose first attempt landed finds the version it was to delete gone (the key absent, or made
    // anew since): the feed, which the write waited for, shows that deletion. (Also when a concurrent delete of the
    // same version won: either way that version is gone, as asked.)
    if (ambiguous && expectModRev !== undefined && current?.modRev !== expectModRev) {
      const hub = this.#hub!;
      if (hub.rev < rev) await hub.waitFor(rev, this.#conn.requestTimeoutMs);
      const gone = hub.deletedVersion(key, expectModRev);
      if (gone?.prev) return { ok: true, kv: { key, value: gone.prev.value, createRev: gone.prev.createRev, modRev: gone.modRev, lease: 0 }, prev: gone.prev };
    }
    return { ok: false, current, rev };
  }

  watch(prefix: string, fromRev: number, sink: (batch: WatchEvent[]) => void, onError: (e: Error) => void): WatchHandle {
    if (this.#closed) throw new StoreUnavailableError('store is closed');
    if (!this.#hub) throw new StoreUnavailableError('store is not open yet (await ready())');
    if (fromRev < this.#compaction.rev) throw new CompactedError(fromRev, this.#compaction.rev);
    return this.#hub.subscribe(prefix, fromRev, sink, onError);
  }

  async compact(rev: number): Promise<void> {
    await this.#opened();
    await this.#compaction.compact(rev, () => this.currentRev());
  }

  async grantLease(ttlSeconds: number): Promise<number> {
    await this.#opened();
    // We choose the id: etcd's own are 64-bit and do not fit a JS number. A retry of a grant that did land finds
    // the id taken; two random 53-bit ids colliding otherwise is not a real possibility.
    const id = Math.floor(Math.random() * (Number.MAX_SAFE_INTEGER - 1)) + 1;
    try {
      await this.#conn.call('grant lease', (o) => this.#conn.client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: String(id) }, o));
    } catch (e) {
      if (!/lease already exists/.test((e as Error).message)) throw e;
    }
    return id;
  }

  /**
   * One defragmentation round now (the periodic ones run by themselves): the members with enough free space in their
   * files are defragmented one after the other, unless another server holds the lock or, without `force`, made a
   * round within the interval.
   */
  async defragment(force = false): Promise<DefragRound> {
    await this.#opened();
    return this.#defrag!.runOnce(force);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#defrag?.stop();
    // Let writes in flight finish (each is bounded by its deadline).
    await Promise.allSettled([...this.#inflight]);
    await this.#compaction.settled();
    this.#closed = true;
    this.#hub?.close();
    this.#conn.close();
  }
}

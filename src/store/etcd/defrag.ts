import { hostname } from 'node:os';
import { keyBytes, num } from './kv.js';
import { EtcdConnection, type EtcdConnectionOptions } from './connection.js';
import { describe } from './errors.js';
import { silentLogger, type Logger } from '../../util/log.js';

/** Held (with an etcd lease) by the server defragmenting; a crashed holder's lock goes with its lease. */
export const defragLockKey = '/skiff/defrag/lock';
/** When the members were last looked at, and by whom: other servers skip their turn within the interval. */
export const defragLastKey = '/skiff/defrag/last';

/** When and how a server defragments the cluster's members. */
export interface DefragOptions {
  /** How often a server offers to look at the members (default 1 h; 0: never on its own). */
  readonly intervalMs?: number;
  /** A member is defragmented when at least this much of its database file is free (default 64 MiB)… */
  readonly minFreeBytes?: number;
  /** …and at least this share of it (default 0.5). */
  readonly minFreeRatio?: number;
  /** Deadline of one member's defragmentation (default 120 s; etcd blocks that member meanwhile). */
  readonly memberTimeoutMs?: number;
  /** Lock lease TTL in seconds (default 600): how long a crashed holder keeps others waiting. */
  readonly lockTtlSeconds?: number;
  /** Who this server is, in the lock and the record (default host name and pid). */
  readonly identity?: string;
}

/** One member as a defragmentation round saw it. */
export interface MemberDefrag {
  readonly name: string;
  readonly url: string;
  /** Database file size and the part of it in use, before. */
  readonly dbSize: number;
  readonly dbSizeInUse: number;
  readonly defragmented: boolean;
  /** File size afterwards (when defragmented). */
  readonly dbSizeAfter?: number;
  readonly ms?: number;
  /** Why the member could not be looked at. */
  readonly error?: string;
}

/** The outcome of one round. */
export type DefragRound =
  | { readonly ran: true; readonly members: readonly MemberDefrag[] }
  | { readonly ran: false; readonly skipped: string };

interface LastRecord { readonly at: number; readonly by: string }

/**
 * Periodic defragmentation of the cluster's members (storage.md §6.4: compaction frees pages inside etcd's file,
 * only defragmentation gives them back), by one server at a time: a round takes a lock key held with an etcd lease,
 * skips itself when another server made a round within the interval, and defragments the members that need it one
 * after the other — etcd stops serving a member while it defragments, so the others carry the load.
 */
export class Defragmenter {
  readonly #conn: EtcdConnection;
  readonly #connOptions: EtcdConnectionOptions;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #minFreeBytes: number;
  readonly #minFreeRatio: number;
  readonly #memberTimeoutMs: number;
  readonly #lockTtl: number;
  readonly #identity: string;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<DefragRound> | undefined;
  #stopped = false;

  /** `connOptions` are the store's (TLS, deadlines): each member is reached on a connection of its own. */
  constructor(conn: EtcdConnection, connOptions: EtcdConnectionOptions, o: DefragOptions = {}, log: Logger = silentLogger) {
    this.#conn = conn;
    this.#connOptions = connOptions;
    this.#log = log;
    this.#intervalMs = o.intervalMs ?? 3_600_000;
    this.#minFreeBytes = o.minFreeBytes ?? 64 * 1024 * 1024;
    this.#minFreeRatio = o.minFreeRatio ?? 0.5;
    this.#memberTimeoutMs = o.memberTimeoutMs ?? 120_000;
    this.#lockTtl = o.lockTtlSeconds ?? 600;
    this.#identity = o.identity ?? `${hostname()}_${process.pid}`;
  }

  /** Offers a round every interval (with ±10% jitter so servers started together spread out); the first after one. */
  start(): void {
    if (this.#intervalMs <= 0 || this.#stopped) return;
    const delay = this.#intervalMs * (0.9 + Math.random() * 0.2);
    this.#timer = setTimeout(() => {
      void this.runOnce().then(
        (r) => { if (r.ran) this.#log.info('defragmentation round', { members: r.members }); },
        (e: unknown) => this.#log.warn('defragmentation round failed', { err: e as Error }),
      ).finally(() => this.start());
    }, delay);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a round in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#round?.catch(() => {});
  }

  /** One round now, unless another server holds the lock or (without `force`) made one within the interval. */
  runOnce(force = false): Promise<DefragRound> {
    this.#round ??= this.#runOnce(force).finally(() => { this.#round = undefined; });
    return this.#round;
  }

  async #runOnce(force: boolean): Promise<DefragRound> {
    const recent = async (): Promise<string | undefined> => {
      const last = await this.#last();
      return !force && last && Date.now() - last.at < this.#intervalMs ? `${last.by} looked at the members ${Math.round((Date.now() - last.at) / 1000)} s ago` : undefined;
    };
    const early = await recent();
    if (early) return { ran: false, skipped: early };
    const lease = await this.#lock();
    if (typeof lease === 'string') return { ran: false, skipped: lease };
    try {
      // Another server may have finished a round between our first look and the lock.
      const late = await recent();
      if (late) return { ran: false, skipped: late };
      const members: MemberDefrag[] = [];
      for (const m of await this.#members()) members.push(await this.#member(m.name, m.url));
      await this.#conn.call('record defragmentation', (o) => this.#conn.client.kv.put({ key: keyBytes(defragLastKey), value: Buffer.from(JSON.stringify({ at: Date.now(), by: this.#identity } satisfies LastRecord)) }, o));
      return { ran: true, members };
    } finally {
      await this.#unlock(lease).catch((e: unknown) => this.#log.warn('could not release the defragmentation lock; it expires with its lease', { err: e as Error }));
    }
  }

  async #last(): Promise<LastRecord | undefined> {
    const { value: r } = await this.#conn.call('read defragmentation record', (o) => this.#conn.client.kv.range({ key: keyBytes(defragLastKey) }, o));
    const kv = r.kvs[0];
    if (!kv) return undefined;
    try {
      return JSON.parse(kv.value.toString()) as LastRecord;
    } catch {
      return undefined;
    }
  }

  /** Takes the lock: the lease id, or who holds it. */
  async #lock(): Promise<number | string> {
    // As the store's leases: an id of our choosing, below 2^53.
    const id = Math.floor(Math.random() * (Number.MAX_SAFE_INTEGER - 1)) + 1;
    await this.#conn.call('grant defragmentation lease', (o) => this.#conn.client.leaseClient.leaseGrant({ TTL: this.#lockTtl, ID: String(id) }, o));
    const k = keyBytes(defragLockKey);
    const { value: r } = await this.#conn.call('take defragmentation lock', (o) => this.#conn.client.kv.txn({
      compare: [{ key: k, target: 'Create', result: 'Equal', create_revision: 0 }],
      success: [{ request_put: { key: k, value: Buffer.from(this.#identity), lease: String(id) } }],
      failure: [{ request_range: { key: k } }],
    }, o));
    if (r.succeeded) return id;
    await this.#revoke(id).catch(() => {});
    const holder = r.responses[0]?.response_range?.kvs[0];
    // A retried take whose first attempt landed finds our own lease on the key.
    if (holder && num(holder.lease) === id) return id;
    return `${holder?.value.toString() ?? 'another server'} is defragmenting`;
  }

  async #unlock(lease: number): Promise<void> {
    await this.#revoke(lease);
  }

  /** Revoking the lease deletes the lock key with it. */
  async #revoke(lease: number): Promise<void> {
    await this.#conn.call('revoke defragmentation lease', (o) => this.#conn.client.leaseClient.leaseRevoke({ ID: String(lease) }, o));
  }

  async #members(): Promise<{ name: string; url: string }[]> {
    const { value: r } = await this.#conn.call('list members', (o) => this.#conn.client.cluster.memberList({}, o));
    return r.members.filter((m) => m.clientURLs.length > 0 && !m.isLearner).map((m) => ({ name: m.name || BigInt(m.ID).toString(16), url: m.clientURLs[0]! }));
  }

  async #member(name: string, url: string): Promise<MemberDefrag> {
    // One attempt may take as long as a defragmentation does: a shorter one would cut it off and start it again.
    const conn = new EtcdConnection({ ...this.#connOptions, endpoints: [url], requestTimeoutMs: this.#memberTimeoutMs, attemptTimeoutMs: this.#memberTimeoutMs });
    try {
      const { value: before } = await conn.call('member status', (o) => conn.client.maintenance.status(o));
      const dbSize = num(before.dbSize);
      const dbSizeInUse = num(before.dbSizeInUse);
      const free = dbSize - dbSizeInUse;
      if (free < this.#minFreeBytes || free < dbSize * this.#minFreeRatio) return { name, url, dbSize, dbSizeInUse, defragmented: false };
      const t0 = Date.now();
      await conn.call('defragment', (o) => conn.client.maintenance.defragment(o), this.#memberTimeoutMs);
      const ms = Date.now() - t0;
      const { value: after } = await conn.call('member status', (o) => conn.client.maintenance.status(o));
      this.#log.info('defragmented an etcd member', { member: name, url, dbSize, dbSizeInUse, dbSizeAfter: num(after.dbSize), ms });
      return { name, url, dbSize, dbSizeInUse, defragmented: true, dbSizeAfter: num(after.dbSize), ms };
    } catch (e) {
      this.#log.warn('could not defragment an etcd member', { member: name, url, err: e as Error });
      return { name, url, dbSize: 0, dbSizeInUse: 0, defragmented: false, error: describe(e) };
    } finally {
      conn.close();
    }
  }
}

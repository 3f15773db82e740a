import { Worker } from 'node:worker_threads';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import type { Database as DB, Statement } from 'better-sqlite3';
import {
  CompactedError, eventKey, eventRev, FutureRevisionError, StoreUnavailableError, prefixEnd,
  type KV, type ListOptions, type ListResult, type Store, type WatchEvent, type WatchHandle, type WriteResult,
} from '../store.js';
import { realClock, type Clock } from '../../util/clock.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { openDatabase, type Row } from './schema.js';
import type { FromWriter, ToWriter, WireKV, WriteOp } from './writer-protocol.js';

/** Options of the SQLite store. */
export interface SqliteStoreOptions {
  /** Database file. */
  readonly path: string;
  readonly clock?: Clock;
  readonly log?: Logger;
  /** How many revisions one compaction transaction covers (default 1000). */
  readonly compactBatch?: number;
  /** How often expired leases are swept, in ms (default 1000). */
  readonly leaseSweepMs?: number;
}

interface Pending { op: WriteOp; resolve(r: WriteResult): void; reject(e: Error): void }

interface Watcher { prefix: string; end: string; sink: (b: WatchEvent[]) => void; closed: boolean }

type Reply = Extract<FromWriter, { id: number }>;
/** A request before it gets its id (distributes over the union, unlike Omit). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

const toKV = (w: WireKV): KV => ({ key: w.key, value: w.value, createRev: w.createRev, modRev: w.modRev, lease: w.lease });
const rowKV = (r: Row): KV => ({ key: r.name, value: r.value ?? Buffer.alloc(0), createRev: r.create_revision, modRev: r.id, lease: r.lease });

/** Data dirs open in this process, so a second store on the same file fails fast here too. */
const openPaths = new Set<string>();

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Takes `<db>.lock` for this process, refusing when a live process holds it. */
function takeLock(path: string): string {
  const lock = `${path}.lock`;
  if (openPaths.has(path)) throw new StoreUnavailableError(`cannot open SQLite store at ${path}: it is already open in this process (is another skiff server using this data dir?)`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      openPaths.add(path);
      return lock;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new StoreUnavailableError(`cannot lock ${lock}: ${(e as Error).message}`, { cause: e });
      const pid = Number(readFileSync(lock, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new StoreUnavailableError(`cannot open SQLite store at ${path}: locked by process ${pid} (is another skiff server using this data dir?)`);
      }
      // A stale lock from a process that died (kill -9): take it over.
      rmSync(lock, { force: true });
    }
  }
  throw new StoreUnavailableError(`cannot lock ${lock}`);
}

/**
 * The embedded store: a kine-style append-only log (row id = revision) plus a `current` table of live
 * keys, in WAL mode with `synchronous=FULL`. Writes go to a writer thread in batches — everything
 * queued while the previous batch was being committed goes into the next transaction (group commit) —
 * and are acknowledged only once durable. The main thread keeps a read connection, publishes each
 * committed batch to watchers synchronously (a watch cache sees a write before its writer does), and
 * is never blocked by fsync.
 */
export class SqliteStore implements Store {
  readonly #path: string;
  readonly #lock: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #compactBatch: number;
  readonly #worker: Worker;
  readonly #ready: Promise<void>;
  #reader: DB | undefined;
  #st: Record<string, Statement> = {};
  #rev = 0;
  #compactRev = 0;
  #queue: Pending[] = [];
  #inflight: Pending[] | undefined;
  #replies = new Map<number, (m: Reply) => void>();
  #nextId = 1;
  #revWaiters: { rev: number; resolve(): void }[] = [];
  #watchers = new Set<Watcher>();
  #closed = false;
  #failed: Error | undefined;
  #compacting: Promise<void> = Promise.resolve();
  #sweepTimer: NodeJS.Timeout;

  constructor(options: SqliteStoreOptions) {
    this.#path = resolvePath(options.path);
    this.#clock = options.clock ?? realClock;
    this.#log = options.log ?? silentLogger;
    this.#compactBatch = options.compactBatch ?? 1000;
    mkdirSync(dirname(this.#path), { recursive: true });
    this.#lock = takeLock(this.#path);
    // The writer thread must not inherit flags meant for the main script (`--input-type`, `-e`).
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type') && a !== '-e' && a !== '--eval');
    this.#worker = new Worker(new URL('./writer-thread.js', import.meta.url), { workerData: { path: this.#path }, execArgv });
    this.#ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: FromWriter): void => {
        if (m.type === 'ready') {
          this.#rev = m.rev;
          this.#compactRev = m.compactRev;
          try {
            this.#openReader();
            resolve();
          } catch (e) {
            reject(this.#fail(new StoreUnavailableError(`cannot open SQLite store at ${this.#path}: ${(e as Error).message}`, { cause: e })));
          }
        } else if (m.type === 'openFailed') {
          reject(this.#fail(new StoreUnavailableError(`cannot open SQLite store at ${this.#path}: ${m.message}`)));
        } else {
          this.#replies.get(m.id)?.(m);
          this.#replies.delete(m.id);
        }
      };
      this.#worker.on('message', onMessage);
      this.#worker.on('error', (e) => reject(this.#fail(new StoreUnavailableError(`SQLite writer failed: ${e.message}`, { cause: e }))));
    });
    // Nothing may wait on this promise yet; failures surface through ready() and every call.
    this.#ready.catch(() => {});
    this.#sweepTimer = setInterval(() => void this.#sweepLeases(), options.leaseSweepMs ?? 1000);
    this.#sweepTimer.unref();
  }

  /** Resolves once the database is open; rejects with a StoreUnavailableError when it cannot be. */
  ready(): Promise<void> {
    return this.#ready;
  }

  #fail(e: Error): Error {
    this.#failed ??= e;
    for (const p of [...this.#queue, ...(this.#inflight ?? [])]) p.reject(e);
    this.#queue = [];
    this.#inflight = undefined;
    return e;
  }

  #openReader(): void {
    const db = openDatabase(this.#path, 'reader');
    this.#reader = db;
    this.#st = {
      maxId: db.prepare(`SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'log'), 0) AS rev`),
      current: db.prepare(`SELECT l.* FROM current c JOIN log l ON l.id = c.id WHERE c.name = ?`),
      atRev: db.prepare(`SELECT * FROM log WHERE name = ? AND id <= ? ORDER BY id DESC LIMIT 1`),
      listLatest: db.prepare(`SELECT l.* FROM current c JOIN log l ON l.id = c.id WHERE c.name >= ? AND c.name < ? ORDER BY c.name LIMIT ?`),
      listAtRev: db.prepare(`SELECT l.* FROM log l JOIN (
                               SELECT MAX(id) AS id FROM log WHERE name >= ? AND name < ? AND id <= ? GROUP BY name
                             ) m ON l.id = m.id WHERE l.deleted = 0 ORDER BY l.name LIMIT ?`),
      history: db.prepare(`SELECT l.*, p.id AS p_id, p.create_revision AS p_create_revision, p.lease AS p_lease, p.value AS p_value
                           FROM log l LEFT JOIN log p ON p.id = l.prev_revision AND p.deleted = 0
                           WHERE l.id > ? AND l.id <= ? AND l.name >= ? AND l.name < ? ORDER BY l.id LIMIT ?`),
      expiredLeases: db.prepare(`SELECT id FROM leases WHERE expires_at <= ?`),
      keysOfLease: db.prepare(`SELECT name, id FROM current WHERE lease = ?`),
    };
  }

  async #open(): Promise<void> {
    if (this.#closed) throw new StoreUnavailableError('store is closed');
    if (this.#failed) throw this.#failed;
    await this.#ready;
  }

  #stmt(name: string): Statement {
    return this.#st[name]!;
  }

  /** Sends a request to the writer thread and waits for its reply. */
  #ask(m: WithoutId<Extract<ToWriter, { type: 'compact' | 'grantLease' | 'dropLease' | 'close' }>>): Promise<Reply> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#replies.set(id, resolve);
      this.#worker.postMessage({ ...m, id });
    });
  }

  /**
   * Reads a consistent snapshot and the revision it reflects. A snapshot may include a commit the
   * writer has made but whose acknowledgement has not been processed yet; then the read waits for it,
   * so the revision it reports has been published to watchers.
   */
  async #snapshot<T>(read: () => T): Promise<{ result: T; rev: number }> {
    const tx = this.#reader!.transaction(() => ({ result: read(), rev: (this.#stmt('maxId').get() as { rev: number }).rev }));
    const out = tx();
    if (out.rev > this.#rev) await new Promise<void>((resolve) => this.#revWaiters.push({ rev: out.rev, resolve }));
    return out;
  }

  async currentRev(): Promise<number> {
    await this.#open();
    return this.#rev;
  }

  compactRev(): number {
    return this.#compactRev;
  }

  #checkRev(rev: number): void {
    if (rev < this.#compactRev) throw new CompactedError(rev, this.#compactRev);
    if (rev > this.#rev) throw new FutureRevisionError(rev, this.#rev);
  }

  async get(key: string, rev?: number): Promise<{ kv?: KV; rev: number }> {
    await this.#open();
    if (rev === undefined || rev === 0) {
      const { result, rev: at } = await this.#snapshot(() => this.#stmt('current').get(key) as Row | undefined);
      return { kv: result ? rowKV(result) : undefined, rev: at };
    }
    this.#checkRev(rev);
    const row = this.#stmt('atRev').get(key, rev) as Row | undefined;
    return { kv: row && !row.deleted ? rowKV(row) : undefined, rev };
  }

  async list(o: ListOptions): Promise<ListResult> {
    await this.#open();
    const limit = o.limit && o.limit > 0 ? o.limit : -1;
    const fetch = limit > 0 ? limit + 1 : -1;
    // The smallest key after `startAfter` is `startAfter + "\0"`: keys never contain NUL.
    const start = o.startAfter !== undefined && o.startAfter >= o.prefix ? o.startAfter + '\0' : o.prefix;
    const end = prefixEnd(o.prefix);
    let rows: Row[];
    let rev: number;
    if (o.rev === undefined || o.rev === 0) {
      ({ result: rows, rev } = await this.#snapshot(() => this.#stmt('listLatest').all(start, end, fetch) as Row[]));
    } else {
      this.#checkRev(o.rev);
      rows = this.#stmt('listAtRev').all(start, end, o.rev, fetch) as Row[];
      rev = o.rev;
    }
    const more = limit > 0 && rows.length > limit;
    if (more) rows.length = limit;
    return { kvs: rows.map(rowKV), rev, more };
  }

  create(key: string, value: Uint8Array, lease = 0): Promise<WriteResult> {
    return this.#enqueue({ kind: 'create', key, value, lease });
  }

  update(key: string, value: Uint8Array, expectModRev: number, lease = 0): Promise<WriteResult> {
    return this.#enqueue({ kind: 'update', key, value, expect: expectModRev, lease });
  }

  delete(key: string, expectModRev?: number): Promise<WriteResult> {
    return this.#enqueue({ kind: 'delete', key, expect: expectModRev });
  }

  #enqueue(op: WriteOp): Promise<WriteResult> {
    if (this.#closed) return Promise.reject(new StoreUnavailableError('store is closed'));
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#queue.push({ op, resolve, reject });
      if (!this.#inflight && this.#queue.length === 1) setImmediate(() => void this.#flush());
    });
  }

  /** Sends everything queued as one batch, unless a batch is already being committed. */
  async #flush(): Promise<void> {
    if (this.#inflight || this.#queue.length === 0) return;
    try {
      await this.#ready;
    } catch {
      return;
    }
    if (this.#inflight || this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    this.#inflight = batch;
    const id = this.#nextId++;
    this.#replies.set(id, (m) => this.#batchDone(batch, m));
    this.#worker.postMessage({ type: 'batch', id, ops: batch.map((p) => p.op) } satisfies ToWriter);
  }

  #batchDone(batch: Pending[], m: Reply): void {
    this.#inflight = undefined;
    if (m.type !== 'batchDone') {
      const message = m.type === 'failed' ? m.message : 'unexpected reply';
      this.#log.error('store commit failed', { err: message, writes: batch.length });
      const err = new StoreUnavailableError(`store commit failed: ${message}`);
      for (const p of batch) p.reject(err);
    } else {
      this.#rev = m.rev;
      const events: WatchEvent[] = [];
      const results: WriteResult[] = m.outcomes.map((o, i) => {
        const op = batch[i]!.op;
        if (!o.ok) return { ok: false, current: o.current ? toKV(o.current) : undefined, rev: m.rev };
        const prev = o.prev ? toKV(o.prev) : undefined;
        if (op.kind === 'delete') {
          events.push({ type: 'delete', key: op.key, modRev: o.modRev, prev });
          return { ok: true, kv: { key: op.key, value: prev?.value ?? new Uint8Array(), createRev: o.createRev, modRev: o.modRev, lease: 0 }, prev };
        }
        const kv: KV = { key: op.key, value: op.value, createRev: o.createRev, modRev: o.modRev, lease: op.lease };
        events.push(prev ? { type: 'put', kv, prev } : { type: 'put', kv });
        return { ok: true, kv, prev };
      });
      if (events.length > 0) this.#publish(events);
      this.#revWaiters = this.#revWaiters.filter((w) => (w.rev <= this.#rev ? (w.resolve(), false) : true));
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
    }
    // Writes that queued up during this commit go out at once, as the next group.
    if (this.#queue.length > 0) void this.#flush();
  }

  #publish(events: WatchEvent[]): void {
    for (const w of this.#watchers) {
      if (w.closed) continue;
      const mine = events.filter((e) => {
        const key = eventKey(e);
        return key !== undefined && key >= w.prefix && key < w.end;
      });
      // A watcher learns where the store is after this commit even when its own events end earlier (or
      // there are none): a group commit can end with a write under another prefix, and a cache left at
      // its last event would wait for the next write anywhere to answer a consistent read.
      const last = mine[mine.length - 1];
      const lastRev = last ? eventRev(last) : 0;
      if (lastRev < this.#rev) mine.push({ type: 'progress', rev: this.#rev });
      try {
        w.sink(mine);
      } catch (e) {
        this.#log.error('watch sink failed', { err: e as Error, prefix: w.prefix });
      }
    }
  }

  watch(prefix: string, fromRev: number, sink: (batch: WatchEvent[]) => void, onError: (e: Error) => void): WatchHandle {
    if (this.#closed) throw new StoreUnavailableError('store is closed');
    if (!this.#reader) throw new StoreUnavailableError('store is not open yet (await ready())');
    if (fromRev < this.#compactRev) throw new CompactedError(fromRev, this.#compactRev);
    if (fromRev > this.#rev) throw new FutureRevisionError(fromRev, this.#rev);
    void onError;
    const w: Watcher = { prefix, end: prefixEnd(prefix), sink, closed: false };
    // Replay history up to the last published revision, then join the live feed: both happen in this
    // turn of the event loop, so nothing is missed or seen twice.
    let after = fromRev;
    for (;;) {
      const rows = this.#stmt('history').all(after, this.#rev, prefix, w.end, 1000) as (Row & { p_id: number | null; p_create_revision: number; p_lease: number; p_value: Buffer | null })[];
      if (rows.length === 0) break;
      sink(rows.map((r): WatchEvent => {
        const prev: KV | undefined = r.p_id ? { key: r.name, value: r.p_value ?? Buffer.alloc(0), createRev: r.p_create_revision, modRev: r.p_id, lease: r.p_lease } : undefined;
        return r.deleted ? { type: 'delete', key: r.name, modRev: r.id, prev } : { type: 'put', kv: rowKV(r), prev };
      }));
      after = rows[rows.length - 1]!.id;
    }
    // The writes since `fromRev` may all lie under other prefixes: say where the replay ended, or a cache
    // started now would believe itself behind until the next write anywhere.
    if (after < this.#rev) sink([{ type: 'progress', rev: this.#rev }]);
    this.#watchers.add(w);
    return { close: () => { w.closed = true; this.#watchers.delete(w); } };
  }

  compact(rev: number): Promise<void> {
    // Serialised, so concurrent callers never interleave batches.
    this.#compacting = this.#compacting.then(() => this.#compactTo(rev));
    return this.#compacting;
  }

  async #compactTo(rev: number): Promise<void> {
    await this.#open();
    if (rev > this.#rev) throw new FutureRevisionError(rev, this.#rev);
    const started = this.#clock.now();
    let deleted = 0;
    while (this.#compactRev < rev && !this.#closed) {
      const from = this.#compactRev;
      const to = Math.min(from + this.#compactBatch, rev);
      // Each batch is its own transaction in the writer thread; writes queued meanwhile go between batches.
      const r = await this.#ask({ type: 'compact', from, to });
      if (r.type !== 'compacted') throw new StoreUnavailableError(`compaction failed: ${r.type === 'failed' ? r.message : r.type}`);
      deleted += r.deleted;
      this.#compactRev = to;
    }
    if (deleted > 0) this.#log.info('compacted', { rev, rowsDeleted: deleted, ms: this.#clock.now() - started });
  }

  async grantLease(ttlSeconds: number): Promise<number> {
    await this.#open();
    const r = await this.#ask({ type: 'grantLease', expiresAt: this.#clock.now() + ttlSeconds * 1000 });
    if (r.type !== 'leaseGranted') throw new StoreUnavailableError(`cannot grant lease: ${r.type === 'failed' ? r.message : r.type}`);
    return r.lease;
  }

  #sweeping = false;

  /** Deletes keys whose lease expired, through the normal delete path so watchers see the events. */
  async #sweepLeases(): Promise<void> {
    if (this.#closed || !this.#reader || this.#sweeping) return;
    this.#sweeping = true;
    try {
      const expired = this.#stmt('expiredLeases').all(this.#clock.now()) as { id: number }[];
      const deletes: Promise<unknown>[] = [];
      for (const { id } of expired) {
        // At the version read: a key moved onto another lease meanwhile (renewed) must not go with this one.
        for (const { name, id: modRev } of this.#stmt('keysOfLease').all(id) as { name: string; id: number }[]) deletes.push(this.delete(name, modRev).catch(() => {}));
      }
      await Promise.all(deletes);
      for (const { id } of expired) if (!this.#closed) await this.#ask({ type: 'dropLease', lease: id });
    } finally {
      this.#sweeping = false;
    }
  }

  /** Runs the lease sweep now (tests use it with an injected clock). */
  sweepLeasesNow(): Promise<void> {
    return this.#sweepLeases();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#ready;
      // Let queued writes finish before closing.
      while (this.#inflight || this.#queue.length > 0) {
        await new Promise<void>((r) => setImmediate(r));
        if (!this.#inflight) void this.#flush();
      }
      await this.#compacting.catch(() => {});
    } catch {
      // never opened: nothing to flush
    }
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    for (const w of this.#watchers) w.closed = true;
    this.#watchers.clear();
    if (!this.#failed) await this.#ask({ type: 'close' }).catch(() => {});
    await this.#worker.terminate();
    this.#reader?.close();
    rmSync(this.#lock, { force: true });
    openPaths.delete(this.#path);
  }
}

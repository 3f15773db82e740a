import Database from 'better-sqlite3';
import type { Database as DB, Statement } from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  CompactedError, FutureRevisionError, StoreUnavailableError, prefixEnd,
  type KV, type ListOptions, type ListResult, type Store, type WatchEvent, type WatchHandle, type WriteResult,
} from '../store.js';
import { realClock, type Clock } from '../../util/clock.js';
import { silentLogger, type Logger } from '../../util/log.js';

/** Options of the SQLite store. */
export interface SqliteStoreOptions {
  /** Database file; `:memory:` for a throwaway store. */
  readonly path: string;
  readonly clock?: Clock;
  readonly log?: Logger;
  /** How many revisions one compaction transaction covers (default 1000). */
  readonly compactBatch?: number;
  /** How often expired leases are swept, in ms (default 1000). */
  readonly leaseSweepMs?: number;
}

interface Row {
  id: number;
  name: string;
  created: number;
  deleted: number;
  create_revision: number;
  prev_revision: number;
  lease: number;
  value: Buffer | null;
}

type Op =
  | { kind: 'create'; key: string; value: Uint8Array; lease: number }
  | { kind: 'update'; key: string; value: Uint8Array; expect: number; lease: number }
  | { kind: 'delete'; key: string; expect?: number };

interface Pending { op: Op; resolve(r: WriteResult): void; reject(e: Error): void }

interface Watcher { prefix: string; end: string; sink: (b: WatchEvent[]) => void; onError: (e: Error) => void; closed: boolean }

const schema = `
CREATE TABLE IF NOT EXISTS log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  created INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  lease INTEGER NOT NULL,
  value BLOB
);
CREATE INDEX IF NOT EXISTS log_name_id ON log(name, id);
CREATE INDEX IF NOT EXISTS log_prev ON log(prev_revision);
CREATE UNIQUE INDEX IF NOT EXISTS log_name_prev ON log(name, prev_revision);
CREATE TABLE IF NOT EXISTS current (name TEXT PRIMARY KEY, id INTEGER NOT NULL, lease INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS current_lease ON current(lease) WHERE lease != 0;
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (id INTEGER PRIMARY KEY AUTOINCREMENT, expires_at INTEGER NOT NULL);
`;

function toKV(r: Row): KV {
  return { key: r.name, value: r.value ?? Buffer.alloc(0), createRev: r.create_revision, modRev: r.id, lease: r.lease };
}

/**
 * The embedded store: a kine-style append-only log (row id = revision) plus a `current` table of live
 * keys, in WAL mode with `synchronous=FULL`. Writes queued in one event-loop turn commit in one
 * transaction (group commit) and are acknowledged only after that commit is durable; the batch of
 * events is then handed to watchers synchronously, so a watch cache sees a write before its writer
 * does.
 */
export class SqliteStore implements Store {
  readonly #db: DB;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #compactBatch: number;
  #rev: number;
  #compactRev: number;
  #queue: Pending[] = [];
  #flushScheduled = false;
  #watchers = new Set<Watcher>();
  #closed = false;
  #compacting: Promise<void> = Promise.resolve();
  #sweepTimer: NodeJS.Timeout;
  readonly #st: Record<string, Statement>;

  constructor(options: SqliteStoreOptions) {
    this.#clock = options.clock ?? realClock;
    this.#log = options.log ?? silentLogger;
    this.#compactBatch = options.compactBatch ?? 1000;
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    try {
      // A short busy timeout: the only contender is another process holding the exclusive lock.
      this.#db = new Database(options.path, { timeout: 200 });
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      // One skiff process owns the file: a second server on the same data dir must fail, not corrupt revisions.
      this.#db.pragma('locking_mode = EXCLUSIVE');
      this.#db.exec(schema);
    } catch (e) {
      const msg = (e as Error).message;
      const hint = /locked|busy/i.test(msg) ? ' (is another skiff server using this data dir?)' : '';
      throw new StoreUnavailableError(`cannot open SQLite store at ${options.path}: ${msg}${hint}`, { cause: e });
    }
    const db = this.#db;
    this.#st = {
      maxId: db.prepare(`SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'log'), 0) AS rev`),
      getMeta: db.prepare(`SELECT v FROM meta WHERE k = ?`),
      setMeta: db.prepare(`INSERT INTO meta(k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`),
      current: db.prepare(`SELECT l.* FROM current c JOIN log l ON l.id = c.id WHERE c.name = ?`),
      latestAny: db.prepare(`SELECT id FROM log WHERE name = ? ORDER BY id DESC LIMIT 1`),
      atRev: db.prepare(`SELECT * FROM log WHERE name = ? AND id <= ? ORDER BY id DESC LIMIT 1`),
      insert: db.prepare(`INSERT INTO log(id, name, created, deleted, create_revision, prev_revision, lease, value)
                          VALUES (@id, @name, @created, @deleted, @create_revision, @prev_revision, @lease, @value)`),
      upsertCurrent: db.prepare(`INSERT INTO current(name, id, lease) VALUES (?, ?, ?)
                                 ON CONFLICT(name) DO UPDATE SET id = excluded.id, lease = excluded.lease`),
      deleteCurrent: db.prepare(`DELETE FROM current WHERE name = ?`),
      listLatest: db.prepare(`SELECT l.* FROM current c JOIN log l ON l.id = c.id
                              WHERE c.name >= ? AND c.name < ? ORDER BY c.name LIMIT ?`),
      listAtRev: db.prepare(`SELECT l.* FROM log l JOIN (
                               SELECT MAX(id) AS id FROM log WHERE name >= ? AND name < ? AND id <= ? GROUP BY name
                             ) m ON l.id = m.id WHERE l.deleted = 0 ORDER BY l.name LIMIT ?`),
      history: db.prepare(`SELECT l.*, p.id AS p_id, p.create_revision AS p_create_revision, p.lease AS p_lease, p.value AS p_value
                           FROM log l LEFT JOIN log p ON p.id = l.prev_revision AND p.deleted = 0
                           WHERE l.id > ? AND l.name >= ? AND l.name < ? ORDER BY l.id LIMIT ?`),
      compactSuperseded: db.prepare(`DELETE FROM log WHERE id IN (
                                       SELECT prev_revision FROM log WHERE id > ? AND id <= ? AND prev_revision > 0)`),
      compactTombstones: db.prepare(`DELETE FROM log WHERE deleted = 1 AND id > ? AND id <= ?`),
      grantLease: db.prepare(`INSERT INTO leases(expires_at) VALUES (?)`),
      expiredLeases: db.prepare(`SELECT id FROM leases WHERE expires_at <= ?`),
      keysOfLease: db.prepare(`SELECT name FROM current WHERE lease = ?`),
      dropLease: db.prepare(`DELETE FROM leases WHERE id = ?`),
    };
    this.#rev = (this.#st['maxId']!.get() as { rev: number }).rev;
    this.#compactRev = (this.#st['getMeta']!.get('compact_rev') as { v: number } | undefined)?.v ?? 0;
    this.#sweepTimer = setInterval(() => this.#sweepLeases(), options.leaseSweepMs ?? 1000);
    this.#sweepTimer.unref();
  }

  #stmt(name: string): Statement {
    return this.#st[name]!;
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreUnavailableError('store is closed');
  }

  async currentRev(): Promise<number> {
    this.#checkOpen();
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
    this.#checkOpen();
    if (rev === undefined || rev === 0) {
      const row = this.#stmt('current').get(key) as Row | undefined;
      return { kv: row ? toKV(row) : undefined, rev: this.#rev };
    }
    this.#checkRev(rev);
    const row = this.#stmt('atRev').get(key, rev) as Row | undefined;
    return { kv: row && !row.deleted ? toKV(row) : undefined, rev };
  }

  async list(o: ListOptions): Promise<ListResult> {
    this.#checkOpen();
    const limit = o.limit && o.limit > 0 ? o.limit : -1;
    const fetch = limit > 0 ? limit + 1 : -1;
    // The smallest key after `startAfter` is `startAfter + "\0"`: keys never contain NUL.
    const start = o.startAfter !== undefined && o.startAfter >= o.prefix ? o.startAfter + '\0' : o.prefix;
    const end = prefixEnd(o.prefix);
    let rows: Row[];
    let rev: number;
    if (o.rev === undefined || o.rev === 0) {
      rows = this.#stmt('listLatest').all(start, end, fetch) as Row[];
      rev = this.#rev;
    } else {
      this.#checkRev(o.rev);
      rows = this.#stmt('listAtRev').all(start, end, o.rev, fetch) as Row[];
      rev = o.rev;
    }
    const more = limit > 0 && rows.length > limit;
    if (more) rows.length = limit;
    return { kvs: rows.map(toKV), rev, more };
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

  #enqueue(op: Op): Promise<WriteResult> {
    if (this.#closed) return Promise.reject(new StoreUnavailableError('store is closed'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ op, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Applies one queued write inside the open transaction; returns its result and its event, if any. */
  #apply(op: Op, events: WatchEvent[]): WriteResult {
    const cur = this.#stmt('current').get(op.key) as Row | undefined;
    const curKV = cur ? toKV(cur) : undefined;
    switch (op.kind) {
      case 'create': {
        if (cur) return { ok: false, current: curKV, rev: this.#rev };
        const tomb = this.#stmt('latestAny').get(op.key) as { id: number } | undefined;
        const id = ++this.#rev;
        const value = Buffer.from(op.value.buffer, op.value.byteOffset, op.value.byteLength);
        this.#stmt('insert').run({ id, name: op.key, created: 1, deleted: 0, create_revision: id, prev_revision: tomb?.id ?? 0, lease: op.lease, value });
        this.#stmt('upsertCurrent').run(op.key, id, op.lease);
        const kv: KV = { key: op.key, value: op.value, createRev: id, modRev: id, lease: op.lease };
        events.push({ type: 'put', kv });
        return { ok: true, kv };
      }
      case 'update': {
        if (!cur || cur.id !== op.expect) return { ok: false, current: curKV, rev: this.#rev };
        const id = ++this.#rev;
        const value = Buffer.from(op.value.buffer, op.value.byteOffset, op.value.byteLength);
        this.#stmt('insert').run({ id, name: op.key, created: 0, deleted: 0, create_revision: cur.create_revision, prev_revision: cur.id, lease: op.lease, value });
        this.#stmt('upsertCurrent').run(op.key, id, op.lease);
        const kv: KV = { key: op.key, value: op.value, createRev: cur.create_revision, modRev: id, lease: op.lease };
        events.push({ type: 'put', kv, prev: curKV });
        return { ok: true, kv, prev: curKV };
      }
      case 'delete': {
        if (!cur || (op.expect !== undefined && cur.id !== op.expect)) return { ok: false, current: curKV, rev: this.#rev };
        const id = ++this.#rev;
        this.#stmt('insert').run({ id, name: op.key, created: 0, deleted: 1, create_revision: cur.create_revision, prev_revision: cur.id, lease: 0, value: null });
        this.#stmt('deleteCurrent').run(op.key);
        events.push({ type: 'delete', key: op.key, modRev: id, prev: curKV });
        const kv: KV = { key: op.key, value: curKV!.value, createRev: cur.create_revision, modRev: id, lease: 0 };
        return { ok: true, kv, prev: curKV };
      }
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    const startRev = this.#rev;
    const events: WatchEvent[] = [];
    let results: WriteResult[];
    try {
      results = this.#db.transaction(() => batch.map((p) => this.#apply(p.op, events)))();
    } catch (e) {
      // Nothing of the batch is durable: hand back the revisions and fail every writer.
      this.#rev = startRev;
      this.#log.error('store commit failed', { err: e as Error, writes: batch.length });
      const err = new StoreUnavailableError(`store commit failed: ${(e as Error).message}`, { cause: e });
      for (const p of batch) p.reject(err);
      return;
    }
    if (events.length > 0) this.#publish(events);
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
  }

  #publish(events: WatchEvent[]): void {
    for (const w of this.#watchers) {
      if (w.closed) continue;
      const mine = events.filter((e) => {
        const key = e.type === 'put' ? e.kv.key : e.type === 'delete' ? e.key : undefined;
        return key !== undefined && key >= w.prefix && key < w.end;
      });
      // A watcher with nothing in this commit still learns the store moved on (a progress mark), so its
      // cache can answer consistent reads without waiting for a write under its own prefix.
      if (mine.length === 0) mine.push({ type: 'progress', rev: this.#rev });
      try {
        w.sink(mine);
      } catch (e) {
        this.#log.error('watch sink failed', { err: e as Error, prefix: w.prefix });
      }
    }
  }

  watch(prefix: string, fromRev: number, sink: (batch: WatchEvent[]) => void, onError: (e: Error) => void): WatchHandle {
    this.#checkOpen();
    if (fromRev < this.#compactRev) throw new CompactedError(fromRev, this.#compactRev);
    if (fromRev > this.#rev) throw new FutureRevisionError(fromRev, this.#rev);
    const w: Watcher = { prefix, end: prefixEnd(prefix), sink, onError, closed: false };
    // Replay history synchronously, then join the live feed: no commit can run in between, so no gap.
    let after = fromRev;
    for (;;) {
      const rows = this.#stmt('history').all(after, prefix, w.end, 1000) as (Row & { p_id: number | null; p_create_revision: number; p_lease: number; p_value: Buffer | null })[];
      if (rows.length === 0) break;
      const batch: WatchEvent[] = rows.map((r) => {
        const prev: KV | undefined = r.p_id ? { key: r.name, value: r.p_value ?? Buffer.alloc(0), createRev: r.p_create_revision, modRev: r.p_id, lease: r.p_lease } : undefined;
        return r.deleted ? { type: 'delete', key: r.name, modRev: r.id, prev } : { type: 'put', kv: toKV(r), prev };
      });
      sink(batch);
      after = rows[rows.length - 1]!.id;
    }
    this.#watchers.add(w);
    return { close: () => { w.closed = true; this.#watchers.delete(w); } };
  }

  compact(rev: number): Promise<void> {
    // Serialised, so concurrent callers never interleave batches.
    this.#compacting = this.#compacting.then(() => this.#compactTo(rev));
    return this.#compacting;
  }

  async #compactTo(rev: number): Promise<void> {
    this.#checkOpen();
    if (rev > this.#rev) throw new FutureRevisionError(rev, this.#rev);
    const started = this.#clock.now();
    let deleted = 0;
    while (this.#compactRev < rev && !this.#closed) {
      const lo = this.#compactRev;
      const hi = Math.min(lo + this.#compactBatch, rev);
      this.#db.transaction(() => {
        deleted += this.#stmt('compactSuperseded').run(lo, hi).changes;
        deleted += this.#stmt('compactTombstones').run(lo, hi).changes;
        this.#stmt('setMeta').run('compact_rev', hi);
      })();
      this.#compactRev = hi;
      // Each batch is a few ms; yielding between them keeps requests flowing during a big compaction.
      await new Promise((r) => setImmediate(r));
    }
    if (deleted > 0) this.#log.info('compacted', { rev, rowsDeleted: deleted, ms: this.#clock.now() - started });
  }

  async grantLease(ttlSeconds: number): Promise<number> {
    this.#checkOpen();
    const r = this.#stmt('grantLease').run(this.#clock.now() + ttlSeconds * 1000);
    return Number(r.lastInsertRowid);
  }

  #sweepLeases(): void {
    if (this.#closed) return;
    const expired = this.#stmt('expiredLeases').all(this.#clock.now()) as { id: number }[];
    for (const { id } of expired) {
      const keys = this.#stmt('keysOfLease').all(id) as { name: string }[];
      for (const { name } of keys) void this.delete(name).catch(() => {});
      this.#stmt('dropLease').run(id);
    }
  }

  /** Runs the lease sweep now (tests use it with an injected clock). */
  sweepLeasesNow(): void {
    this.#sweepLeases();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#queue.length > 0) this.#flush();
    await this.#compacting.catch(() => {});
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    for (const w of this.#watchers) w.closed = true;
    this.#watchers.clear();
    this.#db.close();
  }
}

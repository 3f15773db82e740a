import { type KV, type Store, type WatchEvent, type WatchHandle } from './store.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { trimHistory } from './history.js';
import { silentLogger, type Logger } from '../util/log.js';
import { cachedJson, cachedJsonBuffer } from '../util/json-cache.js';

/** One object as the cache holds it: decoded once, serialised at most once, shared by every reader. */
export class CacheEntry<T> {
  constructor(readonly key: string, readonly rev: number, readonly obj: T) {}
  /** The object as JSON; computed on first use and reused for every response and watcher. */
  json(): string {
    return cachedJson(this.obj as object);
  }
  /** The JSON as UTF-8 bytes, cached too. */
  jsonBuffer(): Buffer {
    return cachedJsonBuffer(this.obj as object);
  }
}

export type CacheEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface CacheEvent<T> {
  readonly type: CacheEventType;
  readonly rev: number;
  /** For DELETED: the last state, with the deletion's revision. */
  readonly entry: CacheEntry<T>;
  readonly prev?: CacheEntry<T>;
}

/** Turns a stored KV into the cached object; `rev` overrides the revision (deleted objects carry the deletion's). */
export type Decoder<T> = (kv: KV, rev: number) => T;

export interface WatchCacheOptions {
  /** Events kept for watches that resume from a revision: at least this many, up to a quarter more (default 10,000). */
  readonly historySize?: number;
  readonly log?: Logger;
  /** Page size of the initial list (default 10,000). */
  readonly listPage?: number;
  /** First and longest pause between attempts to re-list after the feed failed (default 100 ms and 5 s). */
  readonly relistBackoffMs?: readonly [number, number];
}

/** A watcher's view: receives each batch of events in revision order. */
export type CacheListener<T> = (events: readonly CacheEvent<T>[]) => void;

/** A watch on the cache was asked to start below the retained history: the client must relist (410). */
export class TooOldResourceVersionError extends Error {
  constructor(readonly requested: number, readonly oldest: number) {
    super(`too old resource version: ${requested} (${oldest})`);
    this.name = 'TooOldResourceVersionError';
  }
}

/**
 * An in-memory copy of every object under a store prefix, fed by the store's watch, as kube-apiserver's
 * cacher: GET, LIST and WATCH are served from here; writes go to the store and come back through the
 * feed. On the SQLite store the feed is synchronous with the commit, so a writer reads its own write. When the
 * feed fails (a watch that cannot resume), the cache lists again and carries on from there.
 */
export class WatchCache<T> {
  readonly #store: Store;
  readonly #prefix: string;
  readonly #decode: Decoder<T>;
  readonly #log: Logger;
  readonly #historySize: number;
  readonly #listPage: number;
  readonly #items = new Map<string, CacheEntry<T>>();
  #sorted: string[] | null = null;
  #history: CacheEvent<T>[] = [];
  /** Events with revision > #historyFrom are all in #history. */
  #historyFrom = 0;
  #rev = 0;
  #listeners = new Set<CacheListener<T>>();
  #waiters: { rev: number; resolve(ok: boolean): void }[] = [];
  #watch: WatchHandle | undefined;
  #ready = false;
  #stopped = false;
  #relisting: Promise<void> | undefined;
  readonly #relistBackoffMs: readonly [number, number];

  constructor(store: Store, prefix: string, decode: Decoder<T>, options: WatchCacheOptions = {}) {
    this.#store = store;
    this.#prefix = prefix;
    this.#decode = decode;
    this.#log = options.log ?? silentLogger;
    this.#historySize = options.historySize ?? 10_000;
    this.#listPage = options.listPage ?? 10_000;
    this.#relistBackoffMs = options.relistBackoffMs ?? [100, 5000];
  }

  /** Lists the prefix and starts following the store; resolves when the cache holds the listed state. */
  async start(): Promise<void> {
    const { items, rev } = await this.#list();
    for (const [key, entry] of items) this.#items.set(key, entry);
    this.#rev = rev;
    this.#historyFrom = rev;
    this.#follow(rev);
    this.#ready = true;
  }

  /** Reads the whole prefix at one revision, page by page. */
  async #list(): Promise<{ items: Map<string, CacheEntry<T>>; rev: number }> {
    const items = new Map<string, CacheEntry<T>>();
    let startAfter: string | undefined;
    let rev: number | undefined;
    for (;;) {
      const page = await this.#store.list({ prefix: this.#prefix, limit: this.#listPage, startAfter, rev });
      rev = page.rev;
      for (const kv of page.kvs) items.set(kv.key, new CacheEntry(kv.key, kv.modRev, this.#decode(kv, kv.modRev)));
      if (!page.more || page.kvs.length === 0) break;
      startAfter = page.kvs[page.kvs.length - 1]!.key;
    }
    return { items, rev: rev! };
  }

  #follow(rev: number): void {
    this.#watch = this.#store.watch(this.#prefix, rev, (batch) => this.#apply(batch), (e) => this.#feedFailed(e));
  }

  /**
   * The store's watch ended (for etcd: it could not resume because the history it needed was compacted while the
   * cluster was out of reach). As kube-apiserver's reflector does, the cache lists again and follows from there,
   * so it never stays behind the store.
   */
  #feedFailed(e: Error): void {
    this.#watch = undefined;
    if (this.#stopped || this.#relisting) return;
    this.#log.warn('cache feed failed; listing again', { prefix: this.#prefix, rev: this.#rev, err: e });
    this.#relisting = this.#relist().finally(() => { this.#relisting = undefined; });
  }

  async #relist(): Promise<void> {
    let backoff = this.#relistBackoffMs[0];
    for (let attempt = 1; !this.#stopped; attempt++) {
      try {
        const { items, rev } = await this.#list();
        if (this.#stopped) return;
        this.#replace(items, rev);
        this.#follow(rev);
        this.#log.info('cache listed again and follows the store', { prefix: this.#prefix, rev, attempts: attempt });
        return;
      } catch (err) {
        this.#log.warn('cache re-list failed; retrying', { prefix: this.#prefix, err: err as Error, retryMs: backoff });
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, this.#relistBackoffMs[1]);
    }
  }

  /**
   * Takes a fresh listing at `rev` as the cache's state. Watchers get the difference as events — objects added or
   * changed at their own revisions, objects gone as DELETED at `rev` — in revision order, so each sees a state it
   * could have seen with every event; the retained history restarts at `rev` (a watch resuming from before it
   * gets 410 and lists again, as with any gap).
   */
  #replace(items: Map<string, CacheEntry<T>>, rev: number): void {
    const puts: CacheEvent<T>[] = [];
    const deletes: CacheEvent<T>[] = [];
    for (const [key, entry] of items) {
      const prev = this.#items.get(key);
      if (!prev) puts.push({ type: 'ADDED', rev: entry.rev, entry });
      else if (prev.rev !== entry.rev) puts.push({ type: 'MODIFIED', rev: entry.rev, entry, prev });
    }
    for (const [key, prev] of this.#items) {
      if (items.has(key)) continue;
      // The deletion's own revision is not known: it happened at or before `rev`.
      const obj = this.#decode({ key, value: prev.jsonBuffer(), createRev: 0, modRev: prev.rev, lease: 0 }, rev);
      deletes.push({ type: 'DELETED', rev, entry: new CacheEntry(key, rev, obj), prev });
    }
    puts.sort((a, b) => a.rev - b.rev);
    const events = [...puts, ...deletes];
    this.#items.clear();
    for (const [key, entry] of items) this.#items.set(key, entry);
    this.#sorted = null;
    this.#rev = rev;
    this.#history = [];
    this.#historyFrom = rev;
    if (events.length > 0) this.#emit(events);
    this.#wakeWaiters();
  }

  #emit(events: CacheEvent<T>[]): void {
    for (const l of this.#listeners) {
      try {
        l(events);
      } catch (err) {
        this.#log.error('cache listener failed', { prefix: this.#prefix, err: err as Error });
      }
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#watch?.close();
    this.#listeners.clear();
    for (const w of this.#waiters) w.resolve(false);
    this.#waiters = [];
  }

  get ready(): boolean { return this.#ready; }

  /** The revision the cache reflects. */
  get rev(): number { return this.#rev; }

  get size(): number { return this.#items.size; }

  #apply(batch: WatchEvent[]): void {
    const events: CacheEvent<T>[] = [];
    for (const e of batch) {
      if (e.type === 'progress') {
        if (e.rev > this.#rev) this.#rev = e.rev;
        continue;
      }
      if (e.type === 'put') {
        const prev = this.#items.get(e.kv.key);
        const entry = new CacheEntry(e.kv.key, e.kv.modRev, this.#decode(e.kv, e.kv.modRev));
        if (!prev) this.#sorted = null;
        this.#items.set(e.kv.key, entry);
        events.push({ type: prev ? 'MODIFIED' : 'ADDED', rev: e.kv.modRev, entry, prev });
        this.#rev = e.kv.modRev;
      } else {
        const prev = this.#items.get(e.key);
        this.#items.delete(e.key);
        this.#sorted = null;
        this.#rev = e.modRev;
        const last = prev ?? (e.prev ? new CacheEntry(e.key, e.prev.modRev, this.#decode(e.prev, e.prev.modRev)) : undefined);
        if (!last) continue;
        const entry = new CacheEntry(e.key, e.modRev, e.prev ? this.#decode(e.prev, e.modRev) : last.obj);
        events.push({ type: 'DELETED', rev: e.modRev, entry, prev: last });
      }
    }
    if (events.length === 0) {
      this.#wakeWaiters();
      return;
    }
    this.#history.push(...events);
    const dropped = trimHistory(this.#history, this.#historySize);
    if (dropped) this.#historyFrom = dropped.rev;
    this.#emit(events);
    this.#wakeWaiters();
  }

  #wakeWaiters(): void {
    if (this.#waiters.length > 0) {
      this.#waiters = this.#waiters.filter((w) => (this.#rev >= w.rev ? (w.resolve(true), false) : true));
    }
  }

  /** Resolves true once the cache has reached `rev`, false after `timeoutMs`. */
  waitFor(rev: number, timeoutMs: number): Promise<boolean> {
    if (this.#rev >= rev) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: { rev: number; resolve(ok: boolean): void } = { rev, resolve: (ok) => resolve(ok) };
      const t = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      waiter.resolve = (ok: boolean) => { clearTimeout(t); resolve(ok); };
      this.#waiters.push(waiter);
    });
  }

  /** Waits until the cache reflects every write the store acknowledged so far (a consistent read). */
  async sync(timeoutMs = 3000): Promise<boolean> {
    return this.waitFor(await this.#store.currentRev(), timeoutMs);
  }

  get(key: string): CacheEntry<T> | undefined {
    return this.#items.get(key);
  }

  /** Entries whose key starts with `prefix` (which must lie under the cache's prefix), in key order. */
  list(prefix: string = this.#prefix): CacheEntry<T>[] {
    if (!this.#sorted) this.#sorted = [...this.#items.keys()].sort();
    const keys = this.#sorted;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (keys[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    const out: CacheEntry<T>[] = [];
    for (let i = lo; i < keys.length && keys[i]!.startsWith(prefix); i++) out.push(this.#items.get(keys[i]!)!);
    return out;
  }

  /**
   * Subscribes to changes after `fromRev`: the retained events after it are replayed first (synchronously,
   * before this returns), then live batches follow. Throws TooOldResourceVersionError when the history no
   * longer reaches back to `fromRev`.
   */
  watchFrom(fromRev: number, listener: CacheListener<T>): { close(): void } {
    if (fromRev < this.#historyFrom) {
      const oldest = this.#history[0]?.rev ?? this.#rev;
      throw new TooOldResourceVersionError(fromRev, oldest);
    }
    const replay = this.#history.filter((e) => e.rev > fromRev);
    if (replay.length > 0) listener(replay);
    this.#listeners.add(listener);
    return { close: () => { this.#listeners.delete(listener); } };
  }

  /** Subscribes to changes after the current revision. */
  watchNow(listener: CacheListener<T>): { close(): void } {
    this.#listeners.add(listener);
    return { close: () => { this.#listeners.delete(listener); } };
  }
}


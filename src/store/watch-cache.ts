import { type KV, type Store, type WatchEvent, type WatchHandle } from './store.js';
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
  /** Events kept for watches that resume from a revision (default 10,000). */
  readonly historySize?: number;
  readonly log?: Logger;
  /** Page size of the initial list (default 10,000). */
  readonly listPage?: number;
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
 * feed. On the SQLite store the feed is synchronous with the commit, so a writer reads its own write.
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

  constructor(store: Store, prefix: string, decode: Decoder<T>, options: WatchCacheOptions = {}) {
    this.#store = store;
    this.#prefix = prefix;
    this.#decode = decode;
    this.#log = options.log ?? silentLogger;
    this.#historySize = options.historySize ?? 10_000;
    this.#listPage = options.listPage ?? 10_000;
  }

  /** Lists the prefix and starts following the store; resolves when the cache holds the listed state. */
  async start(): Promise<void> {
    let startAfter: string | undefined;
    let rev: number | undefined;
    for (;;) {
      const page = await this.#store.list({ prefix: this.#prefix, limit: this.#listPage, startAfter, rev });
      rev = page.rev;
      for (const kv of page.kvs) this.#items.set(kv.key, new CacheEntry(kv.key, kv.modRev, this.#decode(kv, kv.modRev)));
      if (!page.more || page.kvs.length === 0) break;
      startAfter = page.kvs[page.kvs.length - 1]!.key;
    }
    this.#rev = rev!;
    this.#historyFrom = rev!;
    this.#watch = this.#store.watch(this.#prefix, rev!, (batch) => this.#apply(batch), (e) => this.#log.error('cache feed failed', { prefix: this.#prefix, err: e }));
    this.#ready = true;
  }

  stop(): void {
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
    if (this.#history.length > this.#historySize) {
      const drop = this.#history.length - this.#historySize;
      this.#historyFrom = this.#history[drop - 1]!.rev;
      this.#history.splice(0, drop);
    }
    for (const l of this.#listeners) {
      try {
        l(events);
      } catch (err) {
        this.#log.error('cache listener failed', { prefix: this.#prefix, err: err as Error });
      }
    }
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


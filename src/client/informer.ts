import type { KubeObject } from '../api/types.js';
import { ApiRequestError, type RestClient, type WatchLine } from './rest-client.js';
import { objectKey } from './paths.js';
import { realClock, type Clock } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/log.js';

export interface InformerHandlers<T> {
  add?(obj: T): void;
  update?(oldObj: T, newObj: T): void;
  delete?(obj: T): void;
}

export interface InformerOptions {
  /** Collection path, e.g. `/api/v1/pods` or `/apis/apps/v1/namespaces/ns/deployments`. */
  readonly path: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Every this many ms, every cached object is handed to `update` again (0: never). */
  readonly resyncMs?: number;
  readonly clock?: Clock;
  readonly log?: Logger;
}

interface List<T> { metadata: { resourceVersion: string; continue?: string }; items: T[] }

/**
 * A client-go style informer: lists, then watches from the list's resourceVersion, keeping a local
 * cache and calling handlers for every change. A watch that ends is resumed from the last revision
 * seen; a 410 (history gone) or any error falls back to a fresh list, with backoff.
 */
export class Informer<T extends KubeObject> {
  readonly #client: RestClient;
  readonly #o: InformerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #items = new Map<string, T>();
  readonly #handlers: InformerHandlers<T>[] = [];
  #rv = '';
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #abort: AbortController | undefined;
  #stopped = false;
  #resync: { cancel(): void } | undefined;

  constructor(client: RestClient, o: InformerOptions) {
    this.#client = client;
    this.#o = o;
    this.#clock = o.clock ?? realClock;
    this.#log = (o.log ?? silentLogger).with({ informer: o.path });
  }

  /** Registers handlers; objects already cached are replayed to `add`. */
  addHandlers(h: InformerHandlers<T>): void {
    this.#handlers.push(h);
    for (const obj of this.#items.values()) h.add?.(obj);
  }

  get hasSynced(): boolean { return this.#synced; }

  /** The last resourceVersion the informer has seen. */
  get resourceVersion(): string { return this.#rv; }

  get(key: string): T | undefined { return this.#items.get(key); }

  list(): T[] { return [...this.#items.values()]; }

  /** Starts listing and watching; resolves once the first list is in the cache. */
  start(): Promise<void> {
    void this.#run();
    if (this.#o.resyncMs) this.#scheduleResync();
    return this.waitForSync();
  }

  waitForSync(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((r) => this.#syncWaiters.push(r));
  }

  stop(): void {
    this.#stopped = true;
    this.#abort?.abort();
    this.#resync?.cancel();
  }

  #query(extra: Record<string, string>): string {
    const q = new URLSearchParams(extra);
    if (this.#o.labelSelector) q.set('labelSelector', this.#o.labelSelector);
    if (this.#o.fieldSelector) q.set('fieldSelector', this.#o.fieldSelector);
    return `${this.#o.path}?${q.toString()}`;
  }

  #emit(fn: (h: InformerHandlers<T>) => void): void {
    for (const h of this.#handlers) {
      try {
        fn(h);
      } catch (e) {
        this.#log.error('informer handler failed', { err: e as Error });
      }
    }
  }

  async #list(): Promise<void> {
    const fresh = new Map<string, T>();
    let cont: string | undefined;
    let rv = '';
    do {
      const page: List<T> = await this.#client.call<List<T>>('GET', this.#query(cont ? { limit: '500', continue: cont } : { limit: '500' }));
      for (const item of page.items) fresh.set(objectKey(item.metadata), item);
      rv ||= page.metadata.resourceVersion;
      cont = page.metadata.continue;
    } while (cont);
    // Replace the cache and tell handlers what changed relative to what they had.
    for (const [k, old] of this.#items) if (!fresh.has(k)) { this.#items.delete(k); this.#emit((h) => h.delete?.(old)); }
    for (const [k, obj] of fresh) {
      const old = this.#items.get(k);
      this.#items.set(k, obj);
      if (!old) this.#emit((h) => h.add?.(obj));
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.#emit((h) => h.update?.(old, obj));
    }
    this.#rv = rv;
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
  }

  #onEvent(e: WatchLine<T>): 'continue' | 'relist' {
    if (e.type === 'BOOKMARK') {
      this.#rv = e.object.metadata.resourceVersion ?? this.#rv;
      return 'continue';
    }
    if (e.type === 'ERROR') {
      const st = e.object as unknown as { code?: number; message?: string };
      this.#log.info('watch ended with an error; relisting', { code: st.code, message: st.message });
      return 'relist';
    }
    const obj = e.object;
    const k = objectKey(obj.metadata);
    const old = this.#items.get(k);
    this.#rv = obj.metadata.resourceVersion ?? this.#rv;
    if (e.type === 'DELETED') {
      this.#items.delete(k);
      this.#emit((h) => h.delete?.(old ?? obj));
    } else {
      this.#items.set(k, obj);
      if (old) this.#emit((h) => h.update?.(old, obj));
      else this.#emit((h) => h.add?.(obj));
    }
    return 'continue';
  }

  async #run(): Promise<void> {
    let needList = true;
    let failures = 0;
    while (!this.#stopped) {
      try {
        if (needList) {
          await this.#list();
          needList = false;
        }
        this.#abort = new AbortController();
        let relist = false;
        const timeout = 300 + Math.floor(Math.random() * 300);
        await this.#client.watch<T>(this.#query({ watch: 'true', resourceVersion: this.#rv, allowWatchBookmarks: 'true', timeoutSeconds: String(timeout) }), (e) => {
          if (relist) return;
          if (this.#onEvent(e) === 'relist') { relist = true; this.#abort?.abort(); }
        }, this.#abort.signal);
        failures = 0;
        if (relist) needList = true;
      } catch (e) {
        if (this.#stopped) return;
        failures++;
        if (e instanceof ApiRequestError && e.code === 410) needList = true;
        else needList = needList || failures > 1;
        const delay = Math.min(30_000, 100 * 2 ** Math.min(failures, 8));
        this.#log.warn('list/watch failed; retrying', { err: e as Error, delayMs: delay });
        await new Promise<void>((r) => this.#clock.setTimeout(r, delay));
      }
    }
  }

  #scheduleResync(): void {
    this.#resync = this.#clock.setTimeout(() => {
      if (this.#stopped) return;
      for (const obj of this.#items.values()) this.#emit((h) => h.update?.(obj, obj));
      this.#scheduleResync();
    }, this.#o.resyncMs!);
  }
}

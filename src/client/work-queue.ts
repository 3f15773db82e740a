import { realClock, type Clock } from '../util/clock.js';

export interface WorkQueueOptions {
  readonly clock?: Clock;
  /** First retry delay of a failing key (default 5 ms), doubled per failure up to `maxDelayMs`. */
  readonly baseDelayMs?: number;
  /** Longest retry delay (default 1000 s, as client-go's default controller rate limiter). */
  readonly maxDelayMs?: number;
}

/**
 * A controller work queue with client-go's semantics: a key is queued at most once; a key being
 * processed is not handed out again until `done`, and if it was added meanwhile it is queued again
 * then; `addRateLimited` retries with per-key exponential backoff until `forget`.
 */
export class WorkQueue<K = string> {
  readonly #clock: Clock;
  readonly #base: number;
  readonly #max: number;
  #queue: K[] = [];
  #dirty = new Set<K>();
  #processing = new Set<K>();
  #failures = new Map<K, number>();
  #delayed = new Map<K, { cancel(): void; at: number }>();
  #waiters: ((k: K | undefined) => void)[] = [];
  #shutDown = false;

  constructor(o: WorkQueueOptions = {}) {
    this.#clock = o.clock ?? realClock;
    this.#base = o.baseDelayMs ?? 5;
    this.#max = o.maxDelayMs ?? 1_000_000;
  }

  get length(): number { return this.#queue.length; }

  add(key: K): void {
    if (this.#shutDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    const w = this.#waiters.shift();
    if (w) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      w(key);
    } else {
      this.#queue.push(key);
    }
  }

  /** Adds the key after `ms`; an earlier pending delayed add of the same key wins. */
  addAfter(key: K, ms: number): void {
    if (this.#shutDown) return;
    if (ms <= 0) { this.add(key); return; }
    const at = this.#clock.now() + ms;
    const existing = this.#delayed.get(key);
    if (existing && existing.at <= at) return;
    existing?.cancel();
    const t = this.#clock.setTimeout(() => { this.#delayed.delete(key); this.add(key); }, ms);
    this.#delayed.set(key, { cancel: () => t.cancel(), at });
  }

  /** Re-queues a key that failed, after an exponentially growing delay. */
  addRateLimited(key: K): void {
    const n = this.#failures.get(key) ?? 0;
    this.#failures.set(key, n + 1);
    this.addAfter(key, Math.min(this.#max, this.#base * 2 ** n));
  }

  /** How many times the key has failed since it was last forgotten. */
  retries(key: K): number { return this.#failures.get(key) ?? 0; }

  /** Clears the key's failure count (it succeeded). */
  forget(key: K): void { this.#failures.delete(key); }

  /** The next key to process, waiting for one; undefined once the queue is shut down. */
  get(): Promise<K | undefined> {
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      return Promise.resolve(key);
    }
    if (this.#shutDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Marks a key processed; if it was added while processing, it is queued again. */
  done(key: K): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key)) {
      this.#dirty.delete(key);
      this.add(key);
    }
  }

  shutDown(): void {
    this.#shutDown = true;
    for (const d of this.#delayed.values()) d.cancel();
    this.#delayed.clear();
    for (const w of this.#waiters.splice(0)) w(undefined);
  }

  get isShutDown(): boolean { return this.#shutDown; }
}

/** Runs `workers` loops taking keys from the queue into `sync`, retrying failures with backoff. */
export async function runWorkers<K>(queue: WorkQueue<K>, workers: number, sync: (key: K) => Promise<void>, onError: (key: K, e: unknown) => void): Promise<void> {
  const loop = async (): Promise<void> => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        await sync(key);
        queue.forget(key);
      } catch (e) {
        onError(key, e);
        queue.addRateLimited(key);
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
}

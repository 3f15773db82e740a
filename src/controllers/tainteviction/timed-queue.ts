import type { Clock } from '../../util/clock.js';

interface Entry {
  readonly fireAt: number;
  /** The timer, until the work ran; after a successful run the entry stays, done, so the work is not added again. */
  timer: { cancel(): void } | undefined;
}

/**
 * Upstream's TimedWorkerQueue: at most one scheduled piece of work per key, run at its time on the
 * injected clock. Work that succeeded leaves a "done" mark until the key is cancelled, so the same pod
 * is not evicted twice; work that failed is forgotten, so the next update schedules it again.
 */
export class TimedQueue {
  readonly #clock: Clock;
  readonly #work: (key: string) => Promise<void>;
  readonly #onError: (key: string, e: unknown) => void;
  readonly #entries = new Map<string, Entry>();

  constructor(clock: Clock, work: (key: string) => Promise<void>, onError: (key: string, e: unknown) => void = () => undefined) {
    this.#clock = clock;
    this.#work = work;
    this.#onError = onError;
  }

  /** Schedules work for `key` at `fireAt` (now, if past) unless the key already has work, pending or done. */
  add(key: string, fireAt: number): void {
    if (this.#entries.has(key)) return;
    const entry: Entry = { fireAt, timer: undefined };
    this.#entries.set(key, entry);
    entry.timer = this.#clock.setTimeout(() => void this.#run(key, entry), Math.max(0, fireAt - this.#clock.now()));
  }

  async #run(key: string, entry: Entry): Promise<void> {
    entry.timer = undefined;
    try {
      await this.#work(key);
    } catch (e) {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
      this.#onError(key, e);
    }
  }

  /** Cancels the key's work; true when pending work was cancelled (not when it had already run). Clears a done mark too. */
  cancel(key: string): boolean {
    const e = this.#entries.get(key);
    if (!e) return false;
    this.#entries.delete(key);
    if (!e.timer) return false;
    e.timer.cancel();
    return true;
  }

  /** The key's scheduled time, 'done' once its work ran, or undefined. */
  get(key: string): number | 'done' | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    return e.timer ? e.fireAt : 'done';
  }

  /** Keys with pending (not yet run) work. */
  pending(): string[] {
    return [...this.#entries].filter(([, e]) => e.timer).map(([k]) => k);
  }
}

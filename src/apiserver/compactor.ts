import type { Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';

/** History always kept, whatever the age: watchers a little behind can still resume. */
const minRetainedRevisions = 1000;

/**
 * Compacts the store's history on upstream's cadence: every interval (5 minutes by default), to the
 * revision seen one interval earlier, so watches can resume within 5 to 10 minutes of history.
 */
export class Compactor {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #intervalMs: number;
  #lastSeen = 0;
  #timer: { cancel(): void } | undefined;
  #stopped = false;

  constructor(store: Store, clock: Clock, log: Logger, intervalMs = 5 * 60 * 1000) {
    this.#store = store;
    this.#clock = clock;
    this.#log = log;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    if (this.#intervalMs <= 0) return;
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => void this.tick().finally(() => this.#schedule()), this.#intervalMs);
  }

  /** One compaction round: compacts to the revision remembered from the previous round. */
  async tick(): Promise<void> {
    try {
      const current = await this.#store.currentRev();
      const target = Math.min(this.#lastSeen, current - minRetainedRevisions);
      if (target > this.#store.compactRev()) await this.#store.compact(target);
      this.#lastSeen = current;
    } catch (e) {
      this.#log.warn('compaction failed', { err: e as Error });
    }
  }
}

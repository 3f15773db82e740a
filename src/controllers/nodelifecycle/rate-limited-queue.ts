import type { Clock } from '../../util/clock.js';

/** How many actions a limiter lets through at once before the rate applies (upstream's evictionRateLimiterBurst). */
export const evictionBurst = 1;

/**
 * client-go's token bucket: `burst` tokens to start with, refilled at `qps` per second up to `burst`.
 * A rate of 0 (or less) never lets anything through (upstream's fake "never" limiter).
 */
export class TokenBucket {
  readonly qps: number;
  readonly #burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #last: number;

  constructor(qps: number, burst: number, clock: Clock) {
    this.qps = qps;
    this.#burst = burst;
    this.#clock = clock;
    this.#tokens = qps > 0 ? burst : 0;
    this.#last = clock.now();
  }

  #refill(): void {
    const now = this.#clock.now();
    if (this.qps > 0) this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.qps);
    this.#last = now;
  }

  /** Takes a token if one is there. */
  tryAccept(): boolean {
    this.#refill();
    if (this.qps <= 0 || this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Whether a token is there, without taking it. */
  get ready(): boolean {
    this.#refill();
    return this.qps > 0 && this.#tokens >= 1;
  }
}

/** What an action on a queued value says: done, or try again after `retryAfterMs`. */
export type ActionResult = { readonly done: true } | { readonly done: false; readonly retryAfterMs: number };

interface Item { readonly value: string; readonly uid: string; processAt: number; readonly addedAt: number }

/**
 * Upstream's RateLimitedTimedQueue: a set of values (node names) processed in the order they were
 * added, each only when it is due and the queue's limiter has a token. One per zone, so a zone that
 * loses many nodes at once taints them at the zone's eviction rate.
 */
export class RateLimitedTimedQueue {
  readonly #clock: Clock;
  #limiter: TokenBucket;
  #items: Item[] = [];

  constructor(qps: number, clock: Clock) {
    this.#clock = clock;
    this.#limiter = new TokenBucket(qps, evictionBurst, clock);
  }

  get qps(): number { return this.#limiter.qps; }
  get length(): number { return this.#items.length; }
  has(value: string): boolean { return this.#items.some((i) => i.value === value); }
  values(): string[] { return this.#items.map((i) => i.value); }

  /** Adds a value unless it is queued already; true when added. */
  add(value: string, uid: string): boolean {
    if (this.has(value)) return false;
    const now = this.#clock.now();
    this.#items.push({ value, uid, processAt: now, addedAt: now });
    return true;
  }

  /** Removes a value; true when it was queued. */
  remove(value: string): boolean {
    const n = this.#items.length;
    this.#items = this.#items.filter((i) => i.value !== value);
    return this.#items.length !== n;
  }

  /**
   * Changes the rate (upstream's SwapLimiter). A new bucket starts full, unless the old one was empty,
   * in which case the new one starts empty too: swapping cannot be used to skip the wait.
   */
  swapLimiter(qps: number): void {
    if (this.#limiter.qps === qps) return;
    const next = new TokenBucket(qps, evictionBurst, this.#clock);
    if (qps > 0 && !this.#limiter.tryAccept()) next.tryAccept();
    this.#limiter = next;
  }

  /**
   * Processes due values in order while the limiter has tokens (upstream's Try): each `action` either
   * finishes the value (removed) or asks for a retry later (kept, due again after `retryAfterMs`).
   */
  async try(action: (value: string, uid: string) => Promise<ActionResult>): Promise<void> {
    for (;;) {
      const head = this.#earliest();
      if (!head || head.processAt > this.#clock.now()) return;
      if (!this.#limiter.tryAccept()) return;
      const r = await action(head.value, head.uid);
      if (r.done) this.remove(head.value);
      else head.processAt = this.#clock.now() + r.retryAfterMs + 1;
    }
  }

  /** The value due first (ties: the one added first), as upstream's heap orders them. */
  #earliest(): Item | undefined {
    let best: Item | undefined;
    for (const i of this.#items) if (!best || i.processAt < best.processAt || (i.processAt === best.processAt && i.addedAt < best.addedAt)) best = i;
    return best;
  }
}

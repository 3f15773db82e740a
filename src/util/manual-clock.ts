import type { Clock } from './clock.js';

/** A clock that only moves when told to, running due timers as it goes (for tests of timing logic). */
export class ManualClock implements Clock {
  t: number;
  #timers: { at: number; fn: () => void; cancelled: boolean }[] = [];

  constructor(start = 1_000_000) {
    this.t = start;
  }

  now(): number { return this.t; }

  setTimeout(fn: () => void, ms: number): { cancel(): void } {
    const timer = { at: this.t + ms, fn, cancelled: false };
    this.#timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.#timers.filter((x) => !x.cancelled && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.t = Math.max(this.t, due.at);
      due.cancelled = true;
      due.fn();
    }
    this.#timers = this.#timers.filter((x) => !x.cancelled);
    this.t = end;
  }
}

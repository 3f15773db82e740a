import type { Clock } from '../util/clock.js';

interface Entry { backoffMs: number; lastUpdate: number }

/**
 * kubelet's restart back-off (client-go flowcontrol.Backoff as kubelet uses it): the first restart is
 * immediate; after that a container may restart only once `backoff` has passed since its last exit,
 * the back-off doubling from 10 s to at most 5 min, and starting over when the previous exit is more
 * than twice the maximum (10 min) in the past.
 */
export class Backoff {
  readonly #entries = new Map<string, Entry>();
  constructor(readonly clock: Clock, readonly initialMs = 10_000, readonly maxMs = 300_000) {}

  /** Still waiting: less than the current back-off has passed since `since` (the last exit). */
  inBackoffSince(key: string, since: number): boolean {
    const e = this.#entries.get(key);
    if (!e) return false;
    if (this.#expired(e, since)) return false;
    return this.clock.now() - since < e.backoffMs;
  }

  /** The current back-off for `key` (0 when none). */
  current(key: string): number {
    return this.#entries.get(key)?.backoffMs ?? 0;
  }

  /** Records a restart after the exit at `eventTime`: the next wait doubles. */
  next(key: string, eventTime: number): void {
    const e = this.#entries.get(key);
    if (!e || this.#expired(e, eventTime)) this.#entries.set(key, { backoffMs: this.initialMs, lastUpdate: eventTime });
    else this.#entries.set(key, { backoffMs: Math.min(e.backoffMs * 2, this.maxMs), lastUpdate: eventTime });
  }

  /** When the wait started at `since` is over (for scheduling a wake-up). */
  readyAt(key: string, since: number): number {
    return since + this.current(key);
  }

  forget(prefix: string): void {
    for (const k of this.#entries.keys()) if (k.startsWith(prefix)) this.#entries.delete(k);
  }

  #expired(e: Entry, eventTime: number): boolean {
    return eventTime - e.lastUpdate > 2 * this.maxMs;
  }
}

/** A duration as Go prints it (`10s`, `1m20s`, `5m0s`), as the CrashLoopBackOff message shows it. */
export function goDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60}s`;
  return `${Math.floor(m / 60)}h${m % 60}m${s % 60}s`;
}

import { LruMap } from '../util/lru.js';

/** The parts of an Event the correlator looks at. */
export interface EventFacts {
  readonly component: string;
  readonly host: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly apiVersion: string;
  readonly fieldPath: string;
  readonly type: string;
  readonly reason: string;
  readonly message: string;
}

/** What to write: a new Event, or a patch of the one written earlier under the same key. */
export type Correlated =
  | { readonly skip: true }
  | {
    readonly skip: false;
    readonly message: string;
    readonly count: number;
    /** Set when an earlier Event is to be patched (count, lastTimestamp, message). */
    readonly existing?: { readonly name: string; readonly firstTimestamp: string };
    /** Key under which to remember the Event once written. */
    readonly key: string;
  };

const cacheSize = 4096;
/** Similar events (same object, type and reason, different messages) beyond this many in the window are combined. */
const aggregateMaxEvents = 10;
const aggregateIntervalMs = 600_000;
/** Per source and object: a burst of 25 events, then one every 5 minutes. */
const spamBurst = 25;
const spamPerMs = 1 / 300_000;

interface Observation { name: string; count: number; firstTimestamp: string }

/**
 * client-go's EventCorrelator: aggregation of similar events into one "(combined from similar events)"
 * Event, counting of identical ones, and a per source+object token bucket that drops the long tail —
 * so a controller creating 1,000 pods writes a few dozen Events, not a thousand, exactly as upstream's
 * do and as `kubectl describe` users know them.
 */
export class EventCorrelator {
  readonly #aggregates = new LruMap<string, { messages: Set<string>; last: number }>(cacheSize);
  readonly #observed = new LruMap<string, Observation>(cacheSize);
  readonly #buckets = new LruMap<string, { tokens: number; at: number }>(cacheSize);

  correlate(e: EventFacts, now: number): Correlated {
    const object = [e.component, e.host, e.kind, e.namespace, e.name, e.uid, e.apiVersion];
    // Aggregation: a new record when the last similar event is older than the interval.
    const aggregateKey = [...object, e.type, e.reason].join('\u0000');
    let agg = this.#aggregates.get(aggregateKey);
    if (!agg || now - agg.last > aggregateIntervalMs) agg = { messages: new Set(), last: now };
    agg.messages.add(e.message);
    agg.last = now;
    this.#aggregates.set(aggregateKey, agg);
    let key = [...object, e.fieldPath, e.type, e.reason, e.message].join('\u0000');
    let message = e.message;
    if (agg.messages.size >= aggregateMaxEvents) {
      agg.messages.delete(agg.messages.values().next().value as string);
      key = aggregateKey;
      message = `(combined from similar events): ${e.message}`;
    }
    // Counting: the same key again patches the earlier Event. Recorded before the spam filter, as upstream.
    const seen = this.#observed.get(key);
    const count = (seen?.count ?? 0) + 1;
    if (seen) this.#observed.set(key, { ...seen, count });
    // Spam filter: per source and object, whatever the reason.
    const spamKey = object.join('\u0000');
    const b = this.#buckets.get(spamKey) ?? { tokens: spamBurst, at: now };
    b.tokens = Math.min(spamBurst, b.tokens + (now - b.at) * spamPerMs);
    b.at = now;
    this.#buckets.set(spamKey, b);
    if (b.tokens < 1) return { skip: true };
    b.tokens -= 1;
    return { skip: false, message, count, key, ...(seen ? { existing: { name: seen.name, firstTimestamp: seen.firstTimestamp } } : {}) };
  }

  /** Remembers the Event the server now holds under `key` (after a create or patch succeeded). */
  written(key: string, o: Observation): void {
    this.#observed.set(key, o);
  }

  /** The Event under `key` is gone (a patch found nothing): the next occurrence creates a new one. */
  forget(key: string): void {
    this.#observed.delete(key);
  }
}

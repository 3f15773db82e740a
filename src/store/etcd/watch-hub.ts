import { CompactedError, eventKey, eventRev, prefixEnd, type WatchEvent, type WatchHandle } from '../store.js';
import { silentLogger, type Logger } from '../../util/log.js';
import type { EtcdConnection } from './connection.js';
import { KeyspaceWatch } from './keyspace-watch.js';
import { trimHistory } from '../history.js';

interface Subscriber {
  readonly prefix: string;
  readonly end: string;
  readonly sink: (batch: WatchEvent[]) => void;
  readonly onError: (e: Error) => void;
  /** Every revision up to this one has been given to the subscriber. */
  delivered: number;
  /** Set while the subscriber replays history older than the hub's buffer on a watch of its own. */
  catchup: KeyspaceWatch | undefined;
  closed: boolean;
}

interface Waiter { readonly rev: number; resolve(reached: boolean): void }

/**
 * Fans one whole-keyspace etcd watch out to every `Store.watch` of the process (storage.md §6.4). Because it
 * sees every revision, a subscriber whose prefix had nothing in a revision still learns the store moved on (a
 * `progress` mark), without etcd's RequestProgress, which 3.4.23 cannot be trusted with. Recent events are
 * kept, so a watch starting a little in the past replays from memory at once; one starting further back
 * replays on a watch of its own until it has caught up, then joins the shared feed.
 */
export class WatchHub {
  readonly #conn: EtcdConnection;
  readonly #log: Logger;
  readonly #historySize: number;
  #feed: KeyspaceWatch;
  /** Every revision up to this one has been delivered to live subscribers. */
  #rev: number;
  /** The revision of the last event the feed delivered (progress marks do not move it). */
  #lastEventRev: number;
  /** Every event with a revision in (#historyFrom, #rev] is in #history. */
  #history: WatchEvent[] = [];
  #historyFrom: number;
  #subscribers = new Set<Subscriber>();
  #waiters: Waiter[] = [];
  #expected = 0;
  #staleTimer: NodeJS.Timeout | undefined;
  #closed = false;

  readonly #adopt: ((key: string, value: Uint8Array) => Uint8Array | undefined) | undefined;

  /**
   * `adopt` may hand back, for a put the feed received, the very buffer this process wrote with those bytes: the
   * event then carries it, as SQLite's events carry the writer's value, so layers above that recognise their
   * own writes by identity (the API's codec) do not parse them again.
   */
  constructor(conn: EtcdConnection, fromRev: number, o: { log?: Logger; historySize?: number; adopt?: (key: string, value: Uint8Array) => Uint8Array | undefined } = {}) {
    this.#conn = conn;
    this.#adopt = o.adopt;
    this.#log = o.log ?? silentLogger;
    this.#historySize = o.historySize ?? 5000;
    this.#rev = fromRev;
    this.#lastEventRev = fromRev;
    this.#historyFrom = fromRev;
    this.#feed = this.#follow(fromRev);
  }

  /** The revision the shared feed has delivered up to. */
  get rev(): number {
    return this.#rev;
  }

  /** Whether the shared feed is connected (writes then wait for it; while it reconnects they do not). */
  get live(): boolean {
    return this.#feed.live;
  }

  /** Resolves true once the shared feed is connected, or false after `timeoutMs`. */
  waitLive(timeoutMs: number): Promise<boolean> {
    return this.#feed.waitLive(timeoutMs);
  }

  #follow(fromRev: number): KeyspaceWatch {
    return new KeyspaceWatch(this.#conn, fromRev, {
      events: (batch, lastRev) => this.#publish(batch, lastRev),
      progress: (rev) => this.#progress(rev),
      compacted: (compactRev) => this.#lost(compactRev),
    }, this.#log);
  }

  /** Delivers events after `fromRev` under `prefix`, in order, with progress marks. See Store.watch. */
  subscribe(prefix: string, fromRev: number, sink: (batch: WatchEvent[]) => void, onError: (e: Error) => void): WatchHandle {
    const s: Subscriber = { prefix, end: prefixEnd(prefix), sink, onError, delivered: fromRev, catchup: undefined, closed: false };
    const close = (): void => {
      s.closed = true;
      s.catchup?.close();
      this.#subscribers.delete(s);
    };
    if (fromRev >= this.#historyFrom) {
      // Replay from memory now, then follow the feed from where it is.
      this.#deliver(s, this.#history.filter((e) => eventRev(e) > fromRev), this.#rev);
      this.#subscribers.add(s);
      return { close };
    }
    this.#subscribers.add(s);
    s.catchup = new KeyspaceWatch(this.#conn, fromRev, {
      events: (batch, lastRev) => { this.#deliver(s, batch, lastRev); this.#maybeJoin(s); },
      progress: (rev) => { this.#deliver(s, [], rev); this.#maybeJoin(s); },
      compacted: (compactRev) => { close(); s.onError(new CompactedError(s.delivered, compactRev)); },
    }, this.#log);
    return { close };
  }

  /** A catching-up subscriber that has reached the feed's last event leaves its own watch and joins the feed. */
  #maybeJoin(s: Subscriber): void {
    if (s.closed || !s.catchup || s.delivered < this.#lastEventRev) return;
    s.catchup.close();
    s.catchup = undefined;
    if (s.delivered < this.#rev) this.#deliver(s, [], this.#rev);
  }

  /** Gives a subscriber the events of `batch` under its prefix that it has not seen, and a mark for `throughRev`. */
  #deliver(s: Subscriber, batch: readonly WatchEvent[], throughRev: number): void {
    if (s.closed || throughRev <= s.delivered) return;
    const mine: WatchEvent[] = [];
    for (const e of batch) {
      const key = eventKey(e);
      if (key !== undefined && key >= s.prefix && key < s.end && eventRev(e) > s.delivered) mine.push(e);
    }
    const last = mine[mine.length - 1];
    if (!last || eventRev(last) < throughRev) mine.push({ type: 'progress', rev: throughRev });
    s.delivered = throughRev;
    try {
      s.sink(mine);
    } catch (e) {
      this.#log.error('watch sink failed', { err: e as Error, prefix: s.prefix });
    }
  }

  #publish(batch: WatchEvent[], lastRev: number): void {
    if (this.#adopt) {
      for (let i = 0; i < batch.length; i++) {
        const e = batch[i]!;
        if (e.type !== 'put') continue;
        const own = this.#adopt(e.kv.key, e.kv.value);
        if (own) batch[i] = { ...e, kv: { ...e.kv, value: own } };
      }
    }
    this.#history.push(...batch);
    const dropped = trimHistory(this.#history, this.#historySize);
    if (dropped) this.#historyFrom = eventRev(dropped);
    this.#rev = lastRev;
    this.#lastEventRev = lastRev;
    for (const s of this.#subscribers) if (!s.catchup) this.#deliver(s, batch, lastRev);
    this.#wake();
  }

  #progress(rev: number): void {
    // Nothing happened between the last event and `rev`: the history is still complete up to it.
    this.#rev = rev;
    for (const s of this.#subscribers) if (!s.catchup) this.#deliver(s, [], rev);
    this.#wake();
  }

  /** The feed could not resume: its history was compacted. Every live subscriber has lost events. */
  #lost(compactRev: number): void {
    this.#log.error('etcd watch fell behind compaction; watchers must start again', { rev: this.#rev, compactRev });
    for (const s of [...this.#subscribers]) {
      if (s.catchup) continue;
      s.closed = true;
      this.#subscribers.delete(s);
      s.onError(new CompactedError(s.delivered, compactRev));
    }
    this.#history = [];
    this.#rev = compactRev;
    this.#lastEventRev = compactRev;
    this.#historyFrom = compactRev;
    if (!this.#closed) this.#feed = this.#follow(compactRev);
  }

  /**
   * The deletion of `key` that removed its version `prevModRev`, if the recent history holds it (the feed asks for
   * previous values, so each delete says which version it removed).
   */
  deletedVersion(key: string, prevModRev: number): (WatchEvent & { type: 'delete' }) | undefined {
    for (let i = this.#history.length - 1; i >= 0; i--) {
      const e = this.#history[i]!;
      if (e.type === 'delete' && e.key === key && e.prev?.modRev === prevModRev) return e;
    }
    return undefined;
  }

  #wake(): void {
    if (this.#waiters.length > 0) this.#waiters = this.#waiters.filter((w) => (w.rev <= this.#rev ? (w.resolve(true), false) : true));
    if (this.#staleTimer && this.#rev >= this.#expected) {
      clearTimeout(this.#staleTimer);
      this.#staleTimer = undefined;
    }
  }

  /**
   * Resolves true once the feed has delivered `rev` (so every watcher has seen a write before its writer
   * hears back), false after `timeoutMs`.
   */
  waitFor(rev: number, timeoutMs: number): Promise<boolean> {
    if (this.#rev >= rev || this.#closed) return Promise.resolve(this.#rev >= rev);
    this.expect(rev);
    return new Promise((resolve) => {
      const w: Waiter = { rev, resolve: (ok) => { clearTimeout(t); resolve(ok); } };
      const t = setTimeout(() => {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        resolve(false);
      }, timeoutMs);
      this.#waiters.push(w);
    });
  }

  /**
   * Says the store has committed `rev`. If the feed has not delivered it a second later, its stream is taken to
   * be stuck (a frozen member keeps a connection open) and is reopened, on any member.
   */
  expect(rev: number): void {
    if (rev <= this.#rev || this.#closed) return;
    this.#expected = Math.max(this.#expected, rev);
    if (this.#staleTimer) return;
    this.#staleTimer = setTimeout(() => {
      this.#staleTimer = undefined;
      if (this.#rev < this.#expected) {
        this.#feed.restart(`revision ${this.#expected} committed but the watch is at ${this.#rev}`);
        this.expect(this.#expected);
      }
    }, 1000);
    this.#staleTimer.unref();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#staleTimer);
    this.#feed.close();
    for (const s of this.#subscribers) { s.closed = true; s.catchup?.close(); }
    this.#subscribers.clear();
    for (const w of this.#waiters) w.resolve(false);
    this.#waiters = [];
  }
}

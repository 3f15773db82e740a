import type { IDuplexStream, IEvent, IWatchRequest, IWatchResponse } from 'etcd3';
import { eventRev, type WatchEvent } from '../store.js';
import { silentLogger, type Logger } from '../../util/log.js';
import type { EtcdConnection } from './connection.js';
import { classify, describe } from './errors.js';
import { num, optionalKV, toKV } from './kv.js';

/** What a keyspace watch reports. */
export interface KeyspaceWatchHandlers {
  /** Every event of one or more whole revisions, in revision order; `lastRev` is the last one's revision. */
  events(batch: WatchEvent[], lastRev: number): void;
  /** Nothing at or below `rev` is still to come (etcd's progress notification). */
  progress(rev: number): void;
  /** History after the watch's position was compacted away; the watch has stopped. */
  compacted(compactRev: number): void;
}

function toEvent(e: IEvent): WatchEvent {
  const prev = optionalKV(e.prev_kv);
  // The client's proto names the enum values `Put` and `Delete`; accept etcd's own spelling too.
  if (String(e.type).toLowerCase() === 'delete') return { type: 'delete', key: e.kv.key.toString('utf8'), modRev: num(e.kv.mod_revision), prev };
  return prev ? { type: 'put', kv: toKV(e.kv), prev } : { type: 'put', kv: toKV(e.kv) };
}

/** etcd's "from the start" and "to the end": the whole keyspace. */
const everything = Buffer.from([0]);

/**
 * One raw etcd watch over the whole keyspace (`key = range_end = "\0"`), with previous values and progress
 * notifications, delivering every revision after `fromRev` exactly once and in order. It reads the raw stream
 * because the `etcd3` watcher hides `compact_revision`. A stream that fails, ends, or is not acknowledged in
 * time is reopened — on whichever member the pool picks — from the last revision delivered.
 */
export class KeyspaceWatch {
  readonly #conn: EtcdConnection;
  readonly #on: KeyspaceWatchHandlers;
  readonly #log: Logger;
  readonly #ackTimeoutMs: number;
  #rev: number;
  #stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined;
  #ackTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #backoff = 50;
  #closed = false;
  #live = false;
  #liveWaiters: (() => void)[] = [];
  #generation = 0;

  constructor(conn: EtcdConnection, fromRev: number, on: KeyspaceWatchHandlers, log: Logger = silentLogger) {
    this.#conn = conn;
    this.#rev = fromRev;
    this.#on = on;
    this.#log = log;
    this.#ackTimeoutMs = Math.min(conn.requestTimeoutMs, 3000);
    void this.#open();
  }

  /** Every revision up to this one has been delivered. */
  get rev(): number {
    return this.#rev;
  }

  /** True while a stream is open and etcd has acknowledged it. */
  get live(): boolean {
    return this.#live;
  }

  /** Resolves true once live, or false after `timeoutMs`. */
  waitLive(timeoutMs: number): Promise<boolean> {
    if (this.#live) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.#liveWaiters.push(() => { clearTimeout(t); resolve(true); });
    });
  }

  /**
   * Drops the current stream and opens a new one from where it was (a stream that seems stuck), or cuts a
   * pending back-off short (the cluster just answered someone else).
   */
  restart(reason: string): void {
    if (this.#closed) return;
    if (this.#stream) {
      this.#log.warn('etcd watch restarted', { reason, rev: this.#rev });
      this.#drop();
    }
    this.#scheduleOpen(0);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#drop();
  }

  #drop(): void {
    clearTimeout(this.#ackTimer);
    this.#live = false;
    this.#generation++;
    const s = this.#stream;
    this.#stream = undefined;
    if (s) {
      try { s.cancel(); } catch { /* already gone */ }
    }
  }

  #scheduleOpen(delay: number): void {
    if (this.#closed) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.#open(), delay);
  }

  #failed(generation: number, why: string, unsent = false): void {
    if (generation !== this.#generation || this.#closed) return;
    this.#drop();
    // Asking a pool whose members are all benched costs nothing: ask again soon rather than backing off.
    const delay = unsent ? 100 : this.#backoff;
    if (!unsent) this.#backoff = Math.min(this.#backoff * 2, 2000);
    this.#log.warn('etcd watch interrupted, resuming', { reason: why, rev: this.#rev, retryMs: delay });
    this.#scheduleOpen(delay);
  }

  async #open(): Promise<void> {
    if (this.#closed || this.#conn.closed) return;
    const generation = ++this.#generation;
    let stream: IDuplexStream<IWatchRequest, IWatchResponse>;
    try {
      stream = await this.#conn.client.watchClient.watch();
    } catch (e) {
      this.#failed(generation, describe(e), classify(e) === 'unsent');
      return;
    }
    if (generation !== this.#generation || this.#closed) {
      try { stream.cancel(); } catch { /* gone */ }
      return;
    }
    this.#stream = stream;
    stream.on('data', (r: IWatchResponse) => this.#response(generation, r));
    stream.on('error', (e: Error) => this.#failed(generation, describe(e)));
    stream.on('end', () => this.#failed(generation, 'stream ended'));
    // A member that accepts the stream but never answers (frozen, partitioned) is left for another.
    this.#ackTimer = setTimeout(() => this.#failed(generation, `no answer within ${this.#ackTimeoutMs} ms`), this.#ackTimeoutMs);
    stream.write({
      create_request: { key: everything, range_end: everything, start_revision: String(this.#rev + 1), prev_kv: true, progress_notify: true },
    });
  }

  #response(generation: number, r: IWatchResponse): void {
    if (generation !== this.#generation || this.#closed) return;
    if (r.created) {
      clearTimeout(this.#ackTimer);
      this.#backoff = 50;
      this.#live = true;
      for (const w of this.#liveWaiters.splice(0)) w();
    }
    if (r.canceled) {
      const compactRev = num(r.compact_revision);
      if (compactRev > 0) {
        this.#log.warn('etcd watch position compacted', { rev: this.#rev, compactRev });
        this.close();
        this.#on.compacted(compactRev);
        return;
      }
      this.#failed(generation, `canceled by etcd: ${r.cancel_reason || 'no reason given'}`);
      return;
    }
    const events = (r.events ?? []).map(toEvent).filter((e) => eventRev(e) > this.#rev);
    if (events.length > 0) {
      const lastRev = eventRev(events[events.length - 1]!);
      this.#rev = lastRev;
      this.#on.events(events, lastRev);
    } else if (!r.created && (r.events ?? []).length === 0) {
      // A progress notification: every revision up to the header's has been sent. (The `created` answer's
      // header is the store's revision when the watch was made, not a promise that history up to it was sent.)
      const rev = num(r.header?.revision);
      if (rev > this.#rev) {
        this.#rev = rev;
        this.#on.progress(rev);
      }
    }
  }
}

import type { IKeyValue } from 'etcd3';
import { FutureRevisionError, type WatchEvent } from '../store.js';
import { silentLogger, type Logger } from '../../util/log.js';
import type { EtcdConnection } from './connection.js';
import { classify } from './errors.js';
import { keyBytes, num } from './kv.js';

/** Where the compaction point is recorded, outside `/registry/` (upstream keeps its `compact_rev_key` there too). */
export const compactKey = '/skiff/compacted-revision';

const dec = new TextDecoder();

/**
 * What this process knows of etcd's compaction point, and how it moves it. etcd has no call that tells the
 * point, so it comes from three places: the value recorded under `compactKey` by whoever compacted through a
 * skiff store (read at start, then followed on the watch feed), reads etcd refused as compacted, and our own
 * compactions. It never moves back.
 */
export class Compaction {
  readonly #conn: EtcdConnection;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  #rev = 0;
  #recordModRev = 0;
  #queue: Promise<void> = Promise.resolve();

  constructor(conn: EtcdConnection, o: { log?: Logger; timeoutMs?: number } = {}) {
    this.#conn = conn;
    this.#log = o.log ?? silentLogger;
    this.#timeoutMs = o.timeoutMs ?? 60_000;
  }

  /** Revisions below this one are gone (reads at it still work). */
  get rev(): number {
    return this.#rev;
  }

  /** Takes the recorded point read at start (the key-value under `compactKey`, if any). */
  load(kv: IKeyValue | undefined): void {
    if (!kv) return;
    this.learn(Number(kv.value.toString()) || 0);
    this.#recordModRev = num(kv.mod_revision);
  }

  /** Notes that etcd has compacted at least up to `rev`. */
  learn(rev: number): void {
    if (rev > this.#rev) this.#rev = rev;
  }

  /** Follows the recorded point on the watch feed (compactions by other servers). */
  observe(batch: readonly WatchEvent[]): void {
    for (const e of batch) if (e.type === 'put' && e.kv.key === compactKey) this.learn(Number(dec.decode(e.kv.value)) || 0);
  }

  /**
   * Compacts etcd's history to `rev` (physically, so reads below it fail once this resolves) and records the
   * point. Serialised within the process; a point another server already passed is not an error. Servers sharing
   * etcd take turns as kube-apiserver's compactors do: a round is claimed by moving the record on from the version
   * this server last saw, so when another server has compacted since, this round is skipped (this server now knows
   * the record, and the next round is its to claim if nobody else claims it first).
   */
  compact(rev: number, currentRev: () => Promise<number>): Promise<void> {
    this.#queue = this.#queue.catch(() => {}).then(() => this.#compactTo(rev, currentRev));
    return this.#queue;
  }

  async #compactTo(rev: number, currentRev: () => Promise<number>): Promise<void> {
    if (rev <= this.#rev) return;
    const current = await currentRev();
    if (rev > current) throw new FutureRevisionError(rev, current);
    const started = Date.now();
    const claimed = await this.#claim(rev);
    if (claimed !== true) {
      this.#log.info('compaction skipped: another server compacted since this one last looked', { rev, recorded: claimed });
      return;
    }
    try {
      await this.#conn.call('compact', (o) => this.#conn.client.kv.compact({ revision: rev, physical: true }, o), this.#timeoutMs);
    } catch (e) {
      const kind = classify(e);
      if (kind === 'future') throw new FutureRevisionError(rev, await currentRev().catch(() => 0));
      if (kind !== 'compacted') throw e;
    }
    this.learn(rev);
    this.#log.info('compacted', { rev, ms: Date.now() - started });
  }

  /**
   * Claims a round: writes `rev` under `compactKey` if the record is still the version this server last saw
   * (compare-and-swap on its revision). True when claimed; otherwise the point recorded there, now known.
   */
  async #claim(rev: number): Promise<true | number> {
    const k = keyBytes(compactKey);
    const { value: r, ambiguous } = await this.#conn.call('claim compaction', (o) => this.#conn.client.kv.txn({
      compare: [{ key: k, target: 'Mod', result: 'Equal', mod_revision: this.#recordModRev }],
      success: [{ request_put: { key: k, value: Buffer.from(String(rev)) } }],
      failure: [{ request_range: { key: k } }],
    }, o));
    if (r.succeeded) {
      this.#recordModRev = num(r.header.revision);
      return true;
    }
    const kv = r.responses[0]?.response_range?.kvs[0];
    this.#recordModRev = num(kv?.mod_revision);
    const recorded = Number(kv?.value.toString() ?? 0) || 0;
    // A retried claim whose first attempt landed finds our own point (another server's equal one is as good).
    if (ambiguous && recorded === rev) return true;
    this.learn(recorded);
    return recorded;
  }

  /** Waits for a compaction in progress. */
  async settled(): Promise<void> {
    await this.#queue.catch(() => {});
  }
}

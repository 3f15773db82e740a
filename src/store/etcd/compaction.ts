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
   * point. Serialised within the process; a point another server already passed is not an error.
   */
  compact(rev: number, currentRev: () => Promise<number>): Promise<void> {
    this.#queue = this.#queue.catch(() => {}).then(() => this.#compactTo(rev, currentRev));
    return this.#queue;
  }

  async #compactTo(rev: number, currentRev: () => Promise<number>): Promise<void> {
    if (rev <= this.#rev) return;
    const started = Date.now();
    try {
      await this.#conn.call('compact', (o) => this.#conn.client.kv.compact({ revision: rev, physical: true }, o), this.#timeoutMs);
    } catch (e) {
      const kind = classify(e);
      if (kind === 'future') throw new FutureRevisionError(rev, await currentRev().catch(() => 0));
      if (kind !== 'compacted') throw e;
    }
    this.learn(rev);
    await this.#record(rev);
    this.#log.info('compacted', { rev, ms: Date.now() - started });
  }

  /** Writes the point under `compactKey` unless a later one is there already (compare-and-swap on its revision). */
  async #record(rev: number): Promise<void> {
    const k = keyBytes(compactKey);
    for (let attempt = 0; attempt < 5; attempt++) {
      const { value: r } = await this.#conn.call('record compaction', (o) => this.#conn.client.kv.txn({
        compare: [{ key: k, target: 'Mod', result: 'Equal', mod_revision: this.#recordModRev }],
        success: [{ request_put: { key: k, value: Buffer.from(String(rev)) } }],
        failure: [{ request_range: { key: k } }],
      }, o));
      if (r.succeeded) {
        this.#recordModRev = num(r.header.revision);
        return;
      }
      const current = r.responses[0]?.response_range?.kvs[0];
      this.#recordModRev = num(current?.mod_revision);
      const recorded = Number(current?.value.toString() ?? 0) || 0;
      this.learn(recorded);
      if (recorded >= rev) return;
    }
  }

  /** Waits for a compaction in progress. */
  async settled(): Promise<void> {
    await this.#queue.catch(() => {});
  }
}

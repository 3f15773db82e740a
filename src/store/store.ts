/**
 * The storage contract every backend implements (SQLite by default, etcd for HA).
 *
 * One global, strictly increasing integer revision orders every write; it becomes an object's
 * `metadata.resourceVersion`. Writes are compare-and-swap on a key's `modRev`. Watches deliver every
 * change after a revision, in revision order, with no gaps.
 */

/** One stored key at one revision. */
export interface KV {
  readonly key: string;
  readonly value: Uint8Array;
  /** Revision of the write that created this incarnation of the key. */
  readonly createRev: number;
  /** Revision of the last write to the key. */
  readonly modRev: number;
  /** Lease the key is attached to, 0 for none. */
  readonly lease: number;
}

/** A change seen by a watch. `progress` means: nothing at or below `rev` is still to come. */
export type WatchEvent =
  | { readonly type: 'put'; readonly kv: KV; readonly prev?: KV }
  | { readonly type: 'delete'; readonly key: string; readonly modRev: number; readonly prev?: KV }
  | { readonly type: 'progress'; readonly rev: number };

export interface ListOptions {
  /** Keys starting with this prefix; a prefix should end in `/` so `/a` does not match `/ab`. */
  readonly prefix: string;
  /** Read the state as of this revision; latest when absent. */
  readonly rev?: number;
  /** At most this many keys (0 or absent: no limit). */
  readonly limit?: number;
  /** Only keys strictly greater than this one (paging). */
  readonly startAfter?: string;
}

export interface ListResult {
  readonly kvs: KV[];
  /** The revision the list was read at. */
  readonly rev: number;
  /** True when keys remain after the last one returned. */
  readonly more: boolean;
}

/** Result of a conditional write: the new KV, or the current one (if any) when the compare failed. */
export type WriteResult =
  | { readonly ok: true; readonly kv: KV; readonly prev?: KV }
  | { readonly ok: false; readonly current?: KV; readonly rev: number };

/** The requested revision has been compacted away (the API answers 410 Gone). */
export class CompactedError extends Error {
  constructor(readonly requested: number, readonly compactRev: number) {
    super(`revision ${requested} has been compacted (compacted up to ${compactRev})`);
    this.name = 'CompactedError';
  }
}

/** The requested revision is newer than anything the store has committed. */
export class FutureRevisionError extends Error {
  constructor(readonly requested: number, readonly currentRev: number) {
    super(`revision ${requested} is in the future (current ${currentRev})`);
    this.name = 'FutureRevisionError';
  }
}

/** The store is closed or failed; the operation did not take effect. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** A running watch; `close` stops delivery (idempotent). */
export interface WatchHandle { close(): void }

export interface Store {
  /** The latest committed revision, linearisable: reflects every write acknowledged before the call. */
  currentRev(): Promise<number>;
  /** Revisions at or below this have been compacted. */
  compactRev(): number;
  get(key: string, rev?: number): Promise<{ kv?: KV; rev: number }>;
  list(options: ListOptions): Promise<ListResult>;
  /** Writes the key only if it does not exist. */
  create(key: string, value: Uint8Array, lease?: number): Promise<WriteResult>;
  /** Writes the key only if its `modRev` is `expectModRev`. */
  update(key: string, value: Uint8Array, expectModRev: number, lease?: number): Promise<WriteResult>;
  /** Deletes the key, only if its `modRev` is `expectModRev` when that is given. */
  delete(key: string, expectModRev?: number): Promise<WriteResult>;
  /**
   * Delivers every event for keys under `prefix` with revision > `fromRev`, in order, batched by
   * commit. Throws CompactedError when `fromRev` is below the compaction point.
   */
  watch(prefix: string, fromRev: number, sink: (batch: WatchEvent[]) => void, onError: (e: Error) => void): WatchHandle;
  /**
   * Drops history at or below `rev`, keeping the latest version of each live key. Idempotent. On a store several
   * servers share (etcd), a server that finds another has compacted since it last looked leaves this round to it.
   */
  compact(rev: number): Promise<void>;
  /** A lease: keys attached to it are deleted (with watch events) `ttlSeconds` after the grant. */
  grantLease(ttlSeconds: number): Promise<number>;
  close(): Promise<void>;
}

/** The revision of an event (`progress` marks carry theirs too). */
export function eventRev(e: WatchEvent): number {
  return e.type === 'put' ? e.kv.modRev : e.type === 'delete' ? e.modRev : e.rev;
}

/** The key an event is about; undefined for a progress mark. */
export function eventKey(e: WatchEvent): string | undefined {
  return e.type === 'put' ? e.kv.key : e.type === 'delete' ? e.key : undefined;
}

/** The first key greater than every key with this prefix. */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

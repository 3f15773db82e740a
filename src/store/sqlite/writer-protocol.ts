/** Messages between the SQLite store (main thread) and its writer thread. */

export type WriteOp =
  | { kind: 'create'; key: string; value: Uint8Array; lease: number }
  | { kind: 'update'; key: string; value: Uint8Array; expect: number; lease: number }
  | { kind: 'delete'; key: string; expect?: number };

/** A stored version as it crosses threads. */
export interface WireKV { key: string; value: Uint8Array; createRev: number; modRev: number; lease: number }

export type WriteOutcome =
  | { ok: true; createRev: number; modRev: number; prev?: WireKV }
  | { ok: false; current?: WireKV };

export type ToWriter =
  | { type: 'batch'; id: number; ops: WriteOp[] }
  | { type: 'compact'; id: number; from: number; to: number }
  | { type: 'grantLease'; id: number; expiresAt: number }
  | { type: 'dropLease'; id: number; lease: number }
  | { type: 'close'; id: number };

export type FromWriter =
  | { type: 'ready'; rev: number; compactRev: number }
  | { type: 'openFailed'; message: string }
  | { type: 'batchDone'; id: number; rev: number; outcomes: WriteOutcome[] }
  | { type: 'compacted'; id: number; deleted: number }
  | { type: 'leaseGranted'; id: number; lease: number }
  | { type: 'leaseDropped'; id: number }
  | { type: 'failed'; id: number; message: string }
  | { type: 'closed'; id: number };

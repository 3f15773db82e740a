import Database from 'better-sqlite3';
import type { Database as DB } from 'better-sqlite3';

/**
 * The kine-style layout: `log` is append-only (row id = revision; AUTOINCREMENT so a revision is
 * never reused, even after compaction removes the newest row), `current` maps each live key to its
 * latest row, `meta` holds the compaction point, `leases` the TTL grants.
 */
export const schemaSql = `
CREATE TABLE IF NOT EXISTS log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  created INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  lease INTEGER NOT NULL,
  value BLOB
);
CREATE INDEX IF NOT EXISTS log_name_id ON log(name, id);
CREATE INDEX IF NOT EXISTS log_prev ON log(prev_revision);
CREATE UNIQUE INDEX IF NOT EXISTS log_name_prev ON log(name, prev_revision);
CREATE TABLE IF NOT EXISTS current (name TEXT PRIMARY KEY, id INTEGER NOT NULL, lease INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS current_lease ON current(lease) WHERE lease != 0;
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (id INTEGER PRIMARY KEY AUTOINCREMENT, expires_at INTEGER NOT NULL);
`;

/** A row of `log`. */
export interface Row {
  id: number;
  name: string;
  created: number;
  deleted: number;
  create_revision: number;
  prev_revision: number;
  lease: number;
  value: Buffer | null;
}

/**
 * Opens the database in WAL mode with `synchronous=FULL`: a commit returns only once it is on disk.
 * The writer connection creates the schema; the reader connection waits up to 5 s for locks.
 */
export function openDatabase(path: string, role: 'writer' | 'reader'): DB {
  const db = new Database(path, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  if (role === 'writer') db.exec(schemaSql);
  return db;
}

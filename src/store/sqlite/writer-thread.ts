/**
 * The SQLite writer thread: applies batches of conditional writes in one transaction each and commits
 * them durably (fsync) off the main thread, so request handling goes on while the disk works. It is
 * the only writer of the database; revisions are assigned here, strictly in commit order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Database as DB, Statement } from 'better-sqlite3';
import { openDatabase, type Row } from './schema.js';
import type { FromWriter, ToWriter, WireKV, WriteOp, WriteOutcome } from './writer-protocol.js';

const port = parentPort!;
const post = (m: FromWriter): void => port.postMessage(m);

let db: DB;
try {
  db = openDatabase((workerData as { path: string }).path, 'writer');
} catch (e) {
  post({ type: 'openFailed', message: (e as Error).message });
  process.exit(0);
}

type StatementName = 'maxId' | 'getMeta' | 'setMeta' | 'current' | 'latestAny' | 'insert' | 'upsertCurrent' | 'deleteCurrent' | 'compactSuperseded' | 'compactTombstones' | 'grantLease' | 'dropLease';

const sql: Record<StatementName, string> = {
  maxId: `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'log'), 0) AS rev`,
  getMeta: `SELECT v FROM meta WHERE k = ?`,
  setMeta: `INSERT INTO meta(k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`,
  current: `SELECT l.* FROM current c JOIN log l ON l.id = c.id WHERE c.name = ?`,
  latestAny: `SELECT id FROM log WHERE name = ? ORDER BY id DESC LIMIT 1`,
  insert: `INSERT INTO log(id, name, created, deleted, create_revision, prev_revision, lease, value)
                      VALUES (@id, @name, @created, @deleted, @create_revision, @prev_revision, @lease, @value)`,
  upsertCurrent: `INSERT INTO current(name, id, lease) VALUES (?, ?, ?)
                             ON CONFLICT(name) DO UPDATE SET id = excluded.id, lease = excluded.lease`,
  deleteCurrent: `DELETE FROM current WHERE name = ?`,
  compactSuperseded: `DELETE FROM log WHERE id IN (SELECT prev_revision FROM log WHERE id > ? AND id <= ? AND prev_revision > 0)`,
  compactTombstones: `DELETE FROM log WHERE deleted = 1 AND id > ? AND id <= ?`,
  grantLease: `INSERT INTO leases(expires_at) VALUES (?)`,
  dropLease: `DELETE FROM leases WHERE id = ? AND NOT EXISTS (SELECT 1 FROM current WHERE lease = ?)`,
};
const st = Object.fromEntries(Object.entries(sql).map(([name, q]) => [name, db.prepare(q)])) as Record<StatementName, Statement>;

let rev = (st.maxId.get() as { rev: number }).rev;
post({ type: 'ready', rev, compactRev: (st.getMeta.get('compact_rev') as { v: number } | undefined)?.v ?? 0 });

const wire = (r: Row): WireKV => ({ key: r.name, value: r.value ?? new Uint8Array(), createRev: r.create_revision, modRev: r.id, lease: r.lease });
const buf = (v: Uint8Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

function apply(op: WriteOp): WriteOutcome {
  const cur = st.current.get(op.key) as Row | undefined;
  switch (op.kind) {
    case 'create': {
      if (cur) return { ok: false, current: wire(cur) };
      const tomb = st.latestAny.get(op.key) as { id: number } | undefined;
      const id = ++rev;
      st.insert.run({ id, name: op.key, created: 1, deleted: 0, create_revision: id, prev_revision: tomb?.id ?? 0, lease: op.lease, value: buf(op.value) });
      st.upsertCurrent.run(op.key, id, op.lease);
      return { ok: true, createRev: id, modRev: id };
    }
    case 'update': {
      if (!cur || cur.id !== op.expect) return { ok: false, current: cur ? wire(cur) : undefined };
      const id = ++rev;
      st.insert.run({ id, name: op.key, created: 0, deleted: 0, create_revision: cur.create_revision, prev_revision: cur.id, lease: op.lease, value: buf(op.value) });
      st.upsertCurrent.run(op.key, id, op.lease);
      return { ok: true, createRev: cur.create_revision, modRev: id, prev: wire(cur) };
    }
    case 'delete': {
      if (!cur || (op.expect !== undefined && cur.id !== op.expect)) return { ok: false, current: cur ? wire(cur) : undefined };
      const id = ++rev;
      st.insert.run({ id, name: op.key, created: 0, deleted: 1, create_revision: cur.create_revision, prev_revision: cur.id, lease: 0, value: null });
      st.deleteCurrent.run(op.key);
      return { ok: true, createRev: cur.create_revision, modRev: id, prev: wire(cur) };
    }
  }
}

const runBatch = db.transaction((ops: WriteOp[]) => ops.map(apply));
const compactRange = db.transaction((from: number, to: number) => {
  const n = st.compactSuperseded.run(from, to).changes + st.compactTombstones.run(from, to).changes;
  st.setMeta.run('compact_rev', to);
  return n;
});

port.on('message', (m: ToWriter) => {
  switch (m.type) {
    case 'batch': {
      const before = rev;
      try {
        const outcomes = runBatch(m.ops);
        post({ type: 'batchDone', id: m.id, rev, outcomes });
      } catch (e) {
        rev = before;
        post({ type: 'failed', id: m.id, message: (e as Error).message });
      }
      return;
    }
    case 'compact':
      try {
        post({ type: 'compacted', id: m.id, deleted: compactRange(m.from, m.to) });
      } catch (e) {
        post({ type: 'failed', id: m.id, message: (e as Error).message });
      }
      return;
    case 'grantLease':
      try {
        post({ type: 'leaseGranted', id: m.id, lease: Number(st.grantLease.run(m.expiresAt).lastInsertRowid) });
      } catch (e) {
        post({ type: 'failed', id: m.id, message: (e as Error).message });
      }
      return;
    case 'dropLease':
      try {
        st.dropLease.run(m.lease, m.lease);
        post({ type: 'leaseDropped', id: m.id });
      } catch (e) {
        post({ type: 'failed', id: m.id, message: (e as Error).message });
      }
      return;
    case 'close':
      db.close();
      post({ type: 'closed', id: m.id });
      port.close();
      return;
  }
});

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { EtcdStore } from './etcd-store.js';
import { defragLockKey } from './defrag.js';
import { startEtcdCluster, type TestEtcdCluster } from '../../../test/helpers/etcd-server.js';

describe('defragmentation of the etcd members, one server at a time', () => {
  let etcd: TestEtcdCluster;
  let raw: Etcd3;
  const stores: EtcdStore[] = [];
  // An hour: the timer never fires during the test, and a round within the hour is recent.
  const defrag = { intervalMs: 3_600_000, minFreeBytes: 1024 * 1024, minFreeRatio: 0.3 };
  before(async () => {
    etcd = await startEtcdCluster({ heartbeatMs: 50, electionMs: 500 });
    raw = new Etcd3({ hosts: [...etcd.endpoints] });
    for (const identity of ['server-a', 'server-b']) {
      const s = new EtcdStore({ endpoints: etcd.endpoints, defrag: { ...defrag, identity } });
      stores.push(s);
      await s.ready();
    }
  });
  after(async () => {
    for (const s of stores) await s.close().catch(() => {});
    raw?.close();
    await etcd?.stop();
  });

  /** Each member's database file size and the part of it in use. */
  const status = async (): Promise<{ size: number; inUse: number }[]> => Promise.all(etcd.members.map(async (m) => {
    const c = new Etcd3({ hosts: m.endpoint });
    try {
      const st = await c.maintenance.status();
      return { size: Number(st.dbSize), inUse: Number(st.dbSizeInUse) };
    } finally { c.close(); }
  }));
  const sizes = async (): Promise<number[]> => (await status()).map((x) => x.size);

  it('two servers offering at once: one takes the lock and defragments every member in turn, the other skips', async () => {
    // Garbage: 4 generations of 200 × 16 KiB values, then everything deleted and compacted away.
    const value = Buffer.alloc(16 * 1024, 'x');
    for (let gen = 0; gen < 4; gen++) {
      await Promise.all(Array.from({ length: 200 }, (_, i) => raw.put(`/garbage/${i}`).value(value)));
    }
    await raw.delete().prefix('/garbage/');
    const rev = Number((await raw.kv.range({ key: Buffer.from('/'), count_only: true })).header.revision);
    await raw.kv.compact({ revision: rev, physical: true });
    // The compaction is physical on the member that answered; the others apply it a moment later. A member counts
    // the pages it freed as free only at a later write's commit when a read transaction was still open at the
    // compaction's own (etcd 3.4 closes the old read transaction in a goroutine, a race a loaded machine loses), so
    // the wait goes on writing as a live cluster does.
    let last: { size: number; inUse: number }[] = [];
    for (let i = 0; (last = await status()).some((x) => x.inUse > 1024 * 1024); i++) {
      assert.ok(i < 300, `every member applied the compaction within 30 s: ${JSON.stringify(last)}`);
      await raw.put('/nudge').value(String(i));
      await new Promise((r) => setTimeout(r, 100));
    }
    const before = await sizes();
    assert.ok(before.every((b) => b > 8 * 1024 * 1024), `each member's file grew (${before.join(', ')} bytes)`);

    const rounds = await Promise.all(stores.map((s) => s.defragment()));
    const ran = rounds.filter((r) => r.ran);
    assert.equal(ran.length, 1, `exactly one server made the round: ${JSON.stringify(rounds)}`);
    const skipped = rounds.find((r) => !r.ran);
    assert.ok(skipped && !skipped.ran);
    assert.match(skipped.skipped, /server-[ab] (is defragmenting|looked at the members \d+ s ago)/);
    const round = ran[0]!;
    assert.ok(round.ran);
    assert.deepEqual(round.members.map((m) => m.name).sort(), ['m1', 'm2', 'm3']);
    assert.ok(round.members.every((m) => m.defragmented && m.dbSizeAfter! < m.dbSize / 2), JSON.stringify(round.members));
    const after = await sizes();
    after.forEach((a, i) => assert.ok(a < before[i]! / 2, `member ${i + 1}: ${before[i]} → ${a} bytes`));
    assert.equal((await raw.get(defragLockKey).exists()), false, 'the lock is released');

    // Within the interval the next offer is skipped; members with little free space are left alone.
    const again = await stores[0]!.defragment();
    assert.equal(again.ran, false);
    const forced = await stores[1]!.defragment(true);
    assert.ok(forced.ran && forced.members.every((m) => !m.defragmented), 'nothing worth defragmenting now');
  });

  it('waits for the lock another server holds', async () => {
    const lease = raw.lease(60, { autoKeepAlive: false });
    await lease.put(defragLockKey).value('server-z');
    try {
      const r = await stores[0]!.defragment(true);
      assert.deepEqual(r, { ran: false, skipped: 'server-z is defragmenting' });
    } finally {
      await lease.revoke();
    }
    assert.equal((await stores[0]!.defragment(true)).ran, true, 'and goes ahead once it is free');
  });
});

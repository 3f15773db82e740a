import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CompactedError, eventRev, FutureRevisionError, type Store, type WatchEvent } from './store.js';

/** A fresh, empty store for one test, and how to dispose of it. */
export type StoreFactory = () => Promise<{ store: Store; dispose(): Promise<void> }>;

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function eventKey(e: WatchEvent): string {
  return e.type === 'put' ? e.kv.key : e.type === 'delete' ? e.key : '';
}

/** Collects watch events and lets a test wait until a number of them arrived. */
class Recorder {
  events: WatchEvent[] = [];
  #waiters: { n: number; resolve(): void }[] = [];
  sink = (batch: WatchEvent[]): void => {
    for (const e of batch) if (e.type !== 'progress') this.events.push(e);
    this.#waiters = this.#waiters.filter((w) => (this.events.length >= w.n ? (w.resolve(), false) : true));
  };
  waitFor(n: number, ms = 5000): Promise<void> {
    if (this.events.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${n} events, have ${this.events.length}`)), ms);
      this.#waiters.push({ n, resolve: () => { clearTimeout(t); resolve(); } });
    });
  }
}

/**
 * The storage contract as tests: every backend runs this suite unchanged. `name` labels the suite;
 * `factory` makes an empty store per test.
 */
export function storeConformance(name: string, factory: StoreFactory): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    const fresh = async (): Promise<Store> => {
      if (dispose) await dispose();
      ({ store, dispose } = await factory());
      return store;
    };
    before(fresh);
    after(() => dispose?.());

    it('creates a key once, with createRev = modRev = the new revision', async () => {
      const s = await fresh();
      const r0 = await s.currentRev();
      const r = await s.create('/registry/pods/default/a', enc('v1'));
      assert.ok(r.ok);
      assert.equal(r.kv.modRev, r0 + 1);
      assert.equal(r.kv.createRev, r.kv.modRev);
      assert.equal(await s.currentRev(), r0 + 1);
      const again = await s.create('/registry/pods/default/a', enc('v2'));
      assert.equal(again.ok, false);
      assert.ok(!again.ok && again.current && dec(again.current.value) === 'v1', 'failed create returns the current value');
      assert.equal(await s.currentRev(), r0 + 1, 'a failed compare consumes no revision');
      const g = await s.get('/registry/pods/default/a');
      assert.equal(dec(g.kv!.value), 'v1');
      assert.equal((await s.get('/registry/pods/default/none')).kv, undefined);
    });

    it('updates only when the expected modRev matches', async () => {
      const s = await fresh();
      const c = await s.create('/k/x', enc('1'));
      assert.ok(c.ok);
      const u = await s.update('/k/x', enc('2'), c.kv.modRev);
      assert.ok(u.ok);
      assert.equal(u.kv.createRev, c.kv.createRev);
      assert.ok(u.kv.modRev > c.kv.modRev);
      const stale = await s.update('/k/x', enc('3'), c.kv.modRev);
      assert.equal(stale.ok, false);
      assert.equal(!stale.ok && stale.current && dec(stale.current.value), '2');
      const missing = await s.update('/k/none', enc('1'), 5);
      assert.equal(missing.ok, false);
      assert.equal(!missing.ok && missing.current, undefined);
      assert.equal(dec((await s.get('/k/x')).kv!.value), '2');
    });

    it('deletes with and without a precondition; a deleted key can be created again', async () => {
      const s = await fresh();
      const c = await s.create('/k/d', enc('1'));
      assert.ok(c.ok);
      const bad = await s.delete('/k/d', c.kv.modRev + 100);
      assert.equal(bad.ok, false);
      const d = await s.delete('/k/d', c.kv.modRev);
      assert.ok(d.ok);
      assert.equal(dec(d.prev!.value), '1');
      assert.equal((await s.get('/k/d')).kv, undefined);
      assert.equal((await s.delete('/k/d')).ok, false);
      const again = await s.create('/k/d', enc('2'));
      assert.ok(again.ok);
      assert.ok(again.kv.createRev > d.kv.modRev, 'a new incarnation has a new createRev');
    });

    it('lists by prefix in key order, without neighbouring prefixes, with paging', async () => {
      const s = await fresh();
      for (const n of ['c', 'a', 'e', 'b', 'd']) assert.ok((await s.create(`/registry/pods/ns/${n}`, enc(n))).ok);
      assert.ok((await s.create('/registry/pods-x/ns/z', enc('z'))).ok);
      assert.ok((await s.create('/registry/pod/ns/y', enc('y'))).ok);
      const all = await s.list({ prefix: '/registry/pods/' });
      assert.deepEqual(all.kvs.map((k) => dec(k.value)), ['a', 'b', 'c', 'd', 'e']);
      assert.equal(all.more, false);
      assert.equal(all.rev, await s.currentRev());
      const p1 = await s.list({ prefix: '/registry/pods/', limit: 2 });
      assert.deepEqual(p1.kvs.map((k) => dec(k.value)), ['a', 'b']);
      assert.equal(p1.more, true);
      const p2 = await s.list({ prefix: '/registry/pods/', limit: 2, startAfter: p1.kvs[1]!.key, rev: p1.rev });
      assert.deepEqual(p2.kvs.map((k) => dec(k.value)), ['c', 'd']);
      const p3 = await s.list({ prefix: '/registry/pods/', limit: 2, startAfter: p2.kvs[1]!.key, rev: p1.rev });
      assert.deepEqual(p3.kvs.map((k) => dec(k.value)), ['e']);
      assert.equal(p3.more, false);
    });

    it('reads the past at a revision: lists and gets see old values and deleted keys', async () => {
      const s = await fresh();
      const a = await s.create('/r/a', enc('a1'));
      const b = await s.create('/r/b', enc('b1'));
      assert.ok(a.ok && b.ok);
      const mid = await s.currentRev();
      assert.ok((await s.update('/r/a', enc('a2'), a.kv.modRev)).ok);
      assert.ok((await s.delete('/r/b')).ok);
      assert.ok((await s.create('/r/c', enc('c1'))).ok);
      const past = await s.list({ prefix: '/r/', rev: mid });
      assert.deepEqual(past.kvs.map((k) => dec(k.value)), ['a1', 'b1']);
      assert.equal(past.rev, mid);
      const now = await s.list({ prefix: '/r/' });
      assert.deepEqual(now.kvs.map((k) => dec(k.value)), ['a2', 'c1']);
      assert.equal(dec((await s.get('/r/b', mid)).kv!.value), 'b1');
      assert.equal((await s.get('/r/c', mid)).kv, undefined);
      await assert.rejects(s.list({ prefix: '/r/', rev: (await s.currentRev()) + 10 }), FutureRevisionError);
    });

    it('watches changes after a revision in order, with previous values, filtered by prefix', async () => {
      const s = await fresh();
      const start = await s.currentRev();
      const rec = new Recorder();
      const h = s.watch('/w/', start, rec.sink, (e) => assert.fail(e));
      const c = await s.create('/w/a', enc('1'));
      assert.ok(c.ok);
      await s.create('/wx/ignored', enc('no'));
      await s.update('/w/a', enc('2'), c.kv.modRev);
      await s.delete('/w/a');
      await rec.waitFor(3);
      h.close();
      assert.deepEqual(rec.events.map((e) => e.type), ['put', 'put', 'delete']);
      assert.ok(rec.events.every((e) => eventKey(e) === '/w/a'));
      const revs = rec.events.map(eventRev);
      assert.deepEqual([...revs].sort((x, y) => x - y), revs, 'events arrive in revision order');
      const upd = rec.events[1]!;
      assert.ok(upd.type === 'put' && upd.prev && dec(upd.prev.value) === '1', 'update carries the previous value');
      const del = rec.events[2]!;
      assert.ok(del.type === 'delete' && del.prev && dec(del.prev.value) === '2', 'delete carries the last value');
      await s.create('/w/b', enc('after close'));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(rec.events.length, 3, 'a closed watch delivers nothing');
    });

    it('tells a watcher the store moved on when a commit touched only other prefixes', async () => {
      const s = await fresh();
      let progress = 0;
      const h = s.watch('/quiet/', await s.currentRev(), (batch) => {
        for (const e of batch) if (e.type === 'progress') progress = Math.max(progress, e.rev);
      }, (e) => assert.fail(e));
      const w = await s.create('/busy/x', enc('1'));
      assert.ok(w.ok);
      const deadline = Date.now() + 5000;
      while (progress < w.kv.modRev && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      h.close();
      assert.ok(progress >= w.kv.modRev, `progress mark ${progress} reaches the write at ${w.kv.modRev}`);
    });

    it('tells a watcher where a commit ended when it ended under another prefix (writes committed together)', async () => {
      const s = await fresh();
      let seen = 0;
      const h = s.watch('/mine/', await s.currentRev(), (batch) => {
        for (const e of batch) seen = Math.max(seen, eventRev(e));
      }, (e) => assert.fail(e));
      // Issued together, so a group-committing store writes them in one transaction, the other prefix last.
      const [mine, other] = await Promise.all([s.create('/mine/a', enc('1')), s.create('/other/b', enc('2'))]);
      assert.ok(mine.ok && other.ok);
      const last = Math.max(mine.kv.modRev, other.kv.modRev);
      const deadline = Date.now() + 5000;
      while (seen < last && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      h.close();
      assert.ok(seen >= last, `the watcher knows revision ${seen}, the store is at ${last}`);
    });

    it('tells a watcher started in the past how far its replay reached, even with nothing under its prefix', async () => {
      const s = await fresh();
      const from = await s.currentRev();
      const w = await s.create('/elsewhere/x', enc('1'));
      assert.ok(w.ok);
      let progress = 0;
      const h = s.watch('/quiet/', from, (batch) => {
        for (const e of batch) if (e.type === 'progress') progress = Math.max(progress, e.rev);
      }, (e) => assert.fail(e));
      // No further write: the mark must come from the watch itself.
      const deadline = Date.now() + 5000;
      while (progress < w.kv.modRev && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      h.close();
      assert.ok(progress >= w.kv.modRev, `progress mark ${progress} reaches the write at ${w.kv.modRev}`);
    });

    it('replays history from an older revision, then continues live without gaps or duplicates', async () => {
      const s = await fresh();
      const start = await s.currentRev();
      for (let i = 0; i < 5; i++) await s.create(`/h/${i}`, enc(String(i)));
      const rec = new Recorder();
      const h = s.watch('/h/', start, rec.sink, (e) => assert.fail(e));
      const writes = [];
      for (let i = 5; i < 10; i++) writes.push(s.create(`/h/${i}`, enc(String(i))));
      const results = await Promise.all(writes);
      await rec.waitFor(10);
      h.close();
      const keys = rec.events.map((e) => eventKey(e));
      assert.deepEqual(keys.slice(0, 5), ['/h/0', '/h/1', '/h/2', '/h/3', '/h/4'], 'the replayed history, in order');
      // Writes in flight together may commit in any order (etcd applies concurrent requests as they come); the
      // events must still be each of them exactly once, in the order of the revisions they committed at.
      const live = results.map((r) => { assert.ok(r.ok); return r.kv; }).sort((a, b) => a.modRev - b.modRev).map((kv) => kv.key);
      assert.deepEqual(keys.slice(5), live, 'the live writes, each once, in commit order');
      const revs = rec.events.map(eventRev);
      for (let i = 1; i < revs.length; i++) assert.ok(revs[i]! > revs[i - 1]!, 'strictly increasing revisions');
    });

    it('lets exactly one of many concurrent compare-and-swaps win', async () => {
      const s = await fresh();
      const c = await s.create('/cas/x', enc('0'));
      assert.ok(c.ok);
      const results = await Promise.all(Array.from({ length: 16 }, (_, i) => s.update('/cas/x', enc(String(i + 1)), c.kv.modRev)));
      assert.equal(results.filter((r) => r.ok).length, 1);
      const creates = await Promise.all(Array.from({ length: 8 }, () => s.create('/cas/y', enc('y'))));
      assert.equal(creates.filter((r) => r.ok).length, 1);
    });

    it('compacts history: latest state stays, old revisions and old watches get CompactedError', async () => {
      const s = await fresh();
      const a = await s.create('/c/a', enc('1'));
      assert.ok(a.ok);
      const old = await s.currentRev();
      let rev = a.kv.modRev;
      for (let i = 2; i <= 20; i++) {
        const u = await s.update('/c/a', enc(String(i)), rev);
        assert.ok(u.ok);
        rev = u.kv.modRev;
      }
      await s.create('/c/b', enc('b'));
      await s.delete('/c/b');
      const target = await s.currentRev() - 1;
      await s.compact(target);
      assert.ok(s.compactRev() >= target);
      await s.compact(target); // idempotent
      assert.equal(dec((await s.get('/c/a')).kv!.value), '20');
      assert.deepEqual((await s.list({ prefix: '/c/' })).kvs.map((k) => dec(k.value)), ['20']);
      await assert.rejects(s.list({ prefix: '/c/', rev: old }), CompactedError);
      await assert.rejects(s.get('/c/a', old), CompactedError);
      assert.throws(() => s.watch('/c/', old, () => {}, () => {}), CompactedError);
      const atTarget = await s.list({ prefix: '/c/', rev: target });
      assert.deepEqual(atTarget.kvs.map((k) => dec(k.value)), ['20', 'b'], 'b was deleted after the target revision');
      const u = await s.update('/c/a', enc('21'), rev);
      assert.ok(u.ok, 'writes continue after compaction');
    });

    it('deletes keys attached to an expired lease, with watch events', async () => {
      const s = await fresh();
      const lease = await s.grantLease(1);
      assert.ok(lease > 0);
      const start = await s.currentRev();
      assert.ok((await s.create('/l/ev1', enc('e'), lease)).ok);
      assert.ok((await s.create('/l/keep', enc('k'))).ok);
      const rec = new Recorder();
      const h = s.watch('/l/', start, rec.sink, (e) => assert.fail(e));
      await rec.waitFor(3, 10000);
      h.close();
      const del = rec.events[2]!;
      assert.equal(del.type, 'delete');
      assert.equal(eventKey(del), '/l/ev1');
      assert.equal((await s.get('/l/ev1')).kv, undefined);
      assert.ok((await s.get('/l/keep')).kv);
    });
  });
}

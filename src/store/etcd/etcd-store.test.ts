import { describe, it, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { EtcdStore, type EtcdStoreOptions } from './etcd-store.js';
import { storeConformance } from '../conformance.js';
import { CompactedError, eventRev, StoreUnavailableError, type WatchEvent } from '../store.js';
import { makeTestTLS, startEtcd, type TestEtcd } from '../../../test/helpers/etcd-server.js';
import { freePort } from '../../../test/helpers/registry.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Fails (rather than hangs) when `p` does not settle in time. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

storeConformance('etcd', async () => {
  const etcd = await startEtcd();
  const store = new EtcdStore({ endpoints: [etcd.endpoint] });
  try {
    await store.ready();
  } catch (e) {
    await etcd.stop();
    throw e;
  }
  return { store, dispose: async () => { await store.close(); await etcd.stop(); } };
});

/** Every etcd and store a test starts, stopped by after() whatever happens. */
class Scope {
  #cleanups: (() => Promise<void> | void)[] = [];
  async etcd(o?: Parameters<typeof startEtcd>[0]): Promise<TestEtcd> {
    const e = await startEtcd(o);
    this.#cleanups.push(() => e.stop());
    return e;
  }
  store(o: EtcdStoreOptions): EtcdStore {
    const s = new EtcdStore(o);
    this.#cleanups.push(() => s.close());
    return s;
  }
  defer(fn: () => Promise<void> | void): void {
    this.#cleanups.push(fn);
  }
  async dispose(): Promise<void> {
    for (const fn of this.#cleanups.reverse()) await Promise.resolve().then(fn).catch(() => {});
    this.#cleanups = [];
  }
}

/** Collects a watch's events (not its progress marks). */
function recorder(): { events: WatchEvent[]; sink: (b: WatchEvent[]) => void; waitFor(n: number, ms?: number): Promise<void> } {
  const events: WatchEvent[] = [];
  return {
    events,
    sink: (b) => { for (const e of b) if (e.type !== 'progress') events.push(e); },
    async waitFor(n, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (events.length < n && Date.now() < deadline) await sleep(10);
      assert.ok(events.length >= n, `expected ${n} events, got ${events.length}`);
    },
  };
}

/**
 * A TCP relay in front of etcd that can be cut (every connection reset) and brought back on the same port, or hold
 * etcd's answers back (requests still pass) and release them.
 */
async function relay(target: string): Promise<{ endpoint: string; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void>; hold(): void; release(): void }> {
  const { port: targetPort } = new URL(target);
  const port = await freePort();
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  let holding = false;
  const listen = async (): Promise<void> => {
    server = createServer((c) => {
      const u = connect(Number(targetPort), '127.0.0.1');
      sockets.add(c).add(u);
      const pair: [Socket, Socket] = [c, u];
      pairs.add(pair);
      const drop = (): void => { c.destroy(); u.destroy(); sockets.delete(c); sockets.delete(u); pairs.delete(pair); };
      c.on('error', drop).on('close', drop);
      u.on('error', drop).on('close', drop);
      c.pipe(u);
      if (!holding) u.pipe(c);
      else u.pause();
    });
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
  };
  const cut = async (): Promise<void> => {
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.resetAndDestroy();
    sockets.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  const hold = (): void => {
    holding = true;
    for (const [c, u] of pairs) { u.unpipe(c); u.pause(); }
  };
  const release = (): void => {
    holding = false;
    for (const [c, u] of pairs) { u.pipe(c); u.resume(); }
  };
  await listen();
  return { endpoint: `http://127.0.0.1:${port}`, cut, restore: listen, close: cut, hold, release };
}

describe('EtcdStore', () => {
  const scope = new Scope();
  afterEach(() => scope.dispose());
  after(() => scope.dispose());

  it('hands a write back only after the shared watch delivered it, so a watch cache already holds it', async () => {
    const etcd = await scope.etcd();
    const s = scope.store({ endpoints: [etcd.endpoint] });
    await s.ready();
    const rec = recorder();
    s.watch('/sync/', await s.currentRev(), rec.sink, (e) => assert.fail(e));
    for (let i = 0; i < 20; i++) {
      const r = await s.create(`/sync/${i}`, enc(String(i)));
      assert.ok(r.ok);
      const last = rec.events[rec.events.length - 1];
      assert.ok(last && eventRev(last) === r.kv.modRev, `the watcher has revision ${r.kv.modRev} when create returns (has ${last ? eventRev(last) : 'nothing'})`);
    }
  });

  it('lists past gRPC\'s 4 MiB message limit, and in pages at one revision when asked for everything', async () => {
    const etcd = await scope.etcd();
    const s = scope.store({ endpoints: [etcd.endpoint], listPageSize: 3 });
    await s.ready();
    const big = new Uint8Array(1024 * 1024).fill(120);
    for (let i = 0; i < 6; i++) assert.ok((await s.create(`/big/${i}`, big)).ok);
    const one = await s.list({ prefix: '/big/', limit: 6 }); // one answer of about 6 MiB
    assert.equal(one.kvs.length, 6);
    assert.equal(one.kvs[5]!.value.length, big.length);
    for (let i = 0; i < 10; i++) assert.ok((await s.create(`/paged/${String(i).padStart(2, '0')}`, enc(String(i)))).ok);
    const rev = await s.currentRev();
    const late = s.create('/paged/zz', enc('late')); // may land between pages: must not show
    const all = await s.list({ prefix: '/paged/', rev });
    await late;
    assert.deepEqual(all.kvs.map((k) => dec(k.value)), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.equal(all.more, false);
    assert.equal(all.rev, rev);
  });

  it('replays a watch older than the shared buffer on a watch of its own, then joins the feed without gaps or repeats', async () => {
    const etcd = await scope.etcd();
    const s = scope.store({ endpoints: [etcd.endpoint], watchHistorySize: 3 });
    await s.ready();
    const start = await s.currentRev();
    for (let i = 0; i < 10; i++) assert.ok((await s.create(`/old/${i}`, enc(String(i)))).ok);
    const rec = recorder();
    const h = s.watch('/old/', start, rec.sink, (e) => assert.fail(e));
    await rec.waitFor(10);
    for (let i = 10; i < 15; i++) assert.ok((await s.create(`/old/${i}`, enc(String(i)))).ok);
    await rec.waitFor(15);
    await sleep(100);
    h.close();
    assert.deepEqual(rec.events.map((e) => (e.type === 'put' ? dec(e.kv.value) : '')), Array.from({ length: 15 }, (_, i) => String(i)));
    const revs = rec.events.map(eventRev);
    for (let i = 1; i < revs.length; i++) assert.ok(revs[i]! > revs[i - 1]!, 'strictly increasing revisions');
  });

  it('learns of a compaction it did not make (etcd auto-compaction, another tool) from the errors etcd gives: reads, and watches (compact_revision)', async () => {
    const etcd = await scope.etcd();
    const s = scope.store({ endpoints: [etcd.endpoint], watchHistorySize: 2 });
    await s.ready();
    const c = await s.create('/cmp/x', enc('0'));
    assert.ok(c.ok);
    const old = c.kv.modRev;
    let rev = old;
    for (let i = 1; i <= 5; i++) {
      const u = await s.update('/cmp/x', enc(String(i)), rev);
      assert.ok(u.ok);
      rev = u.kv.modRev;
    }
    const raw = new Etcd3({ hosts: etcd.endpoint });
    scope.defer(() => raw.close());
    await raw.kv.compact({ revision: rev, physical: true });
    assert.equal(s.compactRev(), 0, 'nothing told the store yet');
    await assert.rejects(s.get('/cmp/x', old), CompactedError);
    assert.equal(s.compactRev(), old + 1, 'a refused read at a revision means the store was compacted past it');
    await assert.rejects(s.list({ prefix: '/cmp/', rev: old + 1 }), CompactedError);
    // A watch from a revision the store cannot rule out itself (and older than its buffer): etcd cancels it and says how far it compacted.
    const err = await within(new Promise<Error>((resolve) => { s.watch('/cmp/', s.compactRev(), () => {}, resolve); }), 10_000, 'the watch\'s error');
    assert.ok(err instanceof CompactedError, `got ${String(err)}`);
    assert.equal(err.compactRev, rev);
    assert.equal(dec((await s.get('/cmp/x')).kv!.value), '5', 'the latest state is still there');
  });

  it('shares the compaction point through etcd: other servers learn it from the feed, new ones when they start', async () => {
    const etcd = await scope.etcd();
    const a = scope.store({ endpoints: [etcd.endpoint] });
    const b = scope.store({ endpoints: [etcd.endpoint] });
    await Promise.all([a.ready(), b.ready()]);
    let rev = 0;
    for (let i = 0; i < 5; i++) {
      const w = await a.create(`/share/${i}`, enc(String(i)));
      assert.ok(w.ok);
      rev = w.kv.modRev;
    }
    await b.compact(rev - 2);
    assert.equal(b.compactRev(), rev - 2);
    const deadline = Date.now() + 5000;
    while (a.compactRev() < rev - 2 && Date.now() < deadline) await sleep(10);
    assert.equal(a.compactRev(), rev - 2);
    assert.throws(() => a.watch('/share/', rev - 3, () => {}, () => {}), CompactedError);
    await a.compact(rev - 4); // behind the recorded point: nothing to do, nothing moves back
    assert.equal(a.compactRev(), rev - 2);
    const c = scope.store({ endpoints: [etcd.endpoint] });
    await c.ready();
    assert.equal(c.compactRev(), rev - 2);
  });

  it('takes turns compacting with other servers: a round another server compacted since is skipped', async () => {
    const etcd = await scope.etcd();
    const a = scope.store({ endpoints: [etcd.endpoint] });
    const b = scope.store({ endpoints: [etcd.endpoint] });
    await Promise.all([a.ready(), b.ready()]);
    const revs: number[] = [];
    for (let i = 0; i < 6; i++) {
      const w = await a.create(`/turns/${i}`, enc(String(i)));
      assert.ok(w.ok);
      revs.push(w.kv.modRev);
    }
    await a.compact(revs[1]!);
    // b has not seen a's round: it skips its own, learning a's point, and compacts nothing.
    await b.compact(revs[3]!);
    assert.equal(b.compactRev(), revs[1]);
    assert.equal(dec((await b.get('/turns/2', revs[3]! - 1)).kv!.value), '2', 'history after a\'s point is still there');
    // The next round is b's.
    await b.compact(revs[3]!);
    assert.equal(b.compactRev(), revs[3]);
    await assert.rejects(b.get('/turns/2', revs[3]! - 1), CompactedError);
    const deadline = Date.now() + 5000;
    while (a.compactRev() < revs[3]! && Date.now() < deadline) await sleep(10);
    assert.equal(a.compactRev(), revs[3], 'a learns b\'s point from the feed');
  });

  it('fails over when the first endpoint is dead, for calls and for the watch', async () => {
    const etcd = await scope.etcd();
    const dead = `http://127.0.0.1:${await freePort()}`;
    const s = scope.store({ endpoints: [dead, etcd.endpoint], requestTimeoutMs: 3000 });
    await s.ready();
    const rec = recorder();
    s.watch('/fo/', await s.currentRev(), rec.sink, (e) => assert.fail(e));
    const t0 = Date.now();
    for (let i = 0; i < 30; i++) {
      assert.ok((await s.create(`/fo/${i}`, enc(String(i)))).ok);
      assert.equal(dec((await s.get(`/fo/${i}`)).kv!.value), String(i));
    }
    assert.equal((await s.list({ prefix: '/fo/' })).kvs.length, 30);
    await rec.waitFor(30);
    assert.ok(Date.now() - t0 < 10_000, `30 writes and reads took ${Date.now() - t0} ms`);
  });

  it('moves calls and the watch to another endpoint when a connection breaks, losing and repeating no event', async () => {
    const etcd = await scope.etcd();
    const r1 = await relay(etcd.endpoint);
    const r2 = await relay(etcd.endpoint);
    scope.defer(() => r1.close());
    scope.defer(() => r2.close());
    const s = scope.store({ endpoints: [r1.endpoint, r2.endpoint], requestTimeoutMs: 5000 });
    await s.ready();
    const rec = recorder();
    s.watch('/mv/', await s.currentRev(), rec.sink, (e) => assert.fail(e));
    let n = 0;
    const writeSome = async (): Promise<void> => {
      for (let i = 0; i < 10; i++, n++) assert.ok((await s.create(`/mv/${String(n).padStart(3, '0')}`, enc(String(n)))).ok);
    };
    await writeSome();
    await r1.cut(); // whichever endpoint carried the watch, one of these two cuts breaks it
    await writeSome();
    await r1.restore();
    await r2.cut();
    await writeSome();
    await rec.waitFor(30);
    await sleep(200);
    assert.deepEqual(rec.events.map((e) => (e.type === 'put' ? dec(e.kv.value) : '')), Array.from({ length: 30 }, (_, i) => String(i)));
  });

  it('answers a retried delete whose first attempt landed (its answer lost) with success, not a conflict', async () => {
    const etcd = await scope.etcd();
    const r = await relay(etcd.endpoint);
    scope.defer(() => r.close());
    const s = scope.store({ endpoints: [r.endpoint], requestTimeoutMs: 5000, attemptTimeoutMs: 400 });
    await s.ready();
    const made = await s.create('/rd/x', enc('x'));
    assert.ok(made.ok);
    // etcd applies the first attempt, but its answer is held past the attempt's deadline; the retry finds the key gone.
    r.hold();
    const deleting = s.delete('/rd/x', made.kv.modRev);
    await sleep(600);
    r.release();
    const del = await deleting;
    assert.ok(del.ok, `the delete succeeded: ${JSON.stringify(del)}`);
    assert.equal(dec(del.prev!.value), 'x');
    assert.equal((await s.get('/rd/x')).kv, undefined);
    // A delete of a version someone else replaced is still a conflict.
    const again = await s.create('/rd/y', enc('1'));
    assert.ok(again.ok);
    const upd = await s.update('/rd/y', enc('2'), again.kv.modRev);
    assert.ok(upd.ok);
    assert.equal((await s.delete('/rd/y', again.kv.modRev)).ok, false);
  });

  it('gives StoreUnavailableError within the deadline when etcd is frozen (SIGSTOP), and recovers when it thaws', async () => {
    const etcd = await scope.etcd();
    const s = scope.store({ endpoints: [etcd.endpoint], requestTimeoutMs: 1500, attemptTimeoutMs: 500 });
    await s.ready();
    const rec = recorder();
    s.watch('/frz/', await s.currentRev(), rec.sink, (e) => assert.fail(e));
    assert.ok((await s.create('/frz/before', enc('1'))).ok);
    etcd.pause();
    scope.defer(() => { try { etcd.resume(); } catch { /* gone */ } });
    for (const [what, call] of [
      ['create', () => s.create('/frz/during', enc('2'))],
      ['get', () => s.get('/frz/before')],
      ['list', () => s.list({ prefix: '/frz/' })],
      ['currentRev', () => s.currentRev()],
    ] as const) {
      const t0 = Date.now();
      await assert.rejects(within<unknown>(call(), 10_000, what), (e: Error) => e instanceof StoreUnavailableError && e.message.includes(etcd.endpoint), `${what} fails as unavailable`);
      const took = Date.now() - t0;
      assert.ok(took >= 1000 && took < 3000, `${what} gave up after ${took} ms (deadline 1500 ms)`);
    }
    etcd.resume();
    const deadline = Date.now() + 10_000;
    let after: Awaited<ReturnType<EtcdStore['create']>> | undefined;
    while (!after && Date.now() < deadline) after = await s.create('/frz/after', enc('3')).catch(() => undefined);
    assert.ok(after?.ok, 'writes work again once etcd thaws');
    await rec.waitFor(2);
    assert.ok(rec.events.some((e) => e.type === 'put' && e.kv.key === '/frz/after'), 'the watch carries on after the freeze');
  });

  it('rejects ready() with StoreUnavailableError naming the endpoints when none answers', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const s = scope.store({ endpoints: [dead], dialTimeoutMs: 1000 });
    const t0 = Date.now();
    await assert.rejects(within(s.ready(), 10_000, 'ready'), (e: Error) => e instanceof StoreUnavailableError && e.message.includes(dead));
    assert.ok(Date.now() - t0 < 3000);
    await assert.rejects(s.create('/x/y', enc('1')), StoreUnavailableError);
  });

  it('talks TLS with a client certificate, and is refused without one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-etcd-tls-'));
    scope.defer(() => rmSync(dir, { recursive: true, force: true }));
    const tls = makeTestTLS(dir);
    const etcd = await scope.etcd({ tls });
    assert.ok(etcd.endpoint.startsWith('https://'));
    const s = scope.store({ endpoints: [etcd.endpoint], tls: { ca: readFileSync(tls.caFile), cert: readFileSync(tls.clientCertFile), key: readFileSync(tls.clientKeyFile) } });
    await s.ready();
    assert.ok((await s.create('/tls/a', enc('secure'))).ok);
    assert.equal(dec((await s.get('/tls/a')).kv!.value), 'secure');
    const anonymous = scope.store({ endpoints: [etcd.endpoint], tls: { ca: readFileSync(tls.caFile) }, dialTimeoutMs: 1500 });
    await assert.rejects(within(anonymous.ready(), 10_000, 'ready without a client certificate'), StoreUnavailableError);
  });

  it('grants leases with ids that survive the trip through a JS number', async () => {
    const etcd = await scope.etcd();
    const s = scope.store({ endpoints: [etcd.endpoint] });
    await s.ready();
    const ids = await Promise.all(Array.from({ length: 5 }, () => s.grantLease(60)));
    assert.equal(new Set(ids).size, 5);
    for (const id of ids) {
      assert.ok(Number.isSafeInteger(id) && id > 0);
      const r = await s.create(`/lease/${id}`, enc('x'), id);
      assert.ok(r.ok, 'etcd knows the lease by the id we hold');
      assert.equal((await s.get(`/lease/${id}`)).kv!.lease, id);
    }
  });
});

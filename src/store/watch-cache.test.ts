import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from './sqlite/sqlite-store.js';
import { CompactedError, type Store, type WatchEvent, type WatchHandle } from './store.js';
import { TooOldResourceVersionError, WatchCache, type CacheEvent } from './watch-cache.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const decode = (kv: { value: Uint8Array }, rev: number): { v: string; rev: number } => ({ v: new TextDecoder().decode(kv.value), rev });

describe('WatchCache', () => {
  let dir: string;
  let store: SqliteStore;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'skiff-wc-')); store = new SqliteStore({ path: join(dir, 'db') }); });
  after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });

  it('starts from the stored state and follows writes synchronously', async () => {
    await store.create('/c/a/1', enc('one'));
    const cache = new WatchCache(store, '/c/a/', decode, { historySize: 5 });
    await cache.start();
    assert.deepEqual(cache.list().map((e) => e.obj.v), ['one']);
    const w = await store.create('/c/a/2', enc('two'));
    assert.ok(w.ok);
    assert.equal(cache.get('/c/a/2')?.obj.v, 'two', 'visible as soon as the write resolves');
    assert.equal(cache.rev, w.kv.modRev);
    assert.deepEqual(cache.list('/c/a/2').map((e) => e.key), ['/c/a/2']);
    cache.stop();
  });

  it('answers a consistent read after a commit that touched only another prefix', async () => {
    const cache = new WatchCache(store, '/c/quiet/', decode);
    await cache.start();
    await store.create('/c/loud/x', enc('x'));
    const t0 = Date.now();
    assert.equal(await cache.sync(1000), true);
    assert.ok(Date.now() - t0 < 500, 'released by the progress mark, not by the timeout');
    cache.stop();
  });

  it('replays retained history to a resuming watcher and refuses one from too far back', async () => {
    const cache = new WatchCache(store, '/c/h/', decode, { historySize: 3 });
    await cache.start();
    const from = cache.rev;
    for (let i = 0; i < 2; i++) await store.create(`/c/h/${i}`, enc(String(i)));
    const seen: CacheEvent<{ v: string; rev: number }>[] = [];
    const h = cache.watchFrom(from, (evs) => seen.push(...evs));
    assert.deepEqual(seen.map((e) => `${e.type}:${e.entry.obj.v}`), ['ADDED:0', 'ADDED:1'], 'replayed before watchFrom returns');
    const c = await store.get('/c/h/0');
    await store.update('/c/h/0', enc('0b'), c.kv!.modRev);
    await store.delete('/c/h/1');
    assert.deepEqual(seen.map((e) => `${e.type}:${e.entry.obj.v}`), ['ADDED:0', 'ADDED:1', 'MODIFIED:0b', 'DELETED:1']);
    assert.equal(seen[3]!.entry.obj.rev, seen[3]!.rev, 'a DELETED object carries the deletion revision');
    h.close();
    assert.throws(() => cache.watchFrom(from, () => {}), TooOldResourceVersionError, 'history of 3 no longer reaches back 4 events');
    cache.stop();
  });

  it('lists again and follows on when its feed fails, giving watchers the difference', async () => {
    // A store whose watches the test can cut, as an etcd watch that cannot resume past a compaction is cut.
    let cut: (() => void) | undefined;
    let lists = 0;
    let failLists = 0;
    const flaky: Store = Object.create(store) as Store;
    flaky.list = async (o) => {
      lists++;
      if (failLists > 0) { failLists--; throw new Error('etcd unavailable'); }
      return store.list(o);
    };
    flaky.watch = (prefix: string, fromRev: number, sink: (b: WatchEvent[]) => void, onError: (e: Error) => void): WatchHandle => {
      const h = store.watch(prefix, fromRev, sink, onError);
      cut = () => { h.close(); onError(new CompactedError(fromRev, fromRev + 1)); };
      return h;
    };
    await store.create('/c/r/keep', enc('keep'));
    await store.create('/c/r/change', enc('v1'));
    await store.create('/c/r/gone', enc('gone'));
    const cache = new WatchCache(flaky, '/c/r/', decode, { relistBackoffMs: [10, 20] });
    await cache.start();
    const before = cache.rev;
    const seen: CacheEvent<{ v: string; rev: number }>[] = [];
    cache.watchNow((evs) => seen.push(...evs));

    // The feed stops; the store moves on without the cache.
    const listsBefore = lists;
    failLists = Infinity;
    const feed = cut!;
    feed();
    const c = await store.get('/c/r/change');
    await store.update('/c/r/change', enc('v2'), c.kv!.modRev);
    await store.delete('/c/r/gone');
    const added = await store.create('/c/r/new', enc('new'));
    assert.ok(added.ok);
    // Re-lists fail (the store is out of reach) and are retried, the cache staying where it was meanwhile.
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(lists - listsBefore >= 2, `the failed re-lists were retried (${lists - listsBefore} lists)`);
    assert.equal(cache.get('/c/r/change')?.obj.v, 'v1');
    failLists = 0;
    assert.equal(await cache.waitFor(added.kv.modRev, 3000), true, 'the cache caught up by listing again');
    assert.deepEqual(cache.list().map((e) => `${e.key}=${e.obj.v}`), ['/c/r/change=v2', '/c/r/keep=keep', '/c/r/new=new']);
    assert.deepEqual(seen.map((e) => `${e.type}:${e.entry.key}`), ['MODIFIED:/c/r/change', 'ADDED:/c/r/new', 'DELETED:/c/r/gone'], 'the difference, in revision order');
    const del = seen[2]!;
    assert.equal(del.entry.obj.rev, cache.rev, 'the DELETED object carries the listing\'s revision');
    assert.equal(del.prev?.obj.v, 'gone');
    assert.throws(() => cache.watchFrom(before, () => {}), TooOldResourceVersionError, 'history before the gap is gone');

    // And it follows the store again.
    await store.create('/c/r/after', enc('after'));
    assert.equal(cache.get('/c/r/after')?.obj.v, 'after');
    assert.equal(seen[seen.length - 1]?.entry.key, '/c/r/after');
    cache.stop();
  });
});

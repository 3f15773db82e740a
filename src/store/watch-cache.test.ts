import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from './sqlite/sqlite-store.js';
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
});

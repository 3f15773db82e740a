import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from './sqlite-store.js';
import { storeConformance } from '../conformance.js';
import { StoreUnavailableError } from '../store.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'skiff-sqlite-'));
}

storeConformance('sqlite', async () => {
  const dir = tempDir();
  const store = new SqliteStore({ path: join(dir, 'state.db'), leaseSweepMs: 100 });
  return { store, dispose: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
});

describe('SqliteStore', () => {
  it('keeps every acknowledged write and the revision counter across a reopen', async () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'state.db');
      const s1 = new SqliteStore({ path });
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => s1.create(`/k/${i}`, enc(String(i)))));
      assert.ok(results.every((r) => r.ok));
      const rev = await s1.currentRev();
      await s1.compact(rev - 10);
      await s1.close();
      const s2 = new SqliteStore({ path });
      assert.equal(await s2.currentRev(), rev);
      assert.equal(s2.compactRev(), rev - 10);
      assert.equal((await s2.list({ prefix: '/k/' })).kvs.length, 200);
      const next = await s2.create('/k/new', enc('n'));
      assert.ok(next.ok && next.kv.modRev === rev + 1, 'revisions continue after the last one, never reused');
      await s2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a second store on the same file with a clear message', async () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'state.db');
      const s1 = new SqliteStore({ path });
      await s1.create('/a/b', enc('x')); // the exclusive lock is taken on first write
      assert.throws(() => new SqliteStore({ path }), (e: Error) => e instanceof StoreUnavailableError && /another skiff server/.test(e.message));
      await s1.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a store on a file another live process holds, and takes over after a crash', async () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'state.db');
      const { spawn } = await import('node:child_process');
      const moduleUrl = new URL('./sqlite-store.js', import.meta.url).href;
      const child = spawn(process.execPath, ['--input-type=module', '-e',
        `import { SqliteStore } from ${JSON.stringify(moduleUrl)}; const s = new SqliteStore({ path: ${JSON.stringify(path)} }); await s.ready(); console.log('open'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((r) => child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('open')) r(); }));
      assert.throws(() => new SqliteStore({ path }), (e: Error) => e instanceof StoreUnavailableError && new RegExp(`locked by process ${child.pid}`).test(e.message));
      await new Promise<void>((r) => { child.once('exit', () => r()); child.kill('SIGKILL'); });
      const s = new SqliteStore({ path });
      await s.ready();
      assert.ok((await s.create('/after/crash', enc('x'))).ok, 'the stale lock of a killed process is taken over');
      await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('commits concurrent writes of one event-loop turn in one transaction', async () => {
    const dir = tempDir();
    try {
      const s = new SqliteStore({ path: join(dir, 'state.db') });
      const before = await s.currentRev();
      const batches: number[] = [];
      s.watch('/g/', before, (b) => batches.push(b.length), () => {});
      await Promise.all(Array.from({ length: 50 }, (_, i) => s.create(`/g/${i}`, enc('v'))));
      assert.deepEqual(batches, [50], 'one commit, one watch batch');
      await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('compacts in batches that leave the event loop free', async () => {
    const dir = tempDir();
    try {
      const s = new SqliteStore({ path: join(dir, 'state.db'), compactBatch: 200 });
      let rev = 0;
      const c = await s.create('/big/x', enc('0'));
      assert.ok(c.ok);
      rev = c.kv.modRev;
      for (let i = 0; i < 2000; i++) {
        const u = await s.update('/big/x', enc(String(i)), rev);
        assert.ok(u.ok);
        rev = u.kv.modRev;
      }
      // Another task re-queued on every turn of the event loop runs between batches if compaction yields.
      let ticks = 0;
      let running = true;
      const tick = (): void => { ticks++; if (running) setImmediate(tick); };
      setImmediate(tick);
      await s.compact(rev - 1);
      running = false;
      assert.ok(ticks >= 5, `other work ran ${ticks} times during a compaction of 10 batches`);
      assert.equal(s.compactRev(), rev - 1);
      await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects writes after close without touching the file', async () => {
    const dir = tempDir();
    try {
      const s = new SqliteStore({ path: join(dir, 'state.db') });
      await s.close();
      await assert.rejects(s.create('/x/y', enc('1')), StoreUnavailableError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

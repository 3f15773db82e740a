import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore, DigestMismatchError } from './content-store.js';

const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('ContentStore', () => {
  const root = mkdtempSync(join(tmpdir(), 'skiff-content-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const store = new ContentStore(root);
  const data = Buffer.from('hello blobs\n'.repeat(1000));
  const d = digestOf(data);

  it('writes a blob under its digest after checking it, leaving no partial file', async () => {
    const seen: number[] = [];
    await store.write(d, data.length, [data.subarray(0, 5000), data.subarray(5000)], 'layer-x', (n) => seen.push(n));
    assert.equal(store.has(d, data.length), true);
    assert.deepEqual(store.read(d), data);
    assert.deepEqual(seen, [5000, data.length]);
    assert.deepEqual(readdirSync(store.dir).filter((n) => n.endsWith('.partial')), []);
  });

  it('refuses bytes that do not match the digest, in containerd\'s words, and leaves nothing behind', async () => {
    const wrong = `sha256:${'0'.repeat(64)}`;
    await assert.rejects(store.write(wrong, data.length, [data], `layer-${wrong}`), (e: unknown) => {
      assert.ok(e instanceof DigestMismatchError);
      assert.equal(e.message, `failed commit on ref "layer-${wrong}": commit failed: unexpected commit digest ${d}, expected ${wrong}: failed precondition`);
      return true;
    });
    await assert.rejects(store.write(d, data.length + 1, [data], 'layer-y'), /unexpected commit size 12000, expected 12001/);
    assert.equal(existsSync(store.path(wrong)), false);
    assert.deepEqual(readdirSync(store.dir).filter((n) => n.endsWith('.partial')), []);
  });

  it('verify() notices a blob whose bytes changed on disk', async () => {
    assert.equal(await store.verify(d, data.length), true);
    const bad = Buffer.from(data);
    bad[10] = bad[10]! ^ 1;
    writeFileSync(store.path(d), bad);
    assert.equal(store.has(d, data.length), true, 'same size: has() cannot tell');
    assert.equal(await store.verify(d, data.length), false);
    writeFileSync(store.path(d), data.subarray(0, 100));
    assert.equal(await store.verify(d, data.length), false);
    await store.delete(d);
    assert.equal(await store.verify(d), false);
  });

  it('adopt() moves a verified file in and refuses a wrong one', async () => {
    const f = join(root, 'incoming');
    writeFileSync(f, data);
    await store.adopt(f, d, data.length, 'layer-z');
    assert.equal(existsSync(f), false);
    assert.equal(await store.verify(d, data.length), true);
    writeFileSync(f, 'other');
    const other = `sha256:${'1'.repeat(64)}`;
    await assert.rejects(store.adopt(f, other, 5, 'layer-o'), /unexpected commit digest/);
    assert.equal(existsSync(store.path(other)), false);
  });

  it('removes partial files of dead writers on start, keeps those of live ones', () => {
    const hex = 'a'.repeat(64);
    const dead = join(store.dir, `${hex}.999999999-1-abc.partial`);
    const live = join(store.dir, `${hex}.${process.pid}-1-abc.partial`);
    const legacy = join(store.dir, `${hex}.partial`);
    for (const f of [dead, live, legacy]) writeFileSync(f, 'x');
    const again = new ContentStore(root);
    assert.equal(existsSync(dead), false);
    assert.equal(existsSync(legacy), false);
    assert.equal(existsSync(live), true);
    assert.ok(!again.list().some((x) => x.includes(hex)), 'partials are never listed as blobs');
    rmSync(live);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue, runWorkers } from './work-queue.js';

describe('WorkQueue', () => {
  it('hands out each key once however often it is added', async () => {
    const q = new WorkQueue<string>();
    q.add('a'); q.add('b'); q.add('a');
    assert.equal(q.length, 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
  });

  it('holds back a key that is being processed, and queues it again after done if it was added meanwhile', async () => {
    const q = new WorkQueue<string>();
    q.add('a');
    const k = await q.get();
    q.add('a');
    assert.equal(q.length, 0, 'not handed out twice at once');
    q.done(k!);
    assert.equal(q.length, 1);
    assert.equal(await q.get(), 'a');
    q.done('a');
    assert.equal(q.length, 0);
  });

  it('wakes a waiting worker on add, and ends workers on shutdown', async () => {
    const q = new WorkQueue<string>();
    const got = q.get();
    q.add('x');
    assert.equal(await got, 'x');
    const waiting = q.get();
    q.shutDown();
    assert.equal(await waiting, undefined);
    q.add('y');
    assert.equal(q.length, 0, 'a shut-down queue takes nothing');
  });

  it('backs off failing keys exponentially and forgets them on success', async () => {
    const q = new WorkQueue<string>({ baseDelayMs: 5 });
    q.addRateLimited('k');
    q.addRateLimited('k');
    assert.equal(q.retries('k'), 2);
    const t0 = Date.now();
    assert.equal(await q.get(), 'k');
    assert.ok(Date.now() - t0 >= 4, 'the first retry waited');
    q.done('k');
    q.forget('k');
    assert.equal(q.retries('k'), 0);
    q.shutDown();
  });

  it('runs workers that retry failed syncs until they succeed', async () => {
    const q = new WorkQueue<string>({ baseDelayMs: 1 });
    const attempts = new Map<string, number>();
    q.add('flaky'); q.add('fine');
    const errors: string[] = [];
    const done = runWorkers(q, 2, async (key) => {
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      if (key === 'flaky' && n < 3) throw new Error('not yet');
      if (key === 'flaky') q.shutDown();
    }, (key) => errors.push(key));
    await done;
    assert.equal(attempts.get('flaky'), 3);
    assert.equal(attempts.get('fine'), 1);
    assert.deepEqual(errors, ['flaky', 'flaky']);
  });
});

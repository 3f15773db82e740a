import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SharedReads } from './shared-reads.js';

/** A read whose answers the test hands out one by one. */
function manualRead(): { reads: SharedReads<number>; started: number; answer(v: number): void; fail(e: Error): void } {
  const pending: { resolve(v: number): void; reject(e: Error): void }[] = [];
  const state = {
    started: 0,
    reads: new SharedReads<number>(() => { state.started++; return new Promise((resolve, reject) => pending.push({ resolve, reject })); }),
    answer: (v: number) => pending.shift()!.resolve(v),
    fail: (e: Error) => pending.shift()!.reject(e),
  };
  return state;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('SharedReads', () => {
  it('gives callers that arrived together one read', async () => {
    const m = manualRead();
    const all = Promise.all([m.reads.next(), m.reads.next(), m.reads.next()]);
    await tick();
    assert.equal(m.started, 1);
    m.answer(7);
    assert.deepEqual(await all, [7, 7, 7]);
  });

  it('never answers a caller with a read sent before it arrived', async () => {
    const m = manualRead();
    const first = m.reads.next();
    await tick();
    const later = [m.reads.next(), m.reads.next()]; // arrive while the first read is out
    await tick();
    assert.equal(m.started, 1, 'one read in flight at a time');
    m.answer(1);
    assert.equal(await first, 1);
    await tick();
    assert.equal(m.started, 2, 'the later callers get a read of their own, sent after they arrived');
    m.answer(2);
    assert.deepEqual(await Promise.all(later), [2, 2]);
  });

  it('passes a failure to the callers of that read only', async () => {
    const m = manualRead();
    const failing = m.reads.next();
    await tick();
    const next = m.reads.next();
    m.fail(new Error('unavailable'));
    await assert.rejects(failing, /unavailable/);
    await tick();
    m.answer(3);
    assert.equal(await next, 3);
  });
});

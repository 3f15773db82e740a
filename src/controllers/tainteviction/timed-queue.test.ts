// The taint manager's timed work queue on a manual clock: scheduling, cancelling, done marks, failures.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../util/manual-clock.js';
import { TimedQueue } from './timed-queue.js';

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('TimedQueue', () => {
  it('runs work at its time, once', async () => {
    const clock = new ManualClock();
    const ran: string[] = [];
    const q = new TimedQueue(clock, async (k) => { ran.push(k); });
    q.add('default/a', clock.now() + 5_000);
    q.add('default/a', clock.now() + 1_000);
    assert.equal(q.get('default/a'), clock.now() + 5_000, 'the first schedule stands');
    clock.advance(4_999);
    await settle();
    assert.deepEqual(ran, []);
    clock.advance(1);
    await settle();
    assert.deepEqual(ran, ['default/a']);
    assert.equal(q.get('default/a'), 'done');
    q.add('default/a', clock.now());
    clock.advance(10_000);
    await settle();
    assert.deepEqual(ran, ['default/a'], 'a done key is not run again');
  });

  it('cancelling pending work stops it and says so; cancelling a done mark clears it quietly', async () => {
    const clock = new ManualClock();
    const ran: string[] = [];
    const q = new TimedQueue(clock, async (k) => { ran.push(k); });
    q.add('a', clock.now() + 1_000);
    assert.equal(q.cancel('a'), true);
    clock.advance(2_000);
    await settle();
    assert.deepEqual(ran, []);
    q.add('b', clock.now());
    clock.advance(0);
    await settle();
    assert.equal(q.cancel('b'), false);
    assert.equal(q.get('b'), undefined);
    q.add('b', clock.now());
    clock.advance(0);
    await settle();
    assert.deepEqual(ran, ['b', 'b'], 'after the mark is cleared, new work runs');
  });

  it('failed work is forgotten and reported', async () => {
    const clock = new ManualClock();
    const failures: string[] = [];
    const q = new TimedQueue(clock, async () => { throw new Error('boom'); }, (k) => failures.push(k));
    q.add('a', clock.now());
    clock.advance(0);
    await settle();
    assert.deepEqual(failures, ['a']);
    assert.equal(q.get('a'), undefined);
    assert.deepEqual(q.pending(), []);
  });
});

// The eviction rate limiting of the node lifecycle controller, on a manual clock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../util/manual-clock.js';
import { RateLimitedTimedQueue, TokenBucket, type ActionResult } from './rate-limited-queue.js';

const done: ActionResult = { done: true };

describe('TokenBucket', () => {
  it('starts with one token and refills at qps', () => {
    const clock = new ManualClock();
    const b = new TokenBucket(0.1, 1, clock);
    assert.equal(b.tryAccept(), true);
    assert.equal(b.tryAccept(), false);
    clock.advance(9_900);
    assert.equal(b.tryAccept(), false, 'not yet ten seconds');
    clock.advance(100);
    assert.equal(b.tryAccept(), true);
  });
  it('never fills beyond the burst', () => {
    const clock = new ManualClock();
    const b = new TokenBucket(1, 1, clock);
    clock.advance(60_000);
    assert.equal(b.tryAccept(), true);
    assert.equal(b.tryAccept(), false);
  });
  it('a rate of 0 lets nothing through, ever', () => {
    const clock = new ManualClock();
    const b = new TokenBucket(0, 1, clock);
    clock.advance(3_600_000);
    assert.equal(b.tryAccept(), false);
  });
});

describe('RateLimitedTimedQueue', () => {
  it('processes one node at once, the next ones at the eviction rate, in order', async () => {
    const clock = new ManualClock();
    const q = new RateLimitedTimedQueue(0.1, clock);
    for (const n of ['a', 'b', 'c']) assert.equal(q.add(n, `uid-${n}`), true);
    assert.equal(q.add('a', 'uid-a'), false, 'a value is queued once');
    const seen: string[] = [];
    const act = async (v: string): Promise<ActionResult> => { seen.push(v); return done; };
    await q.try(act);
    assert.deepEqual(seen, ['a']);
    clock.advance(5_000);
    await q.try(act);
    assert.deepEqual(seen, ['a'], 'five seconds is not enough at 0.1/s');
    clock.advance(5_000);
    await q.try(act);
    assert.deepEqual(seen, ['a', 'b']);
    clock.advance(10_000);
    await q.try(act);
    assert.deepEqual(seen, ['a', 'b', 'c']);
    assert.equal(q.length, 0);
  });

  it('an action asking for a retry keeps the value, due again later', async () => {
    const clock = new ManualClock();
    const q = new RateLimitedTimedQueue(100, clock);
    q.add('a', 'u');
    let calls = 0;
    await q.try(async () => { calls++; return { done: false, retryAfterMs: 50 }; });
    assert.equal(calls, 1);
    assert.equal(q.has('a'), true);
    await q.try(async () => { calls++; return done; });
    assert.equal(calls, 1, 'not due yet');
    clock.advance(60);
    await q.try(async () => { calls++; return done; });
    assert.equal(calls, 2);
    assert.equal(q.has('a'), false);
  });

  it('swapping to rate 0 stops processing; swapping back resumes at the rate', async () => {
    const clock = new ManualClock();
    const q = new RateLimitedTimedQueue(0.1, clock);
    const seen: string[] = [];
    const act = async (v: string): Promise<ActionResult> => { seen.push(v); return done; };
    q.add('a', 'u');
    await q.try(act);
    q.add('b', 'u');
    q.swapLimiter(0);
    assert.equal(q.qps, 0);
    clock.advance(60_000);
    await q.try(act);
    assert.deepEqual(seen, ['a'], 'full disruption: nothing is tainted');
    q.swapLimiter(0.1);
    await q.try(act);
    assert.deepEqual(seen, ['a'], 'the never-limiter had no token to give, so the new bucket starts empty');
    clock.advance(10_000);
    await q.try(act);
    assert.deepEqual(seen, ['a', 'b']);
  });

  it('a swap from an empty bucket starts the new one empty', async () => {
    const clock = new ManualClock();
    const q = new RateLimitedTimedQueue(0.1, clock);
    const seen: string[] = [];
    const act = async (v: string): Promise<ActionResult> => { seen.push(v); return done; };
    q.add('a', 'u');
    await q.try(act);
    q.add('b', 'u');
    q.swapLimiter(0.01);
    await q.try(act);
    assert.deepEqual(seen, ['a'], 'the token spent on a is not handed back by the swap');
    clock.advance(100_000);
    await q.try(act);
    assert.deepEqual(seen, ['a', 'b']);
  });

  it('removed values are not processed', async () => {
    const clock = new ManualClock();
    const q = new RateLimitedTimedQueue(10, clock);
    q.add('a', 'u');
    assert.equal(q.remove('a'), true);
    assert.equal(q.remove('a'), false);
    let calls = 0;
    await q.try(async () => { calls++; return done; });
    assert.equal(calls, 0);
  });
});

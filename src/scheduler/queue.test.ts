// The scheduling queue against upstream's PriorityQueue: priority then FIFO order, backoff 1 s doubling
// to 10 s, unschedulable pods waiting for a cluster event (or 5 minutes), updates that matter.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { ManualClock as FakeClock } from '../util/manual-clock.js';
import { SchedulingQueue } from './queue.js';
import { makePod } from './testing.js';

const pod = (name: string, priority = 0): Pod => makePod(name).priority(priority).obj();

/** Everything poppable right now, in order (pop never waits here: only ready pods are taken). */
async function drain(q: SchedulingQueue): Promise<string[]> {
  const out: string[] = [];
  while (q.pending.active > 0) out.push((await q.pop())!.metadata!.name!);
  return out;
}

describe('SchedulingQueue', () => {
  it('pops by priority, then first come first served', async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue(clock);
    const order: [string, number][] = [['low', 0], ['high', 100], ['mid-1', 50], ['mid-2', 50], ['low-2', 0]];
    for (const [name, prio] of order) { q.add(pod(name, prio)); clock.advance(1); }
    assert.deepEqual(await drain(q), ['high', 'mid-1', 'mid-2', 'low', 'low-2']);
  });

  it('a waiting pop gets the next pod added', async () => {
    const q = new SchedulingQueue(new FakeClock());
    const waiting = q.pop();
    q.add(pod('a'));
    assert.equal((await waiting)!.metadata!.name, 'a');
    q.close();
    assert.equal(await q.pop(), undefined);
  });

  it('adding a queued pod again only updates it', async () => {
    const q = new SchedulingQueue(new FakeClock());
    q.add(pod('a'));
    q.add({ ...pod('a'), metadata: { ...pod('a').metadata, labels: { v: '2' } } });
    assert.equal(q.pending.active, 1);
    assert.deepEqual((await q.pop())!.metadata!.labels, { v: '2' });
  });

  it('backs off failed attempts 1 s, 2 s, 4 s ... up to 10 s', async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue(clock);
    q.add(pod('a'));
    const waits: number[] = [];
    for (let attempt = 0; attempt < 6; attempt++) {
      await q.pop();
      q.retry(pod('a'));
      let waited = 0;
      while (q.pending.active === 0) { clock.advance(100); waited += 100; }
      waits.push(Math.ceil(waited / 1000) * 1000);
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('an unschedulable pod waits for a cluster event, after its backoff', async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue(clock);
    q.add(pod('a'));
    await q.pop();
    q.unschedulable(pod('a'));
    assert.deepEqual(q.pending, { active: 0, backoff: 0, unschedulable: 1 });
    clock.advance(60_000);
    assert.equal(q.pending.active, 0, 'no event: still waiting');
    q.moveAllToActive();
    assert.deepEqual(q.pending, { active: 1, backoff: 0, unschedulable: 0 });
    await q.pop();
    q.unschedulable(pod('a'));
    q.moveAllToActive();
    assert.deepEqual(q.pending, { active: 0, backoff: 1, unschedulable: 0 }, 'an event during the 2 s backoff: wait it out');
    clock.advance(2000);
    assert.deepEqual(q.pending, { active: 1, backoff: 0, unschedulable: 0 });
  });

  it('retries an unschedulable pod after 5 minutes even without an event', async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue(clock);
    q.add(pod('a'));
    await q.pop();
    q.unschedulable(pod('a'));
    clock.advance(4 * 60_000);
    assert.equal(q.pending.active, 0);
    clock.advance(61_000);
    assert.equal(q.pending.active, 1);
  });

  it('a status-only update does not retry an unschedulable pod; a spec or label change does', async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue(clock);
    const p = pod('a');
    q.add(p);
    await q.pop();
    q.unschedulable(p);
    clock.advance(5000);
    q.add({ ...p, status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] } });
    assert.deepEqual(q.pending, { active: 0, backoff: 0, unschedulable: 1 });
    q.add({ ...p, metadata: { ...p.metadata, resourceVersion: '9' } });
    assert.deepEqual(q.pending, { active: 0, backoff: 0, unschedulable: 1 }, 'resourceVersion alone is no change');
    q.add({ ...p, metadata: { ...p.metadata, labels: { tier: 'web' } } });
    assert.deepEqual(q.pending, { active: 1, backoff: 0, unschedulable: 0 });
  });

  it('an updated unschedulable pod still in backoff goes to backoff, not straight back', async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue(clock);
    const p = pod('a');
    q.add(p);
    await q.pop();
    q.unschedulable(p);
    q.add({ ...p, spec: { ...p.spec!, nodeSelector: { disk: 'ssd' } } });
    assert.deepEqual(q.pending, { active: 0, backoff: 1, unschedulable: 0 });
    clock.advance(1000);
    assert.equal(q.pending.active, 1);
  });

  it('a pod that failed queues behind pods of its priority that came meanwhile', async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue(clock);
    q.add(pod('first'));
    await q.pop();
    clock.advance(5);
    q.add(pod('second'));
    clock.advance(5);
    q.unschedulable(pod('first'));
    clock.advance(1000);
    q.moveAllToActive();
    assert.deepEqual(await drain(q), ['second', 'first']);
  });

  it('a higher-priority pod that failed still goes first', async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue(clock);
    q.add(pod('vip', 10));
    await q.pop();
    q.add(pod('normal'));
    q.unschedulable(pod('vip', 10));
    clock.advance(1000);
    q.moveAllToActive();
    assert.deepEqual(await drain(q), ['vip', 'normal']);
  });

  it('deleted and scheduled pods leave the queue', async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue(clock);
    q.add(pod('a'));
    q.add(pod('b'));
    q.delete(pod('a'));
    assert.equal(q.has(pod('a')), false);
    assert.deepEqual(await drain(q), ['b']);
    q.done(pod('b'));
    assert.equal(q.has(pod('b')), false);
    q.add(pod('c'));
    await q.pop();
    q.unschedulable(pod('c'));
    q.delete(pod('c'));
    q.moveAllToActive();
    assert.deepEqual(q.pending, { active: 0, backoff: 0, unschedulable: 0 });
  });

  it('a deleted and re-added pod is queued once', async () => {
    const clock = new FakeClock();
    const q = new SchedulingQueue(clock);
    q.add(pod('a'));
    q.delete(pod('a'));
    clock.advance(1);
    q.add(pod('a'));
    clock.advance(1);
    q.add(pod('b'));
    assert.deepEqual(await drain(q), ['a', 'b']);
  });
});

// The correlator against client-go's documented defaults: 10 similar events per 10 minutes before
// combining, identical events counted, 25 events per source+object then one per 5 minutes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventCorrelator, type EventFacts } from './event-correlator.js';

const facts = (over: Partial<EventFacts> = {}): EventFacts => ({
  component: 'replicaset-controller', host: '', kind: 'ReplicaSet', namespace: 'default', name: 'web-5d4f', uid: 'u1',
  apiVersion: 'apps/v1', fieldPath: '', type: 'Normal', reason: 'SuccessfulCreate', message: 'Created pod: web-5d4f-aaaaa', ...over,
});

describe('EventCorrelator', () => {
  it('counts identical events on the Event written first', () => {
    const c = new EventCorrelator();
    const first = c.correlate(facts(), 0);
    assert.ok(!first.skip && !first.existing && first.count === 1);
    c.written(first.key, { name: 'web-5d4f.1', count: 1, firstTimestamp: 't0' });
    const again = c.correlate(facts(), 1000);
    assert.ok(!again.skip);
    assert.deepEqual(again.existing, { name: 'web-5d4f.1', firstTimestamp: 't0' });
    assert.equal(again.count, 2);
    assert.equal(again.message, 'Created pod: web-5d4f-aaaaa');
  });

  it('combines the tenth similar event and those after it into one Event', () => {
    const c = new EventCorrelator();
    const out = Array.from({ length: 14 }, (_, i) => {
      const r = c.correlate(facts({ message: `Created pod: web-5d4f-${i}` }), i);
      if (!r.skip) c.written(r.key, { name: `ev-${r.key.length}-${i}`, count: r.count, firstTimestamp: String(i) });
      return r;
    });
    for (let i = 0; i < 9; i++) {
      const r = out[i]!;
      assert.ok(!r.skip && !r.existing && r.message === `Created pod: web-5d4f-${i}`, `event ${i} is written as it is`);
    }
    const tenth = out[9]!;
    assert.ok(!tenth.skip && !tenth.existing);
    assert.equal(tenth.message, '(combined from similar events): Created pod: web-5d4f-9');
    const last = out[13]!;
    assert.ok(!last.skip && last.existing, 'later similar events patch the combined Event');
    assert.equal(last.count, 5);
    assert.equal(last.message, '(combined from similar events): Created pod: web-5d4f-13');
  });

  it('starts over once similar events stop for ten minutes', () => {
    const c = new EventCorrelator();
    for (let i = 0; i < 9; i++) c.correlate(facts({ message: `m${i}` }), 0);
    const late = c.correlate(facts({ message: 'm9' }), 600_001);
    assert.ok(!late.skip && late.message === 'm9');
  });

  it('different reasons or objects are not similar', () => {
    const c = new EventCorrelator();
    for (let i = 0; i < 9; i++) c.correlate(facts({ message: `m${i}` }), 0);
    const other = c.correlate(facts({ reason: 'SuccessfulDelete', message: 'Deleted pod: x' }), 0);
    assert.ok(!other.skip && other.message === 'Deleted pod: x');
    const otherObject = c.correlate(facts({ name: 'db-1', uid: 'u2', message: 'm9' }), 0);
    assert.ok(!otherObject.skip && otherObject.message === 'm9');
  });

  it('lets 25 events through per source and object, then one per five minutes', () => {
    const c = new EventCorrelator();
    let passed = 0;
    for (let i = 0; i < 40; i++) if (!c.correlate(facts({ reason: `R${i % 3}`, message: `m${i}` }), 0).skip) passed++;
    assert.equal(passed, 25);
    assert.ok(c.correlate(facts({ message: 'x' }), 299_000).skip, 'no token before five minutes');
    assert.ok(!c.correlate(facts({ message: 'y' }), 300_000).skip, 'one token after five minutes');
    assert.ok(c.correlate(facts({ message: 'z' }), 300_001).skip);
    assert.ok(!c.correlate(facts({ name: 'other', uid: 'u9' }), 0).skip, 'other objects have their own budget');
  });
});

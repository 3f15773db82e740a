import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PriorityGate } from './priority-gate.js';

describe('PriorityGate', () => {
  it('runs at most `slots` tasks at once and hands free slots to the lowest priority number first', async () => {
    const gate = new PriorityGate(2);
    const started: string[] = [];
    let running = 0;
    let peak = 0;
    const releases = new Map<string, () => void>();
    const task = (name: string, priority: number): Promise<string> => gate.run(priority, async () => {
      started.push(name);
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((r) => releases.set(name, r));
      running--;
      return name;
    });
    const all = [task('a', 5), task('b', 5), task('late-low', 9), task('early-high', 1), task('tie-1', 3), task('tie-2', 3)];
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, ['a', 'b']);
    assert.equal(gate.waiting, 4);
    releases.get('a')!();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, ['a', 'b', 'early-high']);
    for (const n of ['b', 'early-high', 'tie-1', 'tie-2', 'late-low']) {
      releases.get(n)!();
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(started, ['a', 'b', 'early-high', 'tie-1', 'tie-2', 'late-low']);
    assert.deepEqual(await Promise.all(all), ['a', 'b', 'late-low', 'early-high', 'tie-1', 'tie-2']);
    assert.equal(peak, 2);
    assert.equal(gate.waiting, 0);
  });

  it('frees the slot when a task fails', async () => {
    const gate = new PriorityGate(1);
    await assert.rejects(gate.run(0, async () => { throw new Error('boom'); }), /boom/);
    assert.equal(await gate.run(0, async () => 'next'), 'next');
    assert.throws(() => new PriorityGate(0), /at least one slot/);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { trimHistory } from './history.js';

describe('trimHistory', () => {
  it('lets a history grow a quarter past its size, then cuts it back to the size, naming the newest event dropped', () => {
    const history = Array.from({ length: 10 }, (_, i) => i + 1);
    assert.equal(trimHistory(history, 8), undefined, '10 events of 8 are within the quarter');
    assert.deepEqual(history, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    history.push(11);
    assert.equal(trimHistory(history, 8), 3, 'the oldest three go; the history now starts after 3');
    assert.deepEqual(history, [4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('trims at once when the size leaves no quarter', () => {
    const history = [1, 2, 3, 4];
    assert.equal(trimHistory(history, 3), 1);
    assert.deepEqual(history, [2, 3, 4]);
  });
});

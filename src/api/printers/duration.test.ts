import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration, since } from './duration.js';

const s = 1000;
const m = 60 * s;
const h = 60 * m;
const d = 24 * h;
const y = 365 * d;

describe('humanDuration', () => {
  const cases: [ms: number, text: string][] = [
    [-3 * s, '<invalid>'],
    [-2 * s, '<invalid>'],
    // Go truncates toward zero: just under two seconds in the future is still "now"
    [-1999, '0s'],
    [-1 * s, '0s'],
    [-500, '0s'],
    [0, '0s'],
    [999, '0s'],
    [1 * s, '1s'],
    [59 * s, '59s'],
    [119 * s + 999, '119s'],
    [2 * m, '2m'],
    [2 * m + 1 * s, '2m1s'],
    [9 * m + 59 * s, '9m59s'],
    [10 * m, '10m'],
    [10 * m + 59 * s, '10m'],
    [179 * m + 59 * s, '179m'],
    [3 * h, '3h'],
    [3 * h + 1 * m, '3h1m'],
    [7 * h + 59 * m + 59 * s, '7h59m'],
    [8 * h, '8h'],
    [8 * h + 59 * m, '8h'],
    [47 * h + 59 * m, '47h'],
    [48 * h, '2d'],
    [49 * h, '2d1h'],
    [7 * d + 23 * h + 59 * m, '7d23h'],
    [8 * d, '8d'],
    [8 * d + 5 * h, '8d'],
    [729 * d + 23 * h, '729d'],
    [730 * d, '2y'],
    [731 * d, '2y1d'],
    [8 * y - 1 * d, '7y364d'],
    [8 * y, '8y'],
    [10 * y + 100 * d, '10y'],
  ];
  for (const [ms, text] of cases) {
    it(`${ms}ms -> ${text}`, () => assert.equal(humanDuration(ms), text));
  }
});

describe('since', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  const cases: [timestamp: string | undefined | null, text: string][] = [
    [undefined, '<unknown>'],
    [null, '<unknown>'],
    ['', '<unknown>'],
    ['not a time', '<unknown>'],
    ['2024-05-01T12:00:00Z', '0s'],
    ['2024-05-01T11:59:55Z', '5s'],
    ['2024-05-01T11:55:00Z', '5m'],
    ['2024-05-01T11:57:30Z', '2m30s'],
    ['2024-04-29T12:00:00Z', '2d'],
    ['2024-05-01T12:00:01Z', '0s'],
    ['2024-05-01T12:00:03Z', '<invalid>'],
  ];
  for (const [timestamp, text] of cases) {
    it(`${JSON.stringify(timestamp)} -> ${text}`, () => assert.equal(since(timestamp, now), text));
  }
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatQuantity, isQuantity, parseQuantity, QuantityError } from './quantity.js';

const formatWrong = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const suffixWrong = "unable to parse quantity's suffix";

const Ki = 1024n;
const Mi = Ki * Ki;
const Gi = Mi * Ki;

describe('parseQuantity: milli-units', () => {
  const cases: [input: string | number, milli: bigint][] = [
    ['0', 0n],
    ['1', 1000n],
    ['007', 7000n],
    ['500m', 500n],
    ['1.5', 1500n],
    ['0.5', 500n],
    ['.5', 500n],
    ['1.', 1000n],
    ['+1', 1000n],
    ['-1', -1000n],
    ['-1.5', -1500n],
    ['100m', 100n],
    ['1k', 1_000_000n],
    ['100M', 100_000_000_000n],
    ['1G', 1_000_000_000_000n],
    ['1.G', 1_000_000_000_000n],
    ['1T', 10n ** 15n],
    ['1P', 10n ** 18n],
    ['1E', 10n ** 21n],
    ['1Ki', 1024_000n],
    ['1Mi', Mi * 1000n],
    ['1Gi', Gi * 1000n],
    ['1.5Gi', (Gi * 3n / 2n) * 1000n],
    ['0.5Ki', 512_000n],
    ['1Ti', Gi * Ki * 1000n],
    ['1e3', 1_000_000n],
    ['1E3', 1_000_000n],
    ['1e+3', 1_000_000n],
    ['1e-3', 1n],
    ['1.5e3', 1_500_000n],
    ['12e-1', 1200n],
    // finer than a milli-unit rounds away from zero
    ['0.1m', 1n],
    ['0.0001', 1n],
    ['1500u', 2n],
    ['1000u', 1n],
    ['1u', 1n],
    ['1n', 1n],
    ['-0.1m', -1n],
    ['1e-100', 1n],
    ['0.000000000001Ki', 1n],
    // zero in any unit
    ['0Ei', 0n],
    ['0.000m', 0n],
    ['-0', 0n],
    // upstream's scanner reads these as zero
    ['.', 0n],
    ['-', 0n],
    ['Gi', 0n],
    ['m', 0n],
    // an exponent that does not fit an int32 wraps, as upstream's does
    ['1e9223372036854775807', 100n],
    // binary amounts are capped at the largest int64
    ['9Ei', ((1n << 63n) - 1n) * 1000n],
    // JSON decoding trims surrounding space before parsing
    [' 1 ', 1000n],
    // numbers, as JSON may carry them
    [2, 2000n],
    [0.5, 500n],
    [1e21, 10n ** 24n],
  ];
  for (const [input, milli] of cases) {
    it(`${JSON.stringify(input)} -> ${milli}m`, () => assert.equal(parseQuantity(input), milli));
  }
});

describe('parseQuantity: errors', () => {
  const cases: [input: string | number, message: string][] = [
    ['', formatWrong],
    ['   ', formatWrong],
    ['1.1.M', formatWrong],
    ['1+1.0M', formatWrong],
    ['0.1am', formatWrong],
    ['aoeu', formatWrong],
    ['1KiB', formatWrong],
    ['1e1.5', formatWrong],
    ['0x10', formatWrong],
    ['1 Ki', formatWrong],
    ['1,5', formatWrong],
    ['NaN', formatWrong],
    [Number.NaN, formatWrong],
    [Number.POSITIVE_INFINITY, formatWrong],
    ['0.1mi', suffixWrong],
    ['.5i', suffixWrong],
    ['1i', suffixWrong],
    ['-3.01i', suffixWrong],
    ['-3.01e-', suffixWrong],
    ['1K', suffixWrong],
    ['1ki', suffixWrong],
    ['1e', suffixWrong],
    ['1e+', suffixWrong],
    ['1ee3', suffixWrong],
    ['1e99999999999999999999', suffixWrong],
  ];
  for (const [input, message] of cases) {
    it(JSON.stringify(String(input)), () => {
      assert.throws(() => parseQuantity(input), (e: unknown) => {
        assert.ok(e instanceof QuantityError);
        assert.equal(e.message, message);
        return true;
      });
      assert.equal(isQuantity(input), false);
    });
  }

  it('an exponent too large to hold as milli-units is refused rather than computed', () => {
    assert.throws(() => parseQuantity('1e100000'), QuantityError);
  });

  it('isQuantity accepts only strings and numbers that parse', () => {
    assert.equal(isQuantity('250m'), true);
    assert.equal(isQuantity(3), true);
    assert.equal(isQuantity(null), false);
    assert.equal(isQuantity({}), false);
    assert.equal(isQuantity(true), false);
  });
});

describe('formatQuantity: upstream canonical text', () => {
  const cases: [milli: bigint, resource: string, text: string][] = [
    // cpu: DecimalSI
    [0n, 'cpu', '0'],
    [1n, 'cpu', '1m'],
    [500n, 'cpu', '500m'],
    [1000n, 'cpu', '1'],
    [1500n, 'cpu', '1500m'],
    [10_000n, 'cpu', '10'],
    [100_000n, 'cpu', '100'],
    [2_000_000n, 'cpu', '2k'],
    [1_500_000n, 'cpu', '1500'],
    [-500n, 'cpu', '-500m'],
    [10n ** 21n, 'cpu', '1E'],
    [10n ** 24n, 'cpu', '1e21'],
    // everything else: BinarySI, falling back to DecimalSI under 1024 or with a fraction
    [0n, 'memory', '0'],
    [Gi * 1000n, 'memory', '1Gi'],
    [(Gi * 3n / 2n) * 1000n, 'memory', '1536Mi'],
    [123n * Mi * 1000n, 'memory', '123Mi'],
    [2048_000n, 'memory', '2Ki'],
    [1536_000n, 'memory', '1536'],
    [1_000_000_000n, 'memory', '1000000'],
    [1023_000n, 'memory', '1023'],
    [1_000_000n, 'memory', '1k'],
    [500n, 'memory', '500m'],
    [1024_500n, 'memory', '1024500m'],
    [-2048_000n, 'memory', '-2Ki'],
    [Gi * Ki * Ki * 1000n, 'ephemeral-storage', '1Pi'],
  ];
  for (const [milli, resource, text] of cases) {
    it(`${milli}m of ${resource} -> ${text}`, () => assert.equal(formatQuantity(milli, resource), text));
  }

  it('round-trips through parseQuantity', () => {
    for (const q of ['1500m', '2', '128Mi', '1Gi', '3Ki', '500m', '7']) {
      for (const resource of ['cpu', 'memory']) {
        const milli = parseQuantity(q);
        assert.equal(parseQuantity(formatQuantity(milli, resource)), milli, `${q} as ${resource}`);
      }
    }
  });
});

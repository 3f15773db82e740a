/**
 * Resource quantities ("500m", "1Gi", "1e3") as exact integers of milli-units, so sums and comparisons
 * (QoS class, scheduling fit) never suffer floating-point error. Values finer than a milli-unit round
 * away from zero, as upstream's Quantity.MilliValue does.
 */

const binaryExp: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const decimalExp: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

const formatWrong = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const suffixWrong = "unable to parse quantity's suffix";
const numericWrong = 'unable to parse numeric part of quantity';

/** Exponents past this are not representable as milli-units here (upstream keeps a separate scale). */
const maxExponent = 10_000;

/** Thrown for text that is not a quantity, with upstream's message. */
export class QuantityError extends Error {}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Splits the text the way upstream's scanner does: sign, digits, optional fraction, suffix. Its quirks
 * are kept: "." and "-" read as zero, "1." and "1.G" are fine, and a suffix alone ("Gi") is zero of it.
 */
function scan(str: string): { negative: boolean; num: string; denom: string; suffix: string } {
  let pos = 0;
  const end = str.length;
  let negative = false;
  if (str[0] === '-') { negative = true; pos++; } else if (str[0] === '+') pos++;
  while (pos < end && str[pos] === '0') pos++;
  if (pos >= end) return { negative, num: '0', denom: '', suffix: '' };
  let i = pos;
  while (isDigit(str[i])) i++;
  const num = str.slice(pos, i) || '0';
  pos = i;
  let denom = '';
  if (str[pos] === '.') {
    pos++;
    i = pos;
    while (isDigit(str[i])) i++;
    denom = str.slice(pos, i);
    pos = i;
  }
  const suffixStart = pos;
  while (pos < end && 'eEinumkKMGTP'.includes(str[pos]!)) pos++;
  if (str[pos] === '-' || str[pos] === '+') pos++;
  while (isDigit(str[pos])) pos++;
  if (pos < end) throw new QuantityError(formatWrong);
  return { negative, num, denom, suffix: str.slice(suffixStart) };
}

/** Base and exponent of a suffix; undefined when upstream does not know it. */
function interpretSuffix(suffix: string): { base: 2 | 10; exp: number } | undefined {
  if (Object.prototype.hasOwnProperty.call(decimalExp, suffix)) return { base: 10, exp: decimalExp[suffix]! };
  if (Object.prototype.hasOwnProperty.call(binaryExp, suffix)) return { base: 2, exp: binaryExp[suffix]! };
  if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E')) {
    const e = suffix.slice(1);
    if (!/^[+-]?[0-9]+$/.test(e)) return undefined;
    const n = BigInt(e);
    if (n < -(1n << 63n) || n >= 1n << 63n) return undefined; // strconv.ParseInt(…, 10, 64)
    return { base: 10, exp: Number(BigInt.asIntN(32, n)) }; // upstream keeps it as an int32
  }
  return undefined;
}

/** Parses a quantity to milli-units; throws QuantityError with upstream's wording when malformed. */
export function parseQuantity(q: string | number): bigint {
  // Decoding JSON trims the text before parsing (Quantity.UnmarshalJSON), so surrounding space is fine.
  const text = typeof q === 'number' ? String(q) : q.trim();
  if (text.length === 0) throw new QuantityError(formatWrong);
  const { negative, num, denom, suffix } = scan(text);
  const s = interpretSuffix(suffix);
  if (!s) throw new QuantityError(suffixWrong);
  const digits = BigInt(num + denom);
  // value = digits × 10^-len(denom) × (2^exp or 10^exp); in milli-units, one more 10^3.
  let p = 3 - denom.length;
  let multiplier = 1n;
  if (s.base === 2) multiplier = 1n << BigInt(s.exp);
  else p += s.exp;
  let milli: bigint;
  if (digits === 0n) milli = 0n;
  else if (p > maxExponent) throw new QuantityError(numericWrong);
  else if (p >= 0) milli = digits * multiplier * 10n ** BigInt(p);
  else if (-p > num.length + denom.length + 20) milli = 1n; // far below a milli-unit: rounds up to one
  else {
    const div = 10n ** BigInt(-p);
    const n = digits * multiplier;
    milli = n / div + (n % div === 0n ? 0n : 1n);
  }
  // Upstream caps binary-suffixed amounts at the largest int64.
  if (s.base === 2 && milli > maxBinaryMilli) milli = maxBinaryMilli;
  return negative ? -milli : milli;
}

const maxBinaryMilli = ((1n << 63n) - 1n) * 1000n;

/** True when the text parses as a quantity. */
export function isQuantity(q: unknown): boolean {
  if (typeof q !== 'string' && typeof q !== 'number') return false;
  try { parseQuantity(q); return true; } catch { return false; }
}

const decimalSuffix: Record<number, string> = { [-9]: 'n', [-6]: 'u', [-3]: 'm', 0: '', 3: 'k', 6: 'M', 9: 'G', 12: 'T', 15: 'P', 18: 'E' };
const binarySuffix = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];

/** Upstream's canonical DecimalSI text: the mantissa with an exponent that is a multiple of three. */
function formatDecimal(milli: bigint): string {
  if (milli === 0n) return '0';
  const negative = milli < 0n;
  let m = negative ? -milli : milli;
  let exp = -3;
  while (m >= 10n && m % 10n === 0n) { m /= 10n; exp++; }
  const r = ((exp % 3) + 3) % 3;
  if (r !== 0) { m *= 10n ** BigInt(r); exp -= r; }
  const suffix = exp <= 18 ? decimalSuffix[exp]! : `e${exp}`;
  return `${negative ? '-' : ''}${m}${suffix}`;
}

/**
 * Formats milli-units as upstream's Quantity.String() does: cpu in the DecimalSI form ("1500m", "2",
 * "2k"), every other resource in the BinarySI form ("1Gi", "1536Mi", "1000000"), which falls back to
 * DecimalSI for values under 1024 or with a fractional part ("500m", "1k").
 */
export function formatQuantity(milli: bigint, resource: string): string {
  if (resource === 'cpu') return formatDecimal(milli);
  const units = milli / 1000n;
  if (milli % 1000n !== 0n || (units > -1024n && units < 1024n)) return formatDecimal(milli);
  const negative = units < 0n;
  let v = negative ? -units : units;
  let i = 0;
  while (v >= 1024n && v % 1024n === 0n && i < binarySuffix.length - 1) { v /= 1024n; i++; }
  return `${negative ? '-' : ''}${v}${binarySuffix[i]}`;
}

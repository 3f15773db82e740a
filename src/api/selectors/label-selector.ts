import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import { badRequest } from '../status.js';
import { isQualifiedName, isValidLabelValue } from '../validation/names.js';

export type LabelOperator = 'in' | 'notin' | 'exists' | '!' | '=' | '==' | '!=' | 'gt' | 'lt';

/** One clause of a label selector: `key op values`. */
export interface Requirement {
  readonly key: string;
  readonly op: LabelOperator;
  readonly values: readonly string[];
}

/** A parsed label selector: all requirements must hold. An empty selector matches everything. */
export class Selector {
  readonly requirements: readonly Requirement[];
  /** True for the selector that matches nothing (a nil LabelSelector). */
  readonly nothing: boolean;

  constructor(requirements: readonly Requirement[], nothing = false) {
    this.requirements = [...requirements].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    this.nothing = nothing;
  }

  static everything(): Selector { return new Selector([]); }
  static nothing(): Selector { return new Selector([], true); }

  empty(): boolean { return !this.nothing && this.requirements.length === 0; }

  matches(labels: Record<string, string> | undefined): boolean {
    if (this.nothing) return false;
    const l = labels ?? {};
    for (const r of this.requirements) if (!requirementMatches(r, l)) return false;
    return true;
  }

  /** The canonical text form, requirements sorted by key, as upstream prints selectors. */
  toString(): string {
    return this.requirements.map(requirementString).join(',');
  }
}

/** Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, within int64. */
function parseInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n >= -(1n << 63n) && n < (1n << 63n) ? n : undefined;
}

function requirementMatches(r: Requirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = labels[r.key];
  switch (r.op) {
    case '=': case '==': case 'in': return has && r.values.includes(v!);
    case '!=': case 'notin': return !has || !r.values.includes(v!);
    case 'exists': return has;
    case '!': return !has;
    case 'gt': case 'lt': {
      if (!has || r.values.length !== 1) return false;
      const n = parseInt64(v!);
      const bound = parseInt64(r.values[0]!);
      if (n === undefined || bound === undefined) return false;
      return r.op === 'gt' ? n > bound : n < bound;
    }
  }
}

const opText: Record<LabelOperator, string> = { in: ' in ', notin: ' notin ', exists: '', '!': '', '=': '=', '==': '==', '!=': '!=', gt: '>', lt: '<' };

function requirementString(r: Requirement): string {
  if (r.op === 'exists') return r.key;
  if (r.op === '!') return `!${r.key}`;
  const values = r.values.length === 1 ? r.values[0]! : [...r.values].sort().join(',');
  return r.op === 'in' || r.op === 'notin' ? `${r.key}${opText[r.op]}(${values})` : `${r.key}${opText[r.op]}${values}`;
}

/** Go's %q for the strings that reach these messages. */
const quote = (v: string): string => JSON.stringify(v);

/** Joins field errors as upstream's aggregate error does: one as is, several in brackets. */
function aggregate(errs: string[]): string {
  const uniq = [...new Set(errs)];
  return uniq.length === 1 ? uniq[0]! : `[${uniq.join(', ')}]`;
}

function keyErrors(key: string, field: string): string[] {
  const errs = isQualifiedName(key);
  return errs.length > 0 ? [`${field}: Invalid value: ${quote(key)}: ${errs.join('; ')}`] : [];
}

/**
 * Upstream's NewRequirement checks; the messages name the field as it does (`key`, `values`,
 * `values[i][key]`). Returns the problems, empty when the requirement is valid.
 */
function requirementErrors(key: string, op: LabelOperator, values: readonly string[]): string[] {
  const errs = keyErrors(key, 'key');
  // field.Invalid prints the bad value as JSON; an empty Go slice of values is nil there.
  const list = values.length === 0 ? 'null' : JSON.stringify(values);
  switch (op) {
    case 'in': case 'notin':
      if (values.length === 0) errs.push(`values: Invalid value: ${list}: for 'in', 'notin' operators, values set can't be empty`);
      break;
    case '=': case '==': case '!=':
      if (values.length !== 1) errs.push(`values: Invalid value: ${list}: exact-match compatibility requires one single value`);
      break;
    case 'exists': case '!':
      if (values.length !== 0) errs.push(`values: Invalid value: ${list}: values set must be empty for exists and does not exist`);
      break;
    case 'gt': case 'lt':
      if (values.length !== 1) errs.push(`values: Invalid value: ${list}: for 'Gt', 'Lt' operators, exactly one value is required`);
      values.forEach((v, i) => {
        if (parseInt64(v) === undefined) errs.push(`values[${i}]: Invalid value: ${quote(v)}: for 'Gt', 'Lt' operators, the value must be an integer`);
      });
      break;
  }
  values.forEach((v, i) => {
    const ve = isValidLabelValue(v);
    if (ve.length > 0) errs.push(`values[${i}][${key}]: Invalid value: ${quote(v)}: ${ve.join('; ')}`);
  });
  return errs;
}

type Token =
  | 'end' | 'error' | ')' | ',' | '!' | '==' | '=' | '>' | 'ident' | 'in' | '<' | '!=' | 'notin' | '(';

const literalTokens: Record<string, Token> = {
  ')': ')', ',': ',', '!': '!', '==': '==', '=': '=', '>': '>', 'in': 'in', '<': '<', '!=': '!=', 'notin': 'notin', '(': '(',
};

const isWhitespace = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isSpecial = (c: string): boolean => '=!(),><'.includes(c);

/** Splits selector text into tokens exactly as upstream's lexer does (longest known operator wins). */
function lex(s: string): { tok: Token; lit: string }[] {
  const out: { tok: Token; lit: string }[] = [];
  let i = 0;
  for (;;) {
    while (i < s.length && isWhitespace(s[i]!)) i++;
    if (i >= s.length) { out.push({ tok: 'end', lit: '' }); return out; }
    if (isSpecial(s[i]!)) {
      let buf = '';
      let last: { tok: Token; lit: string } | undefined;
      while (i < s.length && isSpecial(s[i]!)) {
        buf += s[i];
        const t = Object.prototype.hasOwnProperty.call(literalTokens, buf) ? literalTokens[buf] : undefined;
        if (t) { last = { tok: t, lit: buf }; i++; }
        else if (last) break;
        else i++;
      }
      out.push(last ?? { tok: 'error', lit: `error expected: keyword found '${buf}'` });
    } else {
      const start = i;
      while (i < s.length && !isSpecial(s[i]!) && !isWhitespace(s[i]!)) i++;
      const word = s.slice(start, i);
      out.push({ tok: word === 'in' || word === 'notin' ? word : 'ident', lit: word });
    }
  }
}

/** A requirement that does not parse; reported as a 400 prefixed "unable to parse requirement: ". */
class SelectorSyntaxError extends Error {}

/**
 * Parses the `labelSelector` query syntax: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`,
 * `k>1`, `k<1`, comma-separated, as upstream's labels.Parse does. Throws an ApiError (400) on bad syntax,
 * with upstream's message.
 */
export function parseLabelSelector(text: string | undefined): Selector {
  if (text === undefined) return Selector.everything();
  const items = lex(text);
  let pos = 0;
  // In the "values" context the keywords `in`/`notin` are plain identifiers.
  const peek = (values = true): { tok: Token; lit: string } => {
    const it = items[pos]!;
    return values && (it.tok === 'in' || it.tok === 'notin') ? { tok: 'ident', lit: it.lit } : it;
  };
  const next = (values = true): { tok: Token; lit: string } => { const it = peek(values); pos++; return it; };
  const fail = (msg: string): never => { throw new SelectorSyntaxError(msg); };

  const parseRequirement = (): Requirement => {
    let op: LabelOperator | undefined;
    let t = next();
    if (t.tok === '!') { op = '!'; t = next(); }
    if (t.tok !== 'ident') fail(`found '${t.lit}', expected: identifier`);
    const key = t.lit;
    const ke = keyErrors(key, '<nil>');
    if (ke.length > 0) fail(ke[0]!);
    const after = peek().tok;
    if (after === 'end' || after === ',') op ??= 'exists';
    if (op === 'exists' || op === '!') return checked(key, op, []);
    const o = next(false);
    const binary: Partial<Record<Token, LabelOperator>> = { in: 'in', '=': '=', '==': '==', '>': 'gt', '<': 'lt', notin: 'notin', '!=': '!=' };
    const bop = binary[o.tok];
    if (!bop) return fail(`found '${o.lit}', expected: in, notin, =, ==, !=, gt, lt`);
    let values: Set<string>;
    if (bop === 'in' || bop === 'notin') {
      const open = next();
      if (open.tok !== '(') fail(`found '${open.lit}' expected: '('`);
      const first = peek();
      if (first.tok === ')') { next(); values = new Set(['']); }
      else if (first.tok === 'ident' || first.tok === ',') {
        values = new Set();
        for (;;) {
          const v = next();
          if (v.tok === 'ident') {
            values.add(v.lit);
            const t2 = peek();
            if (t2.tok === ',') continue;
            if (t2.tok === ')') break;
            fail(`found '${t2.lit}', expected: ',' or ')'`);
          } else if (v.tok === ',') {
            if (values.size === 0) values.add('');
            const t2 = peek();
            if (t2.tok === ')') { values.add(''); break; }
            if (t2.tok === ',') { next(); values.add(''); }
          } else {
            fail(`found '${v.lit}', expected: ',', or identifier`);
          }
        }
        if (next().tok !== ')') fail(`found '${first.lit}', expected: ')'`);
      } else {
        return fail(`found '${first.lit}', expected: ',', ')' or identifier`);
      }
    } else {
      const v = peek();
      if (v.tok === 'end' || v.tok === ',') values = new Set(['']);
      else {
        next();
        if (v.tok !== 'ident') fail(`found '${v.lit}', expected: identifier`);
        values = new Set([v.lit]);
      }
    }
    return checked(key, bop, [...values].sort());
  };
  const checked = (key: string, op: LabelOperator, values: string[]): Requirement => {
    const errs = requirementErrors(key, op, values);
    if (errs.length > 0) fail(aggregate(errs));
    return { key, op, values };
  };

  const reqs: Requirement[] = [];
  for (;;) {
    const t = peek();
    if (t.tok === 'end') break;
    if (t.tok !== 'ident' && t.tok !== '!') throw badRequest(`found '${t.lit}', expected: !, identifier, or 'end of string'`);
    try {
      reqs.push(parseRequirement());
    } catch (e) {
      if (e instanceof SelectorSyntaxError) throw badRequest(`unable to parse requirement: ${e.message}`);
      throw e;
    }
    const sep = next();
    if (sep.tok === 'end') break;
    if (sep.tok !== ',') throw badRequest(`found '${sep.lit}', expected: ',' or 'end of string'`);
    const t2 = peek();
    if (t2.tok !== 'ident' && t2.tok !== '!') throw badRequest(`found '${t2.lit}', expected: identifier after ','`);
  }
  return new Selector(reqs);
}

/**
 * Converts a `metav1.LabelSelector` as upstream's LabelSelectorAsSelector does: a missing selector
 * matches nothing, one without requirements everything; an invalid requirement throws a 400.
 */
export function fromLabelSelector(sel: LabelSelector | undefined | null): Selector {
  if (!sel) return Selector.nothing();
  const reqs: Requirement[] = [];
  const add = (key: string, op: LabelOperator, values: string[]): void => {
    const errs = requirementErrors(key, op, values);
    if (errs.length > 0) throw badRequest(aggregate(errs));
    reqs.push({ key, op, values });
  };
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) add(key, '=', [value]);
  for (const e of sel.matchExpressions ?? []) {
    const values = [...(e.values ?? [])];
    switch (e.operator) {
      case 'In': add(e.key, 'in', values); break;
      case 'NotIn': add(e.key, 'notin', values); break;
      case 'Exists': add(e.key, 'exists', values); break;
      case 'DoesNotExist': add(e.key, '!', values); break;
      default: throw badRequest(`${JSON.stringify(e.operator)} is not a valid label selector operator`);
    }
  }
  return new Selector(reqs);
}

/** `k=v,k2=v2` for a label map, sorted by key; `<none>` when empty, as upstream's FormatLabels. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const keys = Object.keys(labels ?? {}).sort();
  if (keys.length === 0) return '<none>';
  return keys.map((k) => `${k}=${labels![k]}`).join(',');
}

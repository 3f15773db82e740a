import { badRequest } from '../status.js';

/** One clause of a field selector. */
export interface FieldRequirement {
  readonly field: string;
  readonly op: '=' | '!=';
  readonly value: string;
}

/** Reads the value of a selectable field from an object; undefined means the field is not set (""). */
export type FieldGetter = (obj: any) => string | undefined;

/** A parsed field selector: all clauses must hold. */
export class FieldSelector {
  constructor(readonly requirements: readonly FieldRequirement[]) {}

  empty(): boolean { return this.requirements.length === 0; }

  /** Checks the fields against a kind's selectable fields; throws 400 for a field the kind does not support. */
  validate(fields: Record<string, FieldGetter>): void {
    for (const r of this.requirements) {
      if (!Object.prototype.hasOwnProperty.call(fields, r.field)) {
        throw badRequest(`field label not supported: ${r.field}`);
      }
    }
  }

  matches(obj: unknown, fields: Record<string, FieldGetter>): boolean {
    for (const r of this.requirements) {
      const get = fields[r.field];
      const v = get ? (get(obj) ?? '') : '';
      if (r.op === '=' ? v !== r.value : v === r.value) return false;
    }
    return true;
  }

  /** The value this selector pins a field to with `=`, if any (used to narrow lists by name). */
  exact(field: string): string | undefined {
    return this.requirements.find((r) => r.field === field && r.op === '=')?.value;
  }
}

/** Splits on commas not escaped by a backslash; the escapes stay in the terms (upstream's splitTerms). */
function splitTerms(s: string): string[] {
  if (s.length === 0) return [];
  const out: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') { out.push(s.slice(start, i)); start = i + 1; }
  }
  out.push(s.slice(start));
  return out;
}

/** The first operator in the term splits it; the field side takes no escapes (upstream's splitTerm). */
function splitTerm(term: string): { lhs: string; op: '=' | '!='; rhs: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of ['!=', '==', '='] as const) {
      if (term.startsWith(op, i)) return { lhs: term.slice(0, i), op: op === '!=' ? '!=' : '=', rhs: term.slice(i + op.length) };
    }
  }
  return undefined;
}

/** Undoes `\\`, `\,` and `\=`; any other escape, or a bare `,`/`=`, is a 400 with upstream's wording. */
function unescapeValue(s: string): string {
  if (!/[\\,=]/.test(s)) return s;
  let out = '';
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c !== '\\' && c !== ',' && c !== '=') throw badRequest(`invalid field selector: invalid escape sequence: \\${c}`);
      out += c;
      inSlash = false;
    } else if (c === '\\') inSlash = true;
    // Go prints the offending rune with %v, which is its code point.
    else if (c === ',' || c === '=') throw badRequest(`invalid field selector: unescaped character in value: ${c.codePointAt(0)}`);
    else out += c;
  }
  if (inSlash) throw badRequest('invalid field selector: invalid escape sequence: \\');
  return out;
}

/**
 * Parses `a=b,c!=d,e==f` as upstream's fields.ParseSelector does: terms are sorted, the field name is
 * taken verbatim (no trimming, no escapes), the value is unescaped. Throws a 400 on bad syntax.
 */
export function parseFieldSelector(text: string | undefined): FieldSelector {
  if (text === undefined) return new FieldSelector([]);
  const reqs: FieldRequirement[] = [];
  for (const part of splitTerms(text).sort()) {
    if (part === '') continue;
    const t = splitTerm(part);
    if (!t) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    reqs.push({ field: t.lhs, op: t.op, value: unescapeValue(t.rhs) });
  }
  return new FieldSelector(reqs);
}

import { resolve, typeNameOf, type Schema } from './schema.js';
import { isPlainObject } from '../types.js';

/** What a strict decode of an object against its schema found. */
export interface FieldCheckResult {
  /** Paths of fields the schema does not know, as upstream prints them (`spec.template.spec.containers[0].foo`). */
  readonly unknown: string[];
  /** Values of the wrong JSON type, worded like Go's decoder (`cannot unmarshal string into ... of type int32`). */
  readonly typeErrors: string[];
}

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

function goType(s: Schema | undefined): string {
  const r = resolve(s);
  if (!r) return 'interface {}';
  if (r['x-kubernetes-int-or-string']) return 'intstr.IntOrString';
  switch (r.type) {
    case 'integer': return 'int32';
    case 'number': return 'float64';
    case 'string': return 'string';
    case 'boolean': return 'bool';
    case 'array': return `[]${goType(r.items)}`;
    case 'object': {
      const n = typeNameOf(s) ?? typeNameOf(r.items);
      if (n) return n.split('.').slice(-2).join('.');
      if (r.additionalProperties && typeof r.additionalProperties === 'object') return `map[string]${goType(r.additionalProperties)}`;
      return 'map[string]interface {}';
    }
    default: return 'interface {}';
  }
}

/**
 * Walks `value` against `schema`, collecting unknown fields and type mismatches. `null` is accepted
 * anywhere (it means "unset"), as Go's decoder does. With `prune`, unknown fields are removed.
 */
export function checkFields(value: unknown, schema: Schema, prune = false): FieldCheckResult {
  const unknown: string[] = [];
  const typeErrors: string[] = [];
  const mismatch = (v: unknown, s: Schema | undefined, path: string, owner: string): void => {
    typeErrors.push(`json: cannot unmarshal ${jsonType(v)} into Go struct field ${owner}${path ? '.' + path : ''} of type ${goType(s)}`);
  };
  const walk = (v: unknown, s: Schema | undefined, path: string, owner: string): void => {
    if (v === null || v === undefined) return;
    const r = resolve(s);
    if (!r || r['x-kubernetes-preserve-unknown-fields']) return;
    if (r['x-kubernetes-int-or-string']) {
      if (typeof v !== 'string' && typeof v !== 'number') mismatch(v, s, path, owner);
      return;
    }
    switch (r.type) {
      case 'string': if (typeof v !== 'string') mismatch(v, s, path, owner); return;
      case 'integer': if (typeof v !== 'number' || !Number.isInteger(v)) mismatch(v, s, path, owner); return;
      case 'number': if (typeof v !== 'number') mismatch(v, s, path, owner); return;
      case 'boolean': if (typeof v !== 'boolean') mismatch(v, s, path, owner); return;
      case 'array':
        if (!Array.isArray(v)) { mismatch(v, s, path, owner); return; }
        for (let i = 0; i < v.length; i++) walk(v[i], r.items, `${path}[${i}]`, owner);
        return;
      case 'object': {
        if (!isPlainObject(v)) { mismatch(v, s, path, owner); return; }
        const name = typeNameOf(s);
        const nextOwner = name ? name.slice(name.lastIndexOf('.') + 1) : owner;
        // (Removing the field in hand while enumerating is safe: only fields not yet visited would be skipped.)
        for (const k in v) {
          const fv = v[k];
          const child = path ? `${path}.${k}` : k;
          if (r.properties && Object.prototype.hasOwnProperty.call(r.properties, k)) walk(fv, r.properties[k], child, nextOwner);
          else if (r.additionalProperties && typeof r.additionalProperties === 'object') walk(fv, r.additionalProperties, child, nextOwner);
          else if (r.properties || r.additionalProperties === false) {
            unknown.push(child);
            // Go's decoder has nowhere to put an unknown field: it is dropped, as upstream does outside Strict.
            if (prune) delete (v as Record<string, unknown>)[k];
          }
        }
        return;
      }
      default: return;
    }
  };
  walk(value, schema, '', typeNameOf(schema)?.split('.').pop() ?? '');
  return { unknown, typeErrors };
}

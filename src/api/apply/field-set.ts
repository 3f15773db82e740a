import { fieldSchema, itemSchema, resolve, type Schema } from '../schema/schema.js';
import { isPlainObject } from '../types.js';

/**
 * Sets of field paths, as server-side apply tracks ownership (sigs.k8s.io/structured-merge-diff): a path
 * is a list of elements `f:<field>`, `k:<json of list-map keys>` or `v:<json of a set value>`; a set holds
 * the paths a manager owns. Paths are kept as strings joined by newlines (elements are JSON-escaped and
 * never contain one).
 */
export type FieldPath = readonly string[];

export const pathKey = (p: FieldPath): string => p.join('\n');
export const keyPath = (k: string): FieldPath => (k === '' ? [] : k.split('\n'));

/** What kind of container a schema node is, for ownership purposes. */
type Shape =
  | { kind: 'scalar' }
  | { kind: 'struct'; schema: Schema }
  | { kind: 'map'; schema: Schema }
  | { kind: 'atomicList' }
  | { kind: 'setList' }
  | { kind: 'mapList'; keys: string[]; item: Schema | undefined };

function shapeOf(s: Schema | undefined, value: unknown): Shape {
  const r = resolve(s);
  if (Array.isArray(value)) {
    const lt = s?.['x-kubernetes-list-type'] ?? r?.['x-kubernetes-list-type'];
    const keys = s?.['x-kubernetes-list-map-keys'] ?? r?.['x-kubernetes-list-map-keys'];
    if (lt === 'map' && keys && keys.length > 0) return { kind: 'mapList', keys, item: itemSchema(s) };
    if (lt === 'set') return { kind: 'setList' };
    return { kind: 'atomicList' };
  }
  if (isPlainObject(value)) {
    if (!r || r['x-kubernetes-preserve-unknown-fields']) return { kind: 'scalar' };
    if (r.properties) return { kind: 'struct', schema: r };
    if (r.additionalProperties && typeof r.additionalProperties === 'object') return { kind: 'map', schema: r };
    return { kind: 'scalar' };
  }
  return { kind: 'scalar' };
}

/** The `k:` element of a list-map item: its key fields, in key order, as JSON. */
function itemKey(item: unknown, keys: string[]): string | undefined {
  if (!isPlainObject(item)) return undefined;
  const o: Record<string, unknown> = {};
  for (const k of keys) {
    if (item[k] === undefined) {
      // Upstream defaults a missing `protocol` key of ports to TCP; other missing keys make the item unkeyable.
      if (k === 'protocol') o[k] = 'TCP';
      else continue;
    } else o[k] = item[k];
  }
  return `k:${JSON.stringify(o)}`;
}

/**
 * Every leaf path of `value`: scalars, atomic lists and empty maps are leaves; list-map items and set
 * values are members themselves (their own path) as well as containers of their fields.
 */
export function leafPaths(value: unknown, schema: Schema | undefined): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, s: Schema | undefined, path: string[]): void => {
    const shape = shapeOf(s, v);
    switch (shape.kind) {
      case 'scalar':
      case 'atomicList':
        if (path.length > 0) out.add(pathKey(path));
        return;
      case 'struct':
      case 'map': {
        const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== null && x !== undefined);
        if (entries.length === 0) {
          if (path.length > 0) out.add(pathKey(path));
          return;
        }
        for (const [k, x] of entries) walk(x, fieldSchema(shape.schema, k), [...path, `f:${k}`]);
        return;
      }
      case 'setList':
        for (const x of v as unknown[]) out.add(pathKey([...path, `v:${JSON.stringify(x)}`]));
        return;
      case 'mapList':
        for (const item of v as unknown[]) {
          const k = itemKey(item, shape.keys);
          if (!k) continue;
          const p = [...path, k];
          out.add(pathKey(p));
          if (isPlainObject(item)) {
            const r = resolve(shape.item);
            for (const [f, x] of Object.entries(item)) if (x !== null && x !== undefined) walk(x, r ? fieldSchema(r, f) : undefined, [...p, `f:${f}`]);
          }
        }
        return;
    }
  };
  walk(value, schema, []);
  return out;
}

/** Reads the value at a path; undefined when absent. */
export function valueAt(obj: unknown, path: FieldPath): unknown {
  let cur: unknown = obj;
  for (const el of path) {
    if (cur === undefined || cur === null) return undefined;
    if (el.startsWith('f:')) {
      cur = isPlainObject(cur) ? cur[el.slice(2)] : undefined;
    } else if (el.startsWith('k:')) {
      if (!Array.isArray(cur)) return undefined;
      const key = JSON.parse(el.slice(2)) as Record<string, unknown>;
      cur = cur.find((item) => isPlainObject(item) && Object.entries(key).every(([k, v]) => JSON.stringify(item[k] ?? (k === 'protocol' ? 'TCP' : undefined)) === JSON.stringify(v)));
    } else if (el.startsWith('v:')) {
      if (!Array.isArray(cur)) return undefined;
      const want = el.slice(2);
      cur = cur.find((x) => JSON.stringify(x) === want);
    } else return undefined;
  }
  return cur;
}

/** Removes the value at a path (a field, a list-map item or a set value); a no-op when absent. */
export function removeAt(obj: unknown, path: FieldPath): void {
  if (path.length === 0) return;
  const parent = valueAt(obj, path.slice(0, -1));
  const el = path[path.length - 1]!;
  if (el.startsWith('f:') && isPlainObject(parent)) {
    delete parent[el.slice(2)];
  } else if (Array.isArray(parent)) {
    const target = valueAt(obj, path);
    const i = parent.indexOf(target);
    if (i >= 0) parent.splice(i, 1);
  }
}

/** Ancestors of a path key, nearest first. */
export function ancestors(key: string): string[] {
  const p = keyPath(key);
  const out: string[] = [];
  for (let i = p.length - 1; i > 0; i--) out.push(pathKey(p.slice(0, i)));
  return out;
}

/** Serialises a set as `fieldsV1` (`{"f:spec":{"f:replicas":{}}}`, `"."` marking a member that also has children). */
export function toFieldsV1(set: Set<string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const key of [...set].sort()) {
    let node = root;
    for (const el of keyPath(key)) node = (node[el] ??= {}) as Record<string, unknown>;
  }
  const mark = (node: Record<string, unknown>, prefix: string[]): void => {
    for (const [el, child] of Object.entries(node)) {
      if (el === '.') continue;
      const p = [...prefix, el];
      const c = child as Record<string, unknown>;
      if (Object.keys(c).length > 0 && set.has(pathKey(p))) c['.'] = {};
      mark(c, p);
    }
  };
  mark(root, []);
  return root;
}

/** Reads `fieldsV1` back into a set. */
export function fromFieldsV1(fields: unknown): Set<string> {
  const out = new Set<string>();
  const walk = (node: unknown, prefix: string[]): void => {
    if (!isPlainObject(node)) return;
    const keys = Object.keys(node);
    if (prefix.length > 0 && (keys.length === 0 || keys.includes('.'))) out.add(pathKey(prefix));
    for (const k of keys) if (k !== '.') walk(node[k], [...prefix, k]);
  };
  walk(fields, []);
  return out;
}

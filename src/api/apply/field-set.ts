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

const join = (prefix: string, el: string): string => (prefix === '' ? el : `${prefix}\n${el}`);

function nonNull(o: Record<string, unknown>): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const k in o) if (o[k] !== null && o[k] !== undefined) out.push([k, o[k]]);
  return out;
}

/**
 * Where a walk of leaves puts what it finds: the paths in a set, or the nodes of a `fieldsV1` tree. `P` is a place:
 * a path, or a tree node.
 */
interface LeafSink<P> {
  /** The place of element `el` under `at`, not yet recorded. */
  child(at: P, el: string): P;
  /** `at` (element `el` of `parent`) was found to hold a leaf: record it under its parent. */
  keep(parent: P, el: string, at: P): void;
  /** `at` is a leaf, or a member (a list-map item, which has fields too). */
  mark(at: P, member: boolean): void;
}

/**
 * Walks the leaves of `v` at place `at`: scalars, atomic lists and empty maps are leaves; list-map items and set
 * values are members (marked before their fields). True when `v` is a leaf or holds any; the root is never one.
 */
function walkLeaves<P>(v: unknown, s: Schema | undefined, at: P, root: boolean, sink: LeafSink<P>): boolean {
  const shape = shapeOf(s, v);
  switch (shape.kind) {
    case 'scalar':
    case 'atomicList':
      if (root) return false;
      sink.mark(at, false);
      return true;
    case 'struct':
    case 'map': {
      const o = v as Record<string, unknown>;
      let empty = true;
      let any = false;
      for (const k in o) {
        const x = o[k];
        if (x === null || x === undefined) continue;
        empty = false;
        if (walkChild(x, fieldSchema(shape.schema, k), at, `f:${k}`, sink)) any = true;
      }
      if (!empty || root) return any;
      sink.mark(at, false);
      return true;
    }
    case 'setList':
      for (const x of v as unknown[]) {
        const el = `v:${JSON.stringify(x)}`;
        const c = sink.child(at, el);
        sink.mark(c, false);
        sink.keep(at, el, c);
      }
      return (v as unknown[]).length > 0;
    case 'mapList': {
      const r = resolve(shape.item);
      let any = false;
      for (const item of v as unknown[]) {
        const k = itemKey(item, shape.keys);
        if (!k) continue;
        any = true;
        const c = sink.child(at, k);
        sink.mark(c, true);
        sink.keep(at, k, c);
        if (isPlainObject(item)) for (const [f, x] of nonNull(item)) walkChild(x, r ? fieldSchema(r, f) : undefined, c, `f:${f}`, sink);
      }
      return any;
    }
  }
}

function walkChild<P>(x: unknown, s: Schema | undefined, parent: P, el: string, sink: LeafSink<P>): boolean {
  const c = sink.child(parent, el);
  if (!walkLeaves(x, s, c, false, sink)) return false;
  sink.keep(parent, el, c);
  return true;
}

/** Paths into a set, each added as the walk reaches it. */
class PathSink implements LeafSink<string> {
  constructor(readonly out: Set<string>) {}
  child(at: string, el: string): string { return join(at, el); }
  keep(): void {}
  mark(at: string): void { this.out.add(at); }
}

function addLeaves(v: unknown, s: Schema | undefined, prefix: string, out: Set<string>): void {
  walkLeaves(v, s, prefix, prefix === '', new PathSink(out));
}

/**
 * Every leaf path of `value`: scalars, atomic lists and empty maps are leaves; list-map items and set
 * values are members themselves (their own path) as well as containers of their fields.
 */
export function leafPaths(value: unknown, schema: Schema | undefined): Set<string> {
  const out = new Set<string>();
  addLeaves(value, schema, '', out);
  return out;
}

/** JSON equality for leaf values (both sides come from the same decoder, so key order matches). */
function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Walks two versions of an object side by side and collects the leaf paths added or modified in `after`
 * (`changed`) and those gone from it (`removed`). A list-map item's own membership changes only when the
 * item appears or disappears; its fields are compared one by one.
 */
export function diffFields(before: unknown, after: unknown, schema: Schema | undefined): { changed: Set<string>; removed: Set<string> } {
  const changed = new Set<string>();
  const removed = new Set<string>();
  const walk = (a: unknown, b: unknown, s: Schema | undefined, prefix: string): void => {
    const aNull = a === null || a === undefined;
    const bNull = b === null || b === undefined;
    if (aNull && bNull) return;
    if (aNull) { addLeaves(b, s, prefix, changed); return; }
    if (bNull) { addLeaves(a, s, prefix, removed); return; }
    const sa = shapeOf(s, a);
    const sb = shapeOf(s, b);
    if (sa.kind !== sb.kind) {
      addLeaves(a, s, prefix, removed);
      addLeaves(b, s, prefix, changed);
      return;
    }
    switch (sb.kind) {
      case 'scalar':
      case 'atomicList':
        if (!sameValue(a, b) && prefix !== '') changed.add(prefix);
        return;
      case 'struct':
      case 'map': {
        const ao = a as Record<string, unknown>;
        const bo = b as Record<string, unknown>;
        const ea = nonNull(ao);
        const eb = nonNull(bo);
        if (eb.length === 0 || ea.length === 0) {
          if (eb.length === 0 && ea.length === 0) return;
          if (eb.length === 0) { addLeaves(a, s, prefix, removed); if (prefix !== '') changed.add(prefix); return; }
          addLeaves(b, s, prefix, changed);
          return;
        }
        for (const [k, x] of eb) walk(ao[k], x, fieldSchema(sb.schema, k), join(prefix, `f:${k}`));
        for (const [k, x] of ea) if (bo[k] === null || bo[k] === undefined) addLeaves(x, fieldSchema(sb.schema, k), join(prefix, `f:${k}`), removed);
        return;
      }
      case 'setList': {
        const as = new Set((a as unknown[]).map((x) => JSON.stringify(x)));
        const bs = new Set((b as unknown[]).map((x) => JSON.stringify(x)));
        for (const x of bs) if (!as.has(x)) changed.add(join(prefix, `v:${x}`));
        for (const x of as) if (!bs.has(x)) removed.add(join(prefix, `v:${x}`));
        return;
      }
      case 'mapList': {
        const keys = sb.kind === 'mapList' ? sb.keys : [];
        const r = resolve(sb.item);
        const byKey = new Map<string, unknown>();
        for (const item of a as unknown[]) { const k = itemKey(item, keys); if (k) byKey.set(k, item); }
        const seen = new Set<string>();
        for (const item of b as unknown[]) {
          const k = itemKey(item, keys);
          if (!k) continue;
          seen.add(k);
          const p = join(prefix, k);
          const old = byKey.get(k);
          if (old === undefined) { changed.add(p); if (isPlainObject(item)) for (const [f, x] of nonNull(item)) addLeaves(x, r ? fieldSchema(r, f) : undefined, join(p, `f:${f}`), changed); continue; }
          if (isPlainObject(item) && isPlainObject(old)) {
            for (const [f, x] of nonNull(item)) walk(old[f], x, r ? fieldSchema(r, f) : undefined, join(p, `f:${f}`));
            for (const [f, x] of nonNull(old)) if (item[f] === null || item[f] === undefined) addLeaves(x, r ? fieldSchema(r, f) : undefined, join(p, `f:${f}`), removed);
          }
        }
        for (const [k, item] of byKey) {
          if (seen.has(k)) continue;
          const p = join(prefix, k);
          removed.add(p);
          if (isPlainObject(item)) for (const [f, x] of nonNull(item)) addLeaves(x, r ? fieldSchema(r, f) : undefined, join(p, `f:${f}`), removed);
        }
        return;
      }
    }
  };
  walk(before, after, schema, '');
  return { changed, removed };
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

type Trie = { [el: string]: Trie };

/** Serialises a set as `fieldsV1` (`{"f:spec":{"f:replicas":{}}}`, `"."` marking a member that also has children). */
export function toFieldsV1(set: Set<string>): Record<string, unknown> {
  const root: Trie = {};
  // Members are noted aside, not on the nodes: deleting a marker property afterwards would leave every marked
  // node a slow dictionary object, for this walk and for every serialisation of the object it ends up in.
  const members: Trie[] = [];
  for (const key of set) {
    let node = root;
    let start = 0;
    for (;;) {
      const nl = key.indexOf('\n', start);
      const el = nl < 0 ? key.slice(start) : key.slice(start, nl);
      node = node[el] ??= {};
      if (nl < 0) break;
      start = nl + 1;
    }
    members.push(node);
  }
  markMembers(members);
  return root;
}

/** `.` goes after a member's children, as the last key. */
function markMembers(members: Trie[]): void {
  for (const node of members) {
    for (const _ in node) {
      node['.'] = {};
      break;
    }
  }
}

/**
 * Tree nodes: a node is attached to its parent only once a leaf is found under it, as a set of paths would create
 * it, and in the same order, so the JSON is the same byte for byte.
 */
class TreeSink implements LeafSink<Trie> {
  readonly members: Trie[] = [];
  child(at: Trie, el: string): Trie { return at[el] ?? {}; }
  keep(parent: Trie, el: string, at: Trie): void { parent[el] ??= at; }
  mark(at: Trie, member: boolean): void { if (member) this.members.push(at); }
}

/**
 * `toFieldsV1(leafPaths(value, schema))` built in one walk, without path strings: what a create records (every
 * field of a new object).
 */
export function leafFieldsV1(value: unknown, schema: Schema | undefined): Record<string, unknown> {
  const root: Trie = {};
  const sink = new TreeSink();
  walkLeaves(value, schema, root, true, sink);
  markMembers(sink.members);
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

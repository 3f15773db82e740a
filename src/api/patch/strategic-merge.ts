import { fieldSchema, itemSchema, type Schema } from '../schema/schema.js';
import { isPlainObject } from '../types.js';
import { badRequest } from '../status.js';

/**
 * Strategic merge patch for built-in kinds, as kubectl sends it for `apply`, `set image`, `rollout
 * restart` and `patch --type strategic`: maps merge; `null` deletes; lists with a merge key merge
 * element by element; primitive lists with the merge strategy are sets; other lists are replaced.
 * Directives: `$patch: replace|delete|merge`, `$retainKeys`, `$setElementOrder/<list>`,
 * `$deleteFromPrimitiveList/<list>`. The list metadata comes from the OpenAPI schema of the kind.
 */
export function applyStrategicMergePatch(original: unknown, patch: unknown, schema: Schema | undefined): unknown {
  if (!isPlainObject(patch)) throw badRequest('strategic merge patch must be a JSON object');
  const merged = mergeMap(isPlainObject(original) ? original : {}, patch, schema);
  return merged === undefined ? {} : merged;
}

const SET_ORDER = '$setElementOrder/';
const DELETE_PRIMITIVE = '$deleteFromPrimitiveList/';

/** Removes directives from a value being inserted as-is (a new map or list item from the patch). */
function clean(v: unknown): unknown {
  if (Array.isArray(v)) {
    return v.filter((x) => !(isPlainObject(x) && (x['$patch'] === 'delete' || x['$patch'] === 'replace' && Object.keys(x).length === 1))).map(clean);
  }
  if (!isPlainObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith(SET_ORDER) || k.startsWith(DELETE_PRIMITIVE)) continue;
    if (x === null) continue;
    out[k] = clean(x);
  }
  return out;
}

/** Merges a patch map into an original map; returns undefined when the patch deletes the whole map. */
function mergeMap(original: Record<string, unknown>, patch: Record<string, unknown>, schema: Schema | undefined): Record<string, unknown> | undefined {
  const directive = patch['$patch'];
  if (directive === 'delete') return undefined;
  if (directive === 'replace') return clean(patch) as Record<string, unknown>;
  if (directive !== undefined && directive !== 'merge') throw badRequest(`Unknown patch type: ${String(directive)}`);

  const out: Record<string, unknown> = { ...original };
  for (const [k, pv] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith(SET_ORDER)) continue;
    if (k.startsWith(DELETE_PRIMITIVE)) {
      const field = k.slice(DELETE_PRIMITIVE.length);
      const cur = out[field];
      if (Array.isArray(cur) && Array.isArray(pv)) {
        const drop = new Set(pv.map((x) => JSON.stringify(x)));
        out[field] = cur.filter((x) => !drop.has(JSON.stringify(x)));
      }
      continue;
    }
    if (pv === null) { delete out[k]; continue; }
    const fs = fieldSchema(schema, k);
    const ov = out[k];
    if (isPlainObject(pv) && isPlainObject(ov)) {
      const m = mergeMap(ov, pv, fs);
      if (m === undefined) delete out[k];
      else out[k] = m;
    } else if (Array.isArray(pv) && Array.isArray(ov)) {
      out[k] = mergeList(ov, pv, fs);
    } else if (isPlainObject(pv)) {
      const m = mergeMap({}, pv, fs);
      if (m === undefined) delete out[k];
      else out[k] = m;
    } else if (Array.isArray(pv)) {
      out[k] = mergeList([], pv, fs);
    } else {
      out[k] = pv;
    }
    const order = patch[SET_ORDER + k];
    if (Array.isArray(order) && Array.isArray(out[k])) out[k] = applyOrder(out[k] as unknown[], order, fs);
  }
  for (const [k, order] of Object.entries(patch)) {
    if (k.startsWith(SET_ORDER) && Array.isArray(order)) {
      const field = k.slice(SET_ORDER.length);
      if (!(field in patch) && Array.isArray(out[field])) out[field] = applyOrder(out[field] as unknown[], order, fieldSchema(schema, field));
    }
  }
  const retain = patch['$retainKeys'];
  if (Array.isArray(retain)) {
    const keep = new Set(retain.map(String));
    for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
  }
  return out;
}

function mergeKeyOf(listSchema: Schema | undefined): string | undefined {
  return listSchema?.['x-kubernetes-patch-merge-key'];
}

function isMergeStrategy(listSchema: Schema | undefined): boolean {
  return (listSchema?.['x-kubernetes-patch-strategy'] ?? '').split(',').includes('merge');
}

function mergeList(original: unknown[], patch: unknown[], listSchema: Schema | undefined): unknown[] {
  if (patch.some((x) => isPlainObject(x) && x['$patch'] === 'replace')) {
    return clean(patch.filter((x) => !(isPlainObject(x) && x['$patch'] === 'replace'))) as unknown[];
  }
  if (!isMergeStrategy(listSchema)) return clean(patch) as unknown[];
  const key = mergeKeyOf(listSchema);
  if (!key) {
    // A set of primitives: union, keeping the original order.
    const seen = new Set(original.map((x) => JSON.stringify(x)));
    const out = [...original];
    for (const x of patch) {
      const j = JSON.stringify(x);
      if (!seen.has(j)) { seen.add(j); out.push(x); }
    }
    return out;
  }
  const items = itemSchema(listSchema);
  const out = [...original];
  for (const p of patch) {
    if (!isPlainObject(p)) throw badRequest(`unable to find api field in struct for the merge key "${key}": list item is not an object`);
    if (!(key in p)) throw badRequest(`map: ${JSON.stringify(p)} does not contain declared merge key: ${key}`);
    const idx = out.findIndex((o) => isPlainObject(o) && JSON.stringify(o[key]) === JSON.stringify(p[key]));
    if (p['$patch'] === 'delete') {
      for (let i = out.length - 1; i >= 0; i--) {
        const o = out[i];
        if (isPlainObject(o) && JSON.stringify(o[key]) === JSON.stringify(p[key])) out.splice(i, 1);
      }
      continue;
    }
    if (idx >= 0) {
      const m = mergeMap(out[idx] as Record<string, unknown>, p, items);
      if (m === undefined) out.splice(idx, 1);
      else out[idx] = m;
    } else {
      out.push(clean(p));
    }
  }
  return out;
}

/**
 * `$setElementOrder`: the listed items come in the listed order; items the patch did not list (added by
 * someone else) keep their place relative to the listed ones that preceded them.
 */
function applyOrder(list: unknown[], order: unknown[], listSchema: Schema | undefined): unknown[] {
  const key = mergeKeyOf(listSchema);
  const id = (x: unknown): string => JSON.stringify(key && isPlainObject(x) ? x[key] : x);
  const rank = new Map<string, number>();
  order.forEach((o, i) => rank.set(id(o), i));
  const listed = list.filter((x) => rank.has(id(x))).sort((a, b) => rank.get(id(a))! - rank.get(id(b))!);
  const out: unknown[] = [];
  let li = 0;
  for (const x of list) {
    if (rank.has(id(x))) out.push(listed[li++]);
    else out.push(x);
  }
  return out;
}

/** Exposed for tests: does this schema say the list merges by key? */
export function listMergeKey(parent: Schema | undefined, field: string): string | undefined {
  return mergeKeyOf(fieldSchema(parent, field));
}


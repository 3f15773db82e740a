import { fieldSchema, itemSchema, type Schema } from '../schema/schema.js';
import { isPlainObject } from '../types.js';
import { badRequest } from '../status.js';

/**
 * Strategic merge patch for built-in kinds, as upstream's strategicpatch package applies what kubectl
 * sends for `apply`, `set image`, `rollout restart` and `patch --type strategic`: maps merge; `null`
 * deletes; lists with a merge key merge element by element; primitive lists with the merge strategy
 * are ordered sets; other lists are replaced. Directives: `$patch: replace|delete`, `$retainKeys`,
 * `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`. The list metadata comes from the
 * OpenAPI schema of the kind.
 *
 * Merged lists are ordered as upstream orders them: items named by the patch (or its
 * `$setElementOrder`) come in the patch's order, items only on the server keep their relative order
 * and are interleaved by their old positions, and items new to the list come before server-only items
 * that followed the last patched one.
 *
 * Values the patch inserts where the original has nothing are stripped of directives and nulls (upstream
 * inserts them raw and lets decoding drop or reject the unknown `$` fields).
 */
export function applyStrategicMergePatch(original: unknown, patch: unknown, schema: Schema | undefined): unknown {
  if (!isPlainObject(patch)) throw badRequest('strategic merge patch must be a JSON object');
  return mergeMap(isPlainObject(original) ? original : {}, patch, schema);
}

type Obj = Record<string, unknown>;
type Kind = 'map' | 'list' | 'string' | 'number' | 'bool' | 'null';

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ORDER = '$setElementOrder/';
const DELETE_PRIMITIVE = '$deleteFromPrimitiveList/';

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Sets a key as an own data property, so a key named `__proto__` stays data. */
function setKey(o: Obj, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

const fail = (msg: string): never => { throw badRequest(msg); };

/** Go's %v of a decoded JSON value, as upstream's messages print it. */
function goFmt(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goFmt).join(' ')}]`;
  if (isPlainObject(v)) return `map[${Object.keys(v).sort().map((k) => `${k}:${goFmt(v[k])}`).join(' ')}]`;
  return String(v);
}

/** Go's type name of a decoded JSON value. */
function goType(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return '[]interface {}';
  if (isPlainObject(v)) return 'map[string]interface {}';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int64' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  return 'string';
}

const badArgType = (expected: string, actual: unknown): never => fail(`expected a ${expected}, but received a ${goType(actual)}`);
const noMergeKey = (m: unknown, key: string): never => fail(`map: ${goFmt(m)} does not contain declared merge key: ${key}`);

function kindOf(v: unknown): Kind {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'list';
  if (isPlainObject(v)) return 'map';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'bool';
  return 'string';
}

/** Go's == on the decoded values that can be merge keys or set members (scalars); deep for the rest. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => hasOwn(b, k) && same(a[k], b[k]));
  }
  return false;
}

/** Removes directives and nulls from a value being inserted as-is (a new map or list item from the patch). */
function clean(v: unknown): unknown {
  if (Array.isArray(v)) {
    return v.filter((x) => !(isPlainObject(x) && (x[DIRECTIVE] === 'delete' || x[DIRECTIVE] === 'replace'))).map(clean);
  }
  if (!isPlainObject(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === DIRECTIVE || k === RETAIN_KEYS || k.startsWith(SET_ORDER) || k.startsWith(DELETE_PRIMITIVE)) continue;
    if (x === null) continue;
    setKey(out, k, clean(x));
  }
  return out;
}

function mergeKeyOf(listSchema: Schema | undefined): string {
  return listSchema?.['x-kubernetes-patch-merge-key'] ?? '';
}

/** The list's patch strategy, without `retainKeys` (which only marks where `$retainKeys` may appear). */
function isMergeStrategy(listSchema: Schema | undefined): boolean {
  return (listSchema?.['x-kubernetes-patch-strategy'] ?? '').split(',').includes('merge');
}

/** Merges a patch map into an original map, returning a new map; neither input is modified. */
function mergeMap(original: Obj, patchIn: Obj, schema: Schema | undefined): Obj {
  if (hasOwn(patchIn, DIRECTIVE)) {
    const directive = patchIn[DIRECTIVE];
    if (directive === 'replace') return clean(patchIn) as Obj;
    if (directive === 'delete') return {};
    return fail(`unknown patch type: ${goFmt(directive)} in map: ${goFmt(patchIn)}`);
  }
  const out: Obj = { ...original };
  const patch: Obj = { ...patchIn };
  applyRetainKeys(out, patch);
  mergeOrderedLists(out, patch, schema);

  for (const [key, pv] of Object.entries(patch)) {
    let k = key;
    const isDeleteList = key.startsWith(DELETE_PRIMITIVE);
    if (isDeleteList) k = key.slice(DELETE_PRIMITIVE.length);
    if (pv === null) { delete out[k]; continue; }
    if (!hasOwn(out, k) || kindOf(out[k]) !== kindOf(pv)) {
      // Nothing (or something of another type) to merge with: the patch value is taken as is.
      if (!isDeleteList) setKey(out, k, clean(pv));
      continue;
    }
    const ov = out[k];
    const fs = fieldSchema(schema, k);
    if (isPlainObject(ov)) setKey(out, k, mergeMap(ov, pv as Obj, fs));
    else if (Array.isArray(ov)) setKey(out, k, mergeSliceHandler(ov, pv as unknown[], fs, isDeleteList));
    else setKey(out, k, pv);
  }
  return out;
}

/**
 * `$retainKeys`: every key the patch sets must be listed, and keys of the original that are not listed
 * are dropped before merging (how `strategy: {type: Recreate}` clears `rollingUpdate`).
 */
function applyRetainKeys(out: Obj, patch: Obj): void {
  if (!hasOwn(patch, RETAIN_KEYS)) return;
  const retain = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(retain)) return fail('invalid patch format of retainKeys');
  const keep = (k: string): boolean => retain.some((r) => r === k);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || k.startsWith(DELETE_PRIMITIVE) || k.startsWith(SET_ORDER)) continue;
    if (!keep(k)) fail('invalid patch format of retainKeys');
  }
  for (const k of Object.keys(out)) if (!keep(k)) delete out[k];
}

/**
 * `$setElementOrder/<list>`: merges the list with the patch's items (if any) and orders the result by
 * the directive, interleaving items the directive does not name by their old positions.
 */
function mergeOrderedLists(out: Obj, patch: Obj, schema: Schema | undefined): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ORDER)) continue;
    const order = patch[key];
    delete patch[key];
    if (!Array.isArray(order)) return badArgType('[]interface {}', order);
    const field = key.slice(SET_ORDER.length);
    const foundOriginal = hasOwn(out, field);
    const foundPatch = hasOwn(patch, field);
    const originalList = foundOriginal ? out[field] : [];
    const patchList = foundPatch ? patch[field] : [];
    if (!Array.isArray(originalList)) return badArgType('[]interface {}', originalList);
    if (!Array.isArray(patchList)) return badArgType('[]interface {}', patchList);
    const fs = fieldSchema(schema, field);
    const mergeKey = mergeKeyOf(fs);
    validateOrder(patchList, order, mergeKey);
    let merged: unknown[];
    if (foundOriginal && foundPatch) merged = mergeSliceHandler(originalList, patchList, fs, false);
    else if (foundPatch) merged = clean(patchList) as unknown[];
    else if (foundOriginal) merged = originalList;
    else continue;
    delete patch[field];
    const kind = elementKind([originalList, patchList]);
    if (kind === undefined) { setKey(out, field, merged); continue; }
    const [listed, serverOnly] = partition(merged, order, mergeKey, kind);
    setKey(out, field, normalizeElementOrder(listed, serverOnly, order, originalList, mergeKey, kind));
  }
}

/** The patch's items must come in the `$setElementOrder` list's order (deletions aside). */
function validateOrder(patchList: unknown[], order: unknown[], mergeKey: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  const items = mergeKey ? extractToDelete(patchList)[0] : patchList;
  let pi = 0;
  let si = 0;
  while (pi < items.length && si < order.length) {
    const item = items[pi];
    if (isPlainObject(item) && hasOwn(item, DIRECTIVE)) { pi++; continue; }
    if (mergeKeyValueEqual(item, order[si], mergeKey)) pi++;
    si++;
  }
  if (pi < items.length && si >= order.length) {
    fail(`The order in patch list:\n${goFmt(patchList)}\n doesn't match $setElementOrder list:\n${goFmt(order)}\n`);
  }
}

function mergeKeyValueEqual(left: unknown, right: unknown, mergeKey: string): boolean {
  if (!mergeKey) return same(left, right);
  if (!isPlainObject(left)) return badArgType('map[string]interface {}', left);
  if (!isPlainObject(right)) return badArgType('map[string]interface {}', right);
  if (!hasOwn(left, mergeKey)) return noMergeKey(left, mergeKey);
  if (!hasOwn(right, mergeKey)) return noMergeKey(right, mergeKey);
  return same(left[mergeKey], right[mergeKey]);
}

/** Merges lists whose field has the merge strategy; any other list is replaced by the patch's. */
function mergeSliceHandler(original: unknown[], patch: unknown[], listSchema: Schema | undefined, isDeleteList: boolean): unknown[] {
  if (!isMergeStrategy(listSchema)) return clean(patch) as unknown[];
  return mergeSlice(original, patch, mergeKeyOf(listSchema), itemSchema(listSchema), isDeleteList);
}

/** The kind shared by every element of the lists; undefined when they are all empty. */
function elementKind(lists: unknown[][]): Kind | undefined {
  let kind: Kind | undefined;
  for (const l of lists) {
    for (const v of l) {
      const k = kindOf(v);
      if (kind === undefined) {
        if (k === 'list') fail('lists of lists are not supported');
        kind = k;
      } else if (k !== kind) {
        fail(`list element types are not identical: ${goFmt(lists)}`);
      }
    }
  }
  return kind;
}

function mergeSlice(originalIn: unknown[], patchIn: unknown[], mergeKey: string, items: Schema | undefined, isDeleteList: boolean): unknown[] {
  if (originalIn.length === 0 && patchIn.length === 0) return originalIn;
  const kind = elementKind([originalIn, patchIn])!;
  let original = originalIn;
  let patch = patchIn;
  let merged: unknown[];
  if (kind !== 'map') {
    if (isDeleteList) return original.filter((x) => !patch.some((d) => same(d, x)));
    merged = [];
    for (const x of [...original, ...patch]) if (!merged.some((m) => same(m, x))) merged.push(x);
  } else {
    if (!mergeKey) return fail('cannot merge lists without merge key for type map');
    [original, patch] = applySpecialElements(original, patch as Obj[], mergeKey);
    merged = mergeByKey(original, patch as Obj[], mergeKey, items);
  }
  const [listed, serverOnly] = partition(merged, patch, mergeKey, kind);
  return normalizeElementOrder(listed, serverOnly, patch, original, mergeKey, kind);
}

/**
 * Handles list items carrying `$patch`: `delete` removes the original items with that key, `replace`
 * makes the patch's other items the whole list. Returns the new original and the remaining patch items.
 */
function applySpecialElements(original: unknown[], patch: Obj[], mergeKey: string): [unknown[], Obj[]] {
  const rest: Obj[] = [];
  let replace = false;
  for (const v of patch) {
    if (!hasOwn(v, DIRECTIVE)) { rest.push(v); continue; }
    switch (v[DIRECTIVE]) {
      case 'delete': {
        if (!hasOwn(v, mergeKey)) noMergeKey(v, mergeKey);
        original = original.filter((o) => !(isPlainObject(o) && hasOwn(o, mergeKey) && same(o[mergeKey], v[mergeKey])));
        break;
      }
      case 'replace': replace = true; break;
      case 'merge': fail('merging lists cannot yet be specified in the patch'); break;
      default: fail(`unknown patch type: ${goFmt(v[DIRECTIVE])} in map: ${goFmt(v)}`);
    }
  }
  return replace ? [rest.map(clean), []] : [original, rest];
}

/** Merges each patch item into the original item with the same key, appending the ones that are new. */
function mergeByKey(original: unknown[], patch: Obj[], mergeKey: string, items: Schema | undefined): unknown[] {
  const out = [...original];
  for (const p of patch) {
    if (!hasOwn(p, mergeKey)) noMergeKey(p, mergeKey);
    const idx = out.findIndex((o) => isPlainObject(o) && hasOwn(o, mergeKey) && same(o[mergeKey], p[mergeKey]));
    if (idx >= 0) out[idx] = mergeMap(out[idx] as Obj, p, items);
    else out.push(clean(p));
  }
  return out;
}

/** Splits `list` into the items `by` names and the rest, keeping their order. */
function partition(list: unknown[], by: unknown[], mergeKey: string, kind: Kind): [unknown[], unknown[]] {
  const named: unknown[] = [];
  const rest: unknown[] = [];
  for (const v of list) {
    let found: boolean;
    if (mergeKey && kind === 'map') {
      if (!isPlainObject(v)) return badArgType('map[string]interface {}', v);
      if (!hasOwn(v, mergeKey)) return noMergeKey(v, mergeKey);
      found = by.some((b) => isPlainObject(b) && hasOwn(b, mergeKey) && same(b[mergeKey], v[mergeKey]));
    } else {
      found = by.some((b) => same(b, v));
    }
    (found ? named : rest).push(v);
  }
  return [named, rest];
}

/** Position of an item in a list by merge key (maps) or value (scalars); -1 when absent. */
function indexIn(list: unknown[], item: unknown, mergeKey: string, kind: Kind): number {
  const val = (x: unknown): unknown => (kind === 'map' ? (isPlainObject(x) ? x[mergeKey] : undefined) : x);
  const want = val(item);
  return list.findIndex((x) => same(val(x), want));
}

function extractToDelete(list: unknown[]): [unknown[], unknown[]] {
  const keep: unknown[] = [];
  const drop: unknown[] = [];
  for (const v of list) {
    if (!isPlainObject(v)) return badArgType('map[string]interface {}', v);
    (v[DIRECTIVE] === 'delete' ? drop : keep).push(v);
  }
  return [keep, drop];
}

/** Sorts `items` by their positions in `order` (upstream's comparator, with a stable insertion sort). */
function sortByOrder(itemsIn: unknown[], order: unknown[], mergeKey: string, kind: Kind): unknown[] {
  let items = itemsIn;
  let toDelete: unknown[] = [];
  if (kind === 'map') {
    for (const list of [items, order]) {
      for (const x of list) {
        if (!isPlainObject(x)) badArgType('map[string]interface {}', x);
        else if (!hasOwn(x, mergeKey)) noMergeKey(x, mergeKey);
      }
    }
    [items, toDelete] = extractToDelete(items);
  }
  const less = (a: unknown, b: unknown): boolean => {
    const ia = indexIn(order, a, mergeKey, kind);
    if (ia >= 0) {
      const ib = indexIn(order, b, mergeKey, kind);
      if (ib >= 0) return ia < ib;
    }
    return true;
  };
  const out = [...items];
  for (let i = 1; i < out.length; i++) {
    for (let j = i; j > 0 && less(out[j], out[j - 1]); j--) [out[j], out[j - 1]] = [out[j - 1], out[j]];
  }
  return [...out, ...toDelete];
}

/**
 * Orders the patch's items by `patchOrder` and the server-only items by `serverOrder`, then interleaves
 * them: a server-only item goes first only while it sat before the next patch item on the server.
 */
function normalizeElementOrder(patchItems: unknown[], serverOnlyItems: unknown[], patchOrder: unknown[], serverOrder: unknown[], mergeKey: string, kind: Kind): unknown[] {
  const right = sortByOrder(patchItems, patchOrder, mergeKey, kind);
  const left = sortByOrder(serverOnlyItems, serverOrder, mergeKey, kind);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]);
    else if (j >= right.length) out.push(left[i++]);
    else {
      const li = indexIn(serverOrder, left[i], mergeKey, kind);
      const ri = indexIn(serverOrder, right[j], mergeKey, kind);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

/** Exposed for tests: does this schema say the list merges by key? */
export function listMergeKey(parent: Schema | undefined, field: string): string | undefined {
  return mergeKeyOf(fieldSchema(parent, field)) || undefined;
}

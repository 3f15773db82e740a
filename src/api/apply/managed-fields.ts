import type { ManagedFieldsEntry } from 'kubernetes-types/meta/v1.js';
import { fieldSchema, itemSchema, resolve, type Schema } from '../schema/schema.js';
import { isPlainObject, type KubeObject } from '../types.js';
import { diffFields, fromFieldsV1, keyPath, leafFieldsV1, leafPaths, pathKey, removeAt, toFieldsV1 } from './field-set.js';

/** Metadata fields no manager owns: identity and bookkeeping the server sets (upstream's stripMeta). */
const serverMeta = new Set(['name', 'namespace', 'uid', 'creationTimestamp', 'resourceVersion', 'generation', 'managedFields', 'selfLink', 'deletionTimestamp', 'deletionGracePeriodSeconds']);

/** The part of an object whose fields are tracked: without apiVersion/kind and server-owned metadata, and without `status` or everything but `status`. */
export function trackedPart(obj: KubeObject, subresource: string | undefined, hasStatus: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind') continue;
    if (hasStatus && subresource === 'status' && k !== 'status' && k !== 'metadata') continue;
    if (hasStatus && subresource !== 'status' && k === 'status') continue;
    if (k === 'metadata' && isPlainObject(v)) {
      // Copied without the server's fields rather than copied and deleted from: deletes make slow objects.
      const m: Record<string, unknown> = {};
      let fields = 0;
      for (const f in v) {
        if (serverMeta.has(f)) continue;
        m[f] = v[f];
        fields++;
      }
      if (fields > 0) out[k] = m;
      continue;
    }
    out[k] = v;
  }
  return out;
}

interface Entry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  subresource: string;
  set: Set<string>;
}

function readEntries(obj: KubeObject | undefined): Entry[] {
  return (obj?.metadata.managedFields ?? []).map((m) => ({
    manager: m.manager ?? '',
    operation: (m.operation === 'Apply' ? 'Apply' : 'Update') as 'Apply' | 'Update',
    apiVersion: m.apiVersion ?? '',
    time: m.time ?? '',
    subresource: m.subresource ?? '',
    set: fromFieldsV1(m.fieldsV1),
  }));
}

function writeEntries(entries: Entry[]): ManagedFieldsEntry[] | undefined {
  const out = entries.filter((e) => e.set.size > 0).map((e) => {
    const m: ManagedFieldsEntry = { manager: e.manager, operation: e.operation, apiVersion: e.apiVersion, time: e.time, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(e.set) };
    if (e.subresource) m.subresource = e.subresource;
    return m;
  });
  return out.length > 0 ? out : undefined;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function entryFor(entries: Entry[], manager: string, operation: 'Apply' | 'Update', subresource: string, apiVersion: string, time: string): Entry {
  let e = entries.find((x) => x.manager === manager && x.operation === operation && x.subresource === subresource);
  if (!e) {
    e = { manager, operation, apiVersion, time, subresource, set: new Set() };
    entries.push(e);
  }
  e.apiVersion = apiVersion;
  e.time = time;
  return e;
}

export interface TrackOptions {
  readonly manager: string;
  readonly apiVersion: string;
  readonly schema: Schema | undefined;
  readonly subresource?: string;
  readonly hasStatus: boolean;
  readonly now: string;
}

/**
 * Records an Update operation (create, update, non-apply patch) in `next.metadata.managedFields`: the
 * manager takes the fields it added or changed, other managers lose them, and removed fields leave every set.
 */
export function recordUpdate(next: KubeObject, prev: KubeObject | undefined, o: TrackOptions): void {
  if (!prev && !next.metadata.managedFields?.length) {
    // A new object nobody claimed fields of: the manager owns all of it (what the general path below comes to).
    const fieldsV1 = leafFieldsV1(trackedPart(next, o.subresource, o.hasStatus), o.schema);
    let owns = false;
    for (const _ in fieldsV1) { owns = true; break; }
    if (!owns) {
      delete next.metadata.managedFields;
      return;
    }
    const m: ManagedFieldsEntry = { manager: o.manager, operation: 'Update', apiVersion: o.apiVersion, time: o.now, fieldsType: 'FieldsV1', fieldsV1 };
    if (o.subresource) m.subresource = o.subresource;
    next.metadata.managedFields = [m];
    return;
  }
  const entries = readEntries(prev ?? next);
  const { changed, removed } = diffFields(prev ? trackedPart(prev, o.subresource, o.hasStatus) : {}, trackedPart(next, o.subresource, o.hasStatus), o.schema);
  if (changed.size === 0 && removed.size === 0 && prev) {
    next.metadata.managedFields = prev.metadata.managedFields;
    if (!next.metadata.managedFields) delete next.metadata.managedFields;
    return;
  }
  for (const e of entries) {
    for (const p of changed) e.set.delete(p);
    for (const p of removed) e.set.delete(p);
  }
  const mine = entryFor(entries, o.manager, 'Update', o.subresource ?? '', o.apiVersion, o.now);
  for (const p of changed) mine.set.add(p);
  const mf = writeEntries(entries);
  if (mf) next.metadata.managedFields = mf;
  else delete next.metadata.managedFields;
}

/** A field another manager owns with a different value than the applied configuration's. */
export interface ApplyConflict {
  readonly manager: string;
  readonly apiVersion: string;
  /** Upstream's path notation: `.spec.template.spec.containers[name="nginx"].image`. */
  readonly field: string;
}

/** Formats a path as upstream prints it in conflict messages. */
export function formatPath(key: string): string {
  let out = '';
  for (const el of keyPath(key)) {
    if (el.startsWith('f:')) out += `.${el.slice(2)}`;
    else if (el.startsWith('k:')) {
      const k = JSON.parse(el.slice(2)) as Record<string, unknown>;
      out += `[${Object.entries(k).map(([n, v]) => `${n}=${JSON.stringify(v)}`).join(',')}]`;
    } else if (el.startsWith('v:')) out += `[=${el.slice(2)}]`;
  }
  return out;
}

/** Merges an applied configuration into a live value: lists by their list type, maps and structs key by key. */
function mergeApplied(live: unknown, applied: unknown, schema: Schema | undefined): unknown {
  if (applied === null || applied === undefined) return undefined;
  const r = resolve(schema);
  if (Array.isArray(applied)) {
    const lt = schema?.['x-kubernetes-list-type'];
    const keys = schema?.['x-kubernetes-list-map-keys'];
    if (!Array.isArray(live)) return structuredClone(applied);
    if (lt === 'set') {
      const out = [...live];
      for (const x of applied) if (!out.some((y) => same(x, y))) out.push(x);
      return out;
    }
    if (lt === 'map' && keys) {
      const item = itemSchema(schema);
      const keyOf = (x: unknown): string => JSON.stringify(keys.map((k) => (isPlainObject(x) ? x[k] ?? (k === 'protocol' ? 'TCP' : null) : null)));
      const out = [...live];
      for (const a of applied) {
        const i = out.findIndex((l) => keyOf(l) === keyOf(a));
        if (i >= 0) out[i] = mergeApplied(out[i], a, item);
        else out.push(structuredClone(a));
      }
      return out;
    }
    return structuredClone(applied);
  }
  if (isPlainObject(applied) && isPlainObject(live) && r && !r['x-kubernetes-preserve-unknown-fields'] && (r.properties || r.additionalProperties)) {
    const out: Record<string, unknown> = { ...live };
    for (const [k, v] of Object.entries(applied)) {
      const m = mergeApplied(live[k], v, fieldSchema(r, k));
      if (m === undefined) delete out[k];
      else out[k] = m;
    }
    return out;
  }
  return structuredClone(applied);
}

export interface ApplyResult {
  readonly object: KubeObject;
  readonly conflicts: ApplyConflict[];
}

/**
 * Server-side apply: merges `applied` into `live` (or creates from it), removes fields this manager
 * applied before and no longer does (unless another manager owns them), and reports fields another
 * manager owns whose value would change. With `force`, those fields change owner instead.
 */
export function serverSideApply(live: KubeObject | undefined, applied: KubeObject, force: boolean, o: TrackOptions): ApplyResult {
  const entries = readEntries(live);
  const tracked = trackedPart(applied, o.subresource, o.hasStatus);
  const appliedSet = leafPaths(tracked, o.schema);
  const mine = entries.find((e) => e.manager === o.manager && e.operation === 'Apply' && e.subresource === (o.subresource ?? ''));
  const before = mine ? new Set(mine.set) : new Set<string>();

  const base: KubeObject = live ? structuredClone(live) : { apiVersion: applied.apiVersion, kind: applied.kind, metadata: {} };
  const merged = mergeApplied(base, tracked, o.schema) as KubeObject;
  merged.apiVersion = applied.apiVersion ?? base.apiVersion;
  merged.kind = applied.kind ?? base.kind;
  merged.metadata = { ...(base.metadata ?? {}), ...(merged.metadata ?? {}) };
  if (!live) {
    if (applied.metadata.name) merged.metadata.name = applied.metadata.name;
    if (applied.metadata.namespace) merged.metadata.namespace = applied.metadata.namespace;
  }

  // Fields this manager stops applying go away, unless someone else still owns them.
  const dropped = [...before].filter((p) => !appliedSet.has(p) && !entries.some((e) => e !== mine && e.set.has(p)));
  dropped.sort((a, b) => b.length - a.length);
  for (const p of dropped) removeAt(merged, keyPath(p));

  const liveTracked = live ? trackedPart(live, o.subresource, o.hasStatus) : {};
  const { changed, removed } = diffFields(liveTracked, trackedPart(merged, o.subresource, o.hasStatus), o.schema);
  const conflicts: ApplyConflict[] = [];
  for (const e of entries) {
    if (e === mine) continue;
    for (const p of e.set) {
      if (appliedSet.has(p) && changed.has(p)) conflicts.push({ manager: e.manager, apiVersion: e.apiVersion, field: formatPath(p) });
    }
  }
  if (conflicts.length > 0 && !force) return { object: merged, conflicts };
  for (const e of entries) {
    if (e === mine) continue;
    for (const p of changed) if (appliedSet.has(p)) e.set.delete(p);
    for (const p of removed) e.set.delete(p);
  }
  const entry = entryFor(entries, o.manager, 'Apply', o.subresource ?? '', o.apiVersion, o.now);
  entry.set = appliedSet;
  const mf = writeEntries(entries);
  if (mf) merged.metadata.managedFields = mf;
  else delete merged.metadata.managedFields;
  return { object: merged, conflicts: [] };
}

/** The 409 message upstream prints for apply conflicts. */
export function conflictMessage(conflicts: readonly ApplyConflict[]): string {
  const byManager = new Map<string, ApplyConflict[]>();
  for (const c of conflicts) {
    const k = `${c.manager}\u0000${c.apiVersion}`;
    byManager.set(k, [...(byManager.get(k) ?? []), c]);
  }
  const n = conflicts.length;
  if (n === 1) {
    const c = conflicts[0]!;
    return `Apply failed with 1 conflict: conflict with "${c.manager}" using ${c.apiVersion}: ${c.field}`;
  }
  const parts = [...byManager.values()].map((cs) => `conflicts with "${cs[0]!.manager}" using ${cs[0]!.apiVersion}:\n${cs.map((c) => `- ${c.field}`).join('\n')}`);
  return `Apply failed with ${n} conflicts: ${parts.join('\n')}`;
}

export { pathKey };

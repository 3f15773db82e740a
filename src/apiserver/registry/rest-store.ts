import { randomUUID } from 'node:crypto';
import type { DeleteOptions, Status } from 'kubernetes-types/meta/v1.js';
import { CompactedError, FutureRevisionError, type Store } from '../../store/store.js';
import { TooOldResourceVersionError, type CacheEntry, type CacheEvent, type WatchCache } from '../../store/watch-cache.js';
import { apiVersion, qualifiedResource, type ResourceDefinition } from '../../api/resource.js';
import {
  ApiError, alreadyExists, badRequest, conflict, expired, forbidden, invalid, modifiedConflict, notFound, successStatus,
  tooLargeResourceVersion, type FieldError,
} from '../../api/status.js';
import { isPlainObject, type KubeObject } from '../../api/types.js';
import { parseLabelSelector, type Selector } from '../../api/selectors/label-selector.js';
import { parseFieldSelector, type FieldGetter, type FieldSelector } from '../../api/selectors/field-selector.js';
import { checkFields } from '../../api/schema/field-check.js';
import { schemaByName, type Schema } from '../../api/schema/schema.js';
import { applyJsonPatch } from '../../api/patch/json-patch.js';
import { applyMergePatch } from '../../api/patch/merge-patch.js';
import { applyStrategicMergePatch } from '../../api/patch/strategic-merge.js';
import { conflictMessage, recordUpdate, serverSideApply } from '../../api/apply/managed-fields.js';
import { decode, encode } from './codec.js';
import { continueExpired, decodeContinue, encodeContinue } from './continue-token.js';
import type { Clock } from '../../util/clock.js';
import { deepEqual } from '../../util/deep-equal.js';
import type { Logger } from '../../util/log.js';
import { rfc3339 } from '../../util/time.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** Options every write carries (query parameters of the request). */
export interface WriteOptions {
  readonly dryRun: boolean;
  readonly fieldManager?: string;
  readonly fieldValidation: FieldValidation;
  /** Collects `Warning` headers for the response. */
  readonly warnings: string[];
}

export interface ListOptions {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly limit?: number;
  readonly continue?: string;
  readonly resourceVersion?: string;
  readonly resourceVersionMatch?: string;
}

export interface ListResult {
  readonly items: KubeObject[];
  /** Serialised items (UTF-8) when they came straight from the cache in storage form (no conversion). */
  readonly itemJson?: Buffer[];
  readonly resourceVersion: string;
  readonly continue?: string;
  readonly remainingItemCount?: number;
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

/** A watch event as the API sends it (objects in the API version of the request). */
export interface ApiWatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: KubeObject | Status;
  /** Pre-serialised object, when available. */
  readonly json?: string;
}

export interface WatchOptions extends ListOptions {
  readonly allowWatchBookmarks?: boolean;
  readonly sendInitialEvents?: boolean;
}

/** Hooks the API server runs around writes of a kind that need cluster state (e.g. ClusterIP allocation). */
export interface Admission {
  admit?(obj: KubeObject, old: KubeObject | undefined, op: 'create' | 'update'): void | Promise<void>;
  /** Called after an object is gone from the store (frees what admission allocated). */
  released?(obj: KubeObject): void;
}

/** What a RestStore needs from the server around it. */
export interface RestStoreDeps {
  readonly store: Store;
  readonly cache: WatchCache<KubeObject>;
  readonly clock: Clock;
  readonly log: Logger;
  /** Looks up a namespace (for "namespace not found / terminating" on create). */
  readonly namespace: (name: string) => KubeObject | undefined;
  readonly admission?: Admission;
}

const nameChars = 'bcdfghjklmnpqrstvwxz2456789';
/** Compare-and-swap attempts before giving up; each lost attempt means another writer succeeded. */
const maxRetries = 200;

function randomSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += nameChars[Math.floor(Math.random() * nameChars.length)];
  return s;
}


/** Thrown inside a guaranteed-update loop when the store moved under us and the attempt should repeat. */
class RetryUpdate extends Error {}

/**
 * The generic REST storage of one resource, as upstream's registry `Store`: create, get, list, watch,
 * update, patch and delete with Kubernetes semantics (defaulting, validation, resourceVersion
 * preconditions, generation, managed fields, graceful deletion, finalizers), reading from the watch
 * cache and writing to the store.
 */
export class RestStore {
  readonly def: ResourceDefinition;
  readonly #deps: RestStoreDeps;
  readonly #schema: Schema | undefined;
  readonly #fields: Record<string, FieldGetter>;
  #lease: { id: number; at: number } | undefined;

  constructor(def: ResourceDefinition, deps: RestStoreDeps) {
    this.def = def;
    this.#deps = deps;
    this.#schema = schemaByName(def.openapiName);
    this.#fields = {
      'metadata.name': (o: KubeObject) => o.metadata?.name,
      'metadata.namespace': (o: KubeObject) => o.metadata?.namespace,
      ...def.fields,
    };
  }

  get schema(): Schema | undefined { return this.#schema; }

  get #res(): { group: string; resource: string } { return qualifiedResource(this.def); }

  key(namespace: string | undefined, name: string): string {
    return this.def.namespaced ? `${this.def.storagePrefix}${namespace}/${name}` : `${this.def.storagePrefix}${name}`;
  }

  #prefixFor(namespace: string | undefined): string {
    return this.def.namespaced && namespace ? `${this.def.storagePrefix}${namespace}/` : this.def.storagePrefix;
  }

  /** Storage form → API form (a copy when a conversion applies, else the shared cached object). */
  toApi(obj: KubeObject): KubeObject {
    return this.def.conversion ? this.def.conversion.fromStorage(structuredClone(obj)) : obj;
  }

  #toStorage(obj: KubeObject): KubeObject {
    return this.def.conversion ? this.def.conversion.toStorage(obj) : obj;
  }

  /** A private, mutable copy of a cached object in API form. */
  #copy(entry: CacheEntry<KubeObject>): KubeObject {
    const o = JSON.parse(entry.json()) as KubeObject;
    return this.def.conversion ? this.def.conversion.fromStorage(o) : o;
  }

  // ---------------------------------------------------------------- reads

  async #consistent(rv: string | undefined): Promise<void> {
    const cache = this.#deps.cache;
    if (rv === undefined || rv === '') {
      if (!(await cache.sync())) {
        this.#deps.log.warn('watch cache behind the store', { resource: this.#res, cacheRev: cache.rev, storeRev: await this.#deps.store.currentRev() });
        throw new ApiError(504, 'Timeout', 'Timeout: the watch cache did not catch up with the store in time');
      }
      return;
    }
    if (rv === '0') return;
    const n = parseRV(rv);
    if (!(await cache.waitFor(n, 3000))) throw tooLargeResourceVersion(n, cache.rev);
  }

  async getEntry(namespace: string | undefined, name: string, rv?: string): Promise<CacheEntry<KubeObject>> {
    await this.#consistent(rv);
    const e = this.#deps.cache.get(this.key(namespace, name));
    if (!e) throw notFound(this.#res, name);
    return e;
  }

  async get(namespace: string | undefined, name: string, rv?: string): Promise<KubeObject> {
    return this.toApi((await this.getEntry(namespace, name, rv)).obj);
  }

  #selectors(o: ListOptions): { labels: Selector; fields: FieldSelector } {
    const labels = parseLabelSelector(o.labelSelector);
    const fields = parseFieldSelector(o.fieldSelector);
    fields.validate(this.#fields);
    return { labels, fields };
  }

  /** True when the stored object passes the selectors. */
  #matches(obj: KubeObject, s: { labels: Selector; fields: FieldSelector }): boolean {
    return s.labels.matches(obj.metadata?.labels) && s.fields.matches(obj, this.#fields);
  }

  async list(namespace: string | undefined, o: ListOptions): Promise<ListResult> {
    const sel = this.#selectors(o);
    const limit = o.limit && o.limit > 0 ? o.limit : 0;
    const prefix = this.#prefixFor(namespace);
    let startAfter: string | undefined;
    let snapshot: number | undefined;
    if (o.continue) {
      if (o.resourceVersion && o.resourceVersion !== '0') throw badRequest('specifying resource version is not allowed when using continue');
      const t = decodeContinue(o.continue);
      startAfter = this.def.storagePrefix + t.start;
      snapshot = t.rv;
    }
    if (o.resourceVersionMatch) {
      if (!['Exact', 'NotOlderThan'].includes(o.resourceVersionMatch)) throw badRequest(`resourceVersionMatch: Unsupported value: "${o.resourceVersionMatch}": supported values: "Exact", "NotOlderThan"`);
      if (!o.resourceVersion) throw badRequest('resourceVersionMatch is forbidden unless resourceVersion is provided');
      if (o.resourceVersionMatch === 'Exact' && o.resourceVersion === '0') throw badRequest('resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
    }
    const exact = o.resourceVersionMatch === 'Exact' || (o.resourceVersion !== undefined && o.resourceVersion !== '' && o.resourceVersion !== '0' && limit > 0 && !o.resourceVersionMatch);
    if (exact && snapshot === undefined) snapshot = parseRV(o.resourceVersion!);

    const cache = this.#deps.cache;
    if (snapshot === undefined) await this.#consistent(o.resourceVersion);
    if (snapshot === undefined || snapshot === cache.rev) {
      // Served from memory: the cache is at the requested state.
      const entries = cache.list(prefix);
      const items: KubeObject[] = [];
      const json: Buffer[] = [];
      let i = 0;
      if (startAfter !== undefined) {
        while (i < entries.length && entries[i]!.key <= startAfter) i++;
      }
      const rev = snapshot ?? cache.rev;
      let last: string | undefined;
      let more = false;
      let remaining = 0;
      for (; i < entries.length; i++) {
        const e = entries[i]!;
        if (!this.#matches(e.obj, sel)) continue;
        if (limit > 0 && items.length >= limit) {
          more = true;
          remaining = entries.length - i;
          break;
        }
        items.push(this.toApi(e.obj));
        if (!this.def.conversion) json.push(e.jsonBuffer());
        last = e.key;
      }
      const noSelectors = sel.labels.empty() && sel.fields.empty();
      return {
        items,
        itemJson: this.def.conversion ? undefined : json,
        resourceVersion: String(rev),
        continue: more && last ? encodeContinue({ rv: rev, start: last.slice(this.def.storagePrefix.length) }) : undefined,
        remainingItemCount: more && noSelectors ? remaining : undefined,
      };
    }
    return this.#listFromStore(prefix, snapshot, startAfter, limit, sel, !!o.continue);
  }

  /** An exact-revision list, paged from the store (the cache holds only the latest state). */
  async #listFromStore(prefix: string, rev: number, startAfter: string | undefined, limit: number, sel: { labels: Selector; fields: FieldSelector }, isContinue: boolean): Promise<ListResult> {
    const items: KubeObject[] = [];
    let after = startAfter;
    let more = false;
    let last: string | undefined;
    try {
      for (;;) {
        const page = await this.#deps.store.list({ prefix, rev, startAfter: after, limit: limit > 0 ? Math.max(limit, 100) : 0 });
        for (const kv of page.kvs) {
          const obj = decode(kv, kv.modRev);
          if (!this.#matches(obj, sel)) continue;
          if (limit > 0 && items.length >= limit) { more = true; break; }
          items.push(this.toApi(obj));
          last = kv.key;
        }
        if (more || !page.more || page.kvs.length === 0) {
          if (!more && page.more) more = true;
          break;
        }
        after = page.kvs[page.kvs.length - 1]!.key;
      }
    } catch (e) {
      if (e instanceof CompactedError) throw isContinue ? continueExpired() : expired(`too old resource version: ${rev} (${e.compactRev})`);
      if (e instanceof FutureRevisionError) throw tooLargeResourceVersion(rev, e.currentRev);
      throw e;
    }
    return {
      items,
      resourceVersion: String(rev),
      continue: more && last ? encodeContinue({ rv: rev, start: last.slice(this.def.storagePrefix.length) }) : undefined,
    };
  }

  /**
   * Streams changes to `send` until the returned handle is closed. Starting points follow upstream:
   * no resourceVersion or "0" first sends the current state as ADDED; a resourceVersion N replays
   * everything after N (410 Expired when N is older than the retained history).
   */
  async watch(namespace: string | undefined, o: WatchOptions, send: (events: ApiWatchEvent[]) => void): Promise<{ close(): void }> {
    const sel = this.#selectors(o);
    const prefix = this.#prefixFor(namespace);
    const cache = this.#deps.cache;
    const inScope = (key: string): boolean => key.startsWith(prefix);
    const rv = o.resourceVersion;
    let from: number;
    const initial: ApiWatchEvent[] = [];
    const sendInitial = o.sendInitialEvents ?? (rv === undefined || rv === '' || rv === '0');
    if (rv === undefined || rv === '' || o.sendInitialEvents) await this.#consistent(undefined);
    else if (rv !== '0') {
      const n = parseRV(rv);
      if (!(await cache.waitFor(n, 3000))) throw tooLargeResourceVersion(n, cache.rev);
    }
    if (sendInitial) {
      for (const e of cache.list(prefix)) if (this.#matches(e.obj, sel)) initial.push(this.#event('ADDED', e));
      from = cache.rev;
      if (o.sendInitialEvents) {
        initial.push({ type: 'BOOKMARK', object: this.#bookmark(from, true) });
      }
    } else {
      from = parseRV(rv!);
    }
    const listener = (events: readonly CacheEvent<KubeObject>[]): void => {
      const out: ApiWatchEvent[] = [];
      for (const ev of events) {
        if (!inScope(ev.entry.key)) continue;
        const now = ev.type !== 'DELETED' && this.#matches(ev.entry.obj, sel);
        const before = ev.prev !== undefined && this.#matches(ev.prev.obj, sel);
        if (ev.type === 'DELETED') {
          if (before) out.push(this.#event('DELETED', ev.entry));
        } else if (now && before) out.push(this.#event('MODIFIED', ev.entry));
        else if (now) out.push(this.#event('ADDED', ev.entry));
        else if (before) out.push(this.#event('DELETED', ev.entry));
      }
      if (out.length > 0) send(out);
    };
    if (initial.length > 0) send(initial);
    try {
      return cache.watchFrom(from, listener);
    } catch (e) {
      if (e instanceof TooOldResourceVersionError) {
        send([{ type: 'ERROR', object: expired(e.message).status }]);
        return { close() {} };
      }
      throw e;
    }
  }

  #event(type: 'ADDED' | 'MODIFIED' | 'DELETED', e: CacheEntry<KubeObject>): ApiWatchEvent {
    if (this.def.conversion) return { type, object: this.toApi(e.obj) };
    return { type, object: e.obj, json: e.json() };
  }

  #bookmark(rev: number, initialEnd = false): KubeObject {
    const metadata: KubeObject['metadata'] = { resourceVersion: String(rev) };
    if (initialEnd) metadata.annotations = { 'k8s.io/initial-events-end': 'true' };
    return { kind: this.def.kind, apiVersion: apiVersion(this.def), metadata };
  }

  /** A BOOKMARK event at the cache's current revision. */
  bookmark(): ApiWatchEvent {
    return { type: 'BOOKMARK', object: this.#bookmark(this.#deps.cache.rev) };
  }

  // ---------------------------------------------------------------- decoding and preparing writes

  /**
   * Checks a request body is an object of this kind (apiVersion/kind, namespace and name consistent
   * with the URL), applies field validation, and returns it in API form.
   */
  decodeObject(body: unknown, namespace: string | undefined, name: string | undefined, o: WriteOptions, expectKind = this.def.kind, expectVersion = apiVersion(this.def), schema = this.#schema): KubeObject {
    if (!isPlainObject(body)) throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(body)?.slice(0, 200)}'`);
    const obj = body as KubeObject;
    // As upstream's decoder: a body without apiVersion/kind takes them from the URL it was sent to.
    if (obj.kind === undefined || obj.kind === '') obj.kind = expectKind;
    if (obj.apiVersion === undefined || obj.apiVersion === '') obj.apiVersion = expectVersion;
    if (obj.apiVersion !== expectVersion) {
      throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${expectVersion})`);
    }
    if (obj.kind !== expectKind) throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${expectKind}) for this resource`);
    if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
    if (!isPlainObject(obj.metadata)) throw badRequest(`${expectKind} in version "${this.def.version}" cannot be handled as a ${expectKind}: json: cannot unmarshal ${Array.isArray(obj.metadata) ? 'array' : typeof obj.metadata} into Go struct field ${expectKind}.metadata of type v1.ObjectMeta`);
    if (schema) {
      const r = checkFields(obj, schema, o.fieldValidation !== 'Strict');
      if (r.typeErrors.length > 0) throw badRequest(`${expectKind} in version "${this.def.version}" cannot be handled as a ${expectKind}: ${r.typeErrors[0]}`);
      if (r.unknown.length > 0) {
        const msgs = r.unknown.map((f) => `unknown field "${f}"`);
        if (o.fieldValidation === 'Strict') throw badRequest(`${expectKind} in version "${expectVersion.split('/').pop()}" cannot be handled as a ${expectKind}: strict decoding error: ${msgs.join(', ')}`);
        if (o.fieldValidation === 'Warn') o.warnings.push(...msgs);
      }
    }
    if (this.def.namespaced) {
      const ns = obj.metadata.namespace;
      if (ns && namespace && ns !== namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      if (namespace) obj.metadata.namespace = namespace;
    } else if (obj.metadata.namespace) {
      // Cluster-scoped objects never carry a namespace; upstream drops it silently.
      delete obj.metadata.namespace;
    }
    if (name !== undefined && obj.metadata.name && obj.metadata.name !== name) {
      throw badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    if (name !== undefined && !obj.metadata.name) obj.metadata.name = name;
    return obj;
  }

  #invalid(obj: KubeObject, errors: FieldError[]): ApiError {
    return invalid(this.def.kind, this.def.group, obj.metadata.name ?? obj.metadata.generateName ?? '', errors);
  }

  #checkNamespace(obj: KubeObject): void {
    if (!this.def.namespaced) return;
    const nsName = obj.metadata.namespace;
    if (!nsName) return;
    const ns = this.#deps.namespace(nsName);
    if (!ns) throw notFound({ group: '', resource: 'namespaces' }, nsName);
    if (ns.metadata.deletionTimestamp || (ns as { status?: { phase?: string } }).status?.phase === 'Terminating') {
      const err = forbidden(this.#res, obj.metadata.name ?? '', `unable to create new content in namespace ${nsName} because it is being terminated`);
      err.status.details!.causes = [{ reason: 'NamespaceTerminating', message: `namespace ${nsName} is being terminated`, field: 'metadata.namespace' }];
      throw err;
    }
  }

  #now(): string {
    return rfc3339(this.#deps.clock.now());
  }

  async #leaseFor(): Promise<number> {
    const ttl = this.def.ttlSeconds;
    if (!ttl) return 0;
    const now = this.#deps.clock.now();
    // One lease serves all objects written within a tenth of the TTL, as upstream's lease manager.
    if (this.#lease && now - this.#lease.at < ttl * 100) return this.#lease.id;
    const id = await this.#deps.store.grantLease(ttl + Math.ceil(ttl / 10));
    this.#lease = { id, at: now };
    return id;
  }

  // ---------------------------------------------------------------- create

  async create(namespace: string | undefined, body: unknown, o: WriteOptions): Promise<KubeObject> {
    const obj = this.decodeObject(body, namespace, undefined, o);
    return this.createDecoded(obj, o);
  }

  /** Creates an object that has already been decoded (also used by PUT and apply on missing objects). */
  async createDecoded(obj: KubeObject, o: WriteOptions, managed?: (obj: KubeObject) => void): Promise<KubeObject> {
    const meta = obj.metadata;
    if (meta.resourceVersion) throw badRequest('resourceVersion should not be set on objects to be created');
    const generated = !meta.name && !!meta.generateName;
    if (generated) meta.name = meta.generateName + randomSuffix();
    meta.uid = randomUUID();
    meta.creationTimestamp = this.#now();
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete (meta as Record<string, unknown>)['selfLink'];
    if (this.def.tracksGeneration) meta.generation = 1;
    else delete meta.generation;
    this.def.defaults?.(obj);
    this.def.prepareForCreate?.(obj);
    await this.#deps.admission?.admit?.(obj, undefined, 'create');
    const errs = this.def.validate?.(obj) ?? [];
    if (errs.length > 0) throw this.#invalid(obj, errs);
    this.#checkNamespace(obj);
    if (managed) managed(obj);
    else recordUpdate(obj, undefined, this.#track(o.fieldManager));
    if (o.dryRun) return obj;
    const stored = this.#toStorage(obj);
    const lease = await this.#leaseFor();
    for (let attempt = 0; ; attempt++) {
      const res = await this.#deps.store.create(this.key(meta.namespace, meta.name!), encode(stored), lease);
      if (res.ok) return this.toApi(decode(res.kv, res.kv.modRev));
      if (generated && attempt < 5) {
        meta.name = meta.generateName + randomSuffix();
        continue;
      }
      const err = alreadyExists(this.#res, meta.name!);
      if (generated) err.status.message += ', the server was not able to generate a unique name for the object';
      throw err;
    }
  }

  #track(manager: string | undefined, subresource?: string): Parameters<typeof recordUpdate>[2] {
    return {
      manager: manager || 'unknown',
      apiVersion: apiVersion(this.def),
      schema: this.#schema,
      subresource,
      hasStatus: this.def.statusSubresource,
      now: this.#now(),
    };
  }

  // ---------------------------------------------------------------- update, patch

  /**
   * The update loop (upstream's GuaranteedUpdate): read the current object, let `mutate` produce the
   * next one, run the kind's update strategy, and compare-and-swap it into the store, retrying when
   * another writer got there first — unless the request named a resourceVersion (`precondition`), which
   * must then match the current one (409 otherwise). `onMissing` decides what a missing object means.
   */
  async guaranteedUpdate(
    namespace: string | undefined, name: string, o: WriteOptions,
    mutate: (current: KubeObject) => KubeObject,
    opts: {
      subresource?: string; precondition?: string; onMissing?: () => Promise<KubeObject>; manage?: (next: KubeObject, current: KubeObject) => void;
      /**
       * A storage-level update, as upstream's pods/binding makes: `mutate` alone decides the next object —
       * no update strategy, admission, validation or field management.
       */
      storageOnly?: boolean;
    } = {},
  ): Promise<{ object: KubeObject; created: boolean }> {
    const key = this.key(namespace, name);
    await this.#consistent(undefined);
    for (let attempt = 0; attempt < maxRetries; attempt++) {
      const entry = this.#deps.cache.get(key);
      if (!entry) {
        if (opts.onMissing) return { object: await opts.onMissing(), created: true };
        throw notFound(this.#res, name);
      }
      const pinned = opts.precondition;
      if (opts.storageOnly) {
        if (pinned && pinned !== String(entry.rev)) throw modifiedConflict(this.#res, name);
        const next = mutate(this.#copy(entry));
        if (o.dryRun) return { object: next, created: false };
        const res = await this.#deps.store.update(key, encode(this.#toStorage(next)), entry.rev, await this.#leaseFor());
        if (res.ok) return { object: this.toApi(decode(res.kv, res.kv.modRev)), created: false };
        if (pinned) throw modifiedConflict(this.#res, name);
        continue;
      }
      const current = this.#copy(entry);
      if (pinned && pinned !== current.metadata.resourceVersion) throw modifiedConflict(this.#res, name);
      const next = mutate(this.#copy(entry));
      next.metadata.resourceVersion = current.metadata.resourceVersion;
      this.#prepareUpdate(next, current, opts.subresource);
      await this.#deps.admission?.admit?.(next, current, 'update');
      const errs = this.def.validateUpdate?.(next, current) ?? [];
      if (errs.length > 0) throw this.#invalid(next, errs);
      if (opts.manage) opts.manage(next, current);
      else recordUpdate(next, current, this.#track(o.fieldManager, opts.subresource));
      if (deepEqual(next, current)) return { object: this.toApi(entry.obj), created: false };
      if (o.dryRun) return { object: next, created: false };
      // An object whose last finalizer is removed after its deletion was requested goes away now.
      if (next.metadata.deletionTimestamp && !(next.metadata.finalizers?.length) && (current.metadata.deletionGracePeriodSeconds ?? 0) === 0 && !this.#namespaceHoldsOn(next)) {
        const del = await this.#deps.store.delete(key, entry.rev);
        if (!del.ok) { if (pinned) throw modifiedConflict(this.#res, name); continue; }
        this.#deps.admission?.released?.(next);
        return { object: this.toApi(decode(del.kv, del.kv.modRev)), created: false };
      }
      const res = await this.#deps.store.update(key, encode(this.#toStorage(next)), entry.rev, await this.#leaseFor());
      if (res.ok) return { object: this.toApi(decode(res.kv, res.kv.modRev)), created: false };
      if (pinned) throw modifiedConflict(this.#res, name);
    }
    throw conflict(this.#res, name, `too many concurrent updates (${maxRetries} attempts); please retry`);
  }

  /** Namespaces stay while their spec.finalizers are pending, even with no metadata finalizers. */
  #namespaceHoldsOn(obj: KubeObject): boolean {
    return this.def.plural === 'namespaces' && this.def.group === '' && ((obj as { spec?: { finalizers?: string[] } }).spec?.finalizers?.length ?? 0) > 0;
  }

  /** Carries identity and server-owned fields from the current object, then runs the kind's update strategy. */
  #prepareUpdate(next: KubeObject, current: KubeObject, subresource: string | undefined): void {
    const m = next.metadata;
    const c = current.metadata;
    if (m.uid && m.uid !== c.uid) throw conflict(this.#res, c.name ?? '', `Precondition failed: UID in precondition: ${m.uid}, UID in object meta: ${c.uid}`);
    m.uid = c.uid;
    m.creationTimestamp = c.creationTimestamp;
    m.name = c.name;
    if (this.def.namespaced) m.namespace = c.namespace;
    if (c.deletionTimestamp) {
      m.deletionTimestamp = c.deletionTimestamp;
      m.deletionGracePeriodSeconds = c.deletionGracePeriodSeconds;
    } else {
      delete m.deletionTimestamp;
      delete m.deletionGracePeriodSeconds;
    }
    if (m.generation === undefined && c.generation !== undefined) m.generation = c.generation;
    if (subresource === 'finalize') {
      // The namespace finalize subresource changes spec.finalizers and nothing else.
      const finalizers = (next as { spec?: { finalizers?: string[] } }).spec?.finalizers;
      for (const k of Object.keys(next)) delete next[k];
      Object.assign(next, structuredClone(current));
      (next as { spec?: Record<string, unknown> }).spec = { ...((next as { spec?: object }).spec ?? {}), finalizers };
      return;
    }
    if (subresource === 'status' && this.def.statusSubresource) {
      // Only status (and annotations, which upstream's status strategies leave writable) changes through
      // the status subresource: everything else is taken from the current object.
      const status = next['status'];
      const annotations = next.metadata.annotations;
      for (const k of Object.keys(next)) delete next[k];
      Object.assign(next, structuredClone(current));
      next['status'] = status;
      if (annotations) next.metadata.annotations = annotations;
      else delete next.metadata.annotations;
      return;
    }
    this.def.defaults?.(next);
    this.def.prepareForUpdate?.(next, current);
    if (this.def.tracksGeneration) {
      m.generation = c.generation ?? 1;
      // Anything but metadata and status is spec, as far as generation goes.
      for (const k of new Set([...Object.keys(next), ...Object.keys(current)])) {
        if (k === 'metadata' || k === 'status' || k === 'apiVersion' || k === 'kind') continue;
        if (!deepEqual(next[k], current[k])) { m.generation = (c.generation ?? 0) + 1; break; }
      }
    } else if (c.generation === undefined) {
      delete m.generation;
    }
  }

  /** PUT: replaces the object (or its status). */
  async update(namespace: string | undefined, name: string, body: unknown, o: WriteOptions, subresource?: string): Promise<{ object: KubeObject; created: boolean }> {
    const obj = this.decodeObject(body, namespace, name, o);
    const onMissing = this.def.allowCreateOnUpdate && !subresource
      ? async () => { delete obj.metadata.resourceVersion; return this.createDecoded(obj, o); }
      : undefined;
    return this.guaranteedUpdate(namespace, name, o, () => structuredClone(obj), { subresource, onMissing, precondition: obj.metadata.resourceVersion || undefined });
  }

  /** PATCH in one of the four patch types; `apply` creates the object when missing. */
  async patch(namespace: string | undefined, name: string, type: PatchType, patch: unknown, o: WriteOptions, opts: { subresource?: string; force?: boolean } = {}): Promise<{ object: KubeObject; created: boolean }> {
    if (type === 'apply') return this.#apply(namespace, name, patch, o, opts);
    if (type !== 'json' && !isPlainObject(patch)) throw badRequest('the body of a merge or strategic merge patch must be a JSON object');
    const mutate = (current: KubeObject): KubeObject => {
      let patched: unknown;
      switch (type) {
        case 'json': patched = applyJsonPatch(current, patch); break;
        case 'merge': patched = applyMergePatch(current, patch); break;
        case 'strategic': patched = applyStrategicMergePatch(current, patch, this.#schema); break;
      }
      if (!isPlainObject(patched)) throw badRequest('the patch turned the object into something that is not an object');
      return this.decodeObject(patched as KubeObject, namespace, name, o);
    };
    // A patch that does not name a resourceVersion applies to whatever is current, retrying on conflicts.
    return this.guaranteedUpdate(namespace, name, o, mutate, { subresource: opts.subresource, precondition: patchPrecondition(type, patch) });
  }

  async #apply(namespace: string | undefined, name: string, body: unknown, o: WriteOptions, opts: { subresource?: string; force?: boolean }): Promise<{ object: KubeObject; created: boolean }> {
    if (!o.fieldManager) throw badRequest('PATCH with apply requires fieldManager to be set (fieldManager is required for apply requests)');
    const applied = this.decodeObject(structuredClone(body), namespace, name, o);
    const track = this.#track(o.fieldManager, opts.subresource);
    const fail = (conflicts: ReturnType<typeof serverSideApply>['conflicts']): never => {
      const err = new ApiError(409, 'Conflict', conflictMessage(conflicts), {
        causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}" using ${c.apiVersion}`, field: c.field })),
      });
      throw err;
    };
    const onMissing = opts.subresource ? undefined : async (): Promise<KubeObject> => {
      const r = serverSideApply(undefined, applied, true, track);
      const obj = r.object;
      obj.metadata.name = name;
      if (this.def.namespaced) obj.metadata.namespace = namespace;
      const mf = obj.metadata.managedFields;
      return this.createDecoded(obj, o, (created) => { if (mf) created.metadata.managedFields = mf; });
    };
    return this.guaranteedUpdate(namespace, name, o, (current) => {
      const r = serverSideApply(current, applied, opts.force === true, track);
      if (r.conflicts.length > 0) fail(r.conflicts);
      return r.object;
    }, {
      subresource: opts.subresource,
      precondition: applied.metadata.resourceVersion || undefined,
      onMissing,
      // serverSideApply already recorded ownership; keep it across the strategy step.
      manage: (next, current) => {
        const r = serverSideApply(current, applied, true, track);
        next.metadata.managedFields = r.object.metadata.managedFields;
        if (!next.metadata.managedFields) delete next.metadata.managedFields;
      },
    });
  }

  // ---------------------------------------------------------------- delete

  /** DELETE of one object, with preconditions, graceful deletion, finalizers and propagation policy. */
  async delete(namespace: string | undefined, name: string, opts: DeleteOptions, o: WriteOptions): Promise<{ result: KubeObject | Status; pending: boolean }> {
    const key = this.key(namespace, name);
    await this.#consistent(undefined);
    for (let attempt = 0; attempt < maxRetries; attempt++) {
      const entry = this.#deps.cache.get(key);
      if (!entry) throw notFound(this.#res, name);
      const current = this.#copy(entry);
      const meta = current.metadata;
      const pre = opts.preconditions;
      if (pre?.uid && pre.uid !== meta.uid) throw conflict(this.#res, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${meta.uid}`);
      if (pre?.resourceVersion && pre.resourceVersion !== meta.resourceVersion) {
        throw conflict(this.#res, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${meta.resourceVersion}`);
      }
      if (this.def.plural === 'namespaces' && this.def.group === '' && ['default', 'kube-system', 'kube-public'].includes(name)) {
        throw forbidden(this.#res, name, 'this namespace may not be deleted');
      }
      const now = this.#deps.clock.now();
      const next = structuredClone(current);
      const nm = next.metadata;
      let write = false;
      let removeNow = false;

      const policy = opts.propagationPolicy ?? (opts.orphanDependents === true ? 'Orphan' : undefined);
      if (policy !== undefined && !['Orphan', 'Foreground', 'Background'].includes(policy)) {
        throw invalid('DeleteOptions', '', '', [{ type: 'FieldValueNotSupported', field: 'propagationPolicy', detail: `Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"` }]);
      }
      const plan = this.def.deletePlan?.(current, opts.gracePeriodSeconds) ?? { kind: 'now' as const };
      const finalizers = new Set(nm.finalizers ?? []);
      if (!nm.deletionTimestamp) {
        if (policy === 'Orphan') { finalizers.add('orphan'); finalizers.delete('foregroundDeletion'); }
        if (policy === 'Foreground') { finalizers.add('foregroundDeletion'); finalizers.delete('orphan'); }
      }
      const pendingNamespace = this.#namespaceHoldsOn(next);
      if (finalizers.size > 0 || pendingNamespace) {
        nm.finalizers = finalizers.size > 0 ? [...finalizers] : undefined;
        if (!nm.finalizers) delete nm.finalizers;
        if (!nm.deletionTimestamp) {
          nm.deletionTimestamp = rfc3339(now + (plan.kind === 'graceful' ? plan.seconds * 1000 : 0));
          nm.deletionGracePeriodSeconds = plan.kind === 'graceful' ? plan.seconds : 0;
          if (pendingNamespace) (next as { status?: { phase?: string } }).status = { ...((next as { status?: object }).status ?? {}), phase: 'Terminating' };
        } else if (plan.kind === 'now' || (plan.kind === 'graceful' && plan.seconds < (nm.deletionGracePeriodSeconds ?? Infinity))) {
          nm.deletionGracePeriodSeconds = plan.kind === 'graceful' ? plan.seconds : 0;
        }
        write = !deepEqual(next, current);
      } else if (plan.kind === 'graceful') {
        if (!nm.deletionTimestamp || plan.seconds < (nm.deletionGracePeriodSeconds ?? Infinity)) {
          // Shortening an ongoing grace period moves the deadline closer, never further.
          nm.deletionTimestamp = rfc3339(now + plan.seconds * 1000);
          nm.deletionGracePeriodSeconds = plan.seconds;
          write = true;
        }
      } else {
        removeNow = true;
      }
      if (o.dryRun) return { result: removeNow && !this.def.returnDeletedObject ? this.#deletedStatus(current) : next, pending: !removeNow };
      if (removeNow) {
        const res = await this.#deps.store.delete(key, entry.rev);
        if (!res.ok) continue;
        this.#deps.admission?.released?.(current);
        if (this.def.returnDeletedObject) return { result: this.toApi(decode(res.kv, res.kv.modRev)), pending: false };
        return { result: this.#deletedStatus(current), pending: false };
      }
      if (!write) return { result: current, pending: true };
      const res = await this.#deps.store.update(key, encode(this.#toStorage(next)), entry.rev);
      if (res.ok) return { result: this.toApi(decode(res.kv, res.kv.modRev)), pending: true };
    }
    throw conflict(this.#res, name, 'too many concurrent updates while deleting; please retry');
  }

  #deletedStatus(obj: KubeObject): Status {
    return successStatus({ name: obj.metadata.name, ...(this.def.group ? { group: this.def.group } : {}), kind: this.def.plural, uid: obj.metadata.uid });
  }

  /** DELETE on the collection: every object that matches the selectors, each with the same options. */
  async deleteCollection(namespace: string | undefined, lo: ListOptions, opts: DeleteOptions, o: WriteOptions): Promise<KubeObject[]> {
    const { items } = await this.list(namespace, { labelSelector: lo.labelSelector, fieldSelector: lo.fieldSelector });
    const out: KubeObject[] = [];
    for (const item of items) {
      try {
        const { result } = await this.delete(item.metadata.namespace, item.metadata.name!, opts, o);
        out.push((result as KubeObject).metadata?.name ? (result as KubeObject) : item);
      } catch (e) {
        if (e instanceof ApiError && e.code === 404) continue;
        throw e;
      }
    }
    return out;
  }
}

/** Parses a resourceVersion query value; a malformed one is a 400 as upstream. */
export function parseRV(rv: string): number {
  if (!/^\d+$/.test(rv)) throw badRequest(`invalid resource version: "${rv}"`);
  return Number(rv);
}

/** The resourceVersion a PATCH body names, which makes it conditional (upstream's patch precondition). */
export function patchPrecondition(type: PatchType, patch: unknown): string | undefined {
  if (type === 'json') {
    if (!Array.isArray(patch)) return undefined;
    for (const op of patch as { op?: string; path?: string; value?: unknown }[]) {
      if (op.path === '/metadata/resourceVersion' && (op.op === 'replace' || op.op === 'add' || op.op === 'test') && typeof op.value === 'string') return op.value;
    }
    return undefined;
  }
  const rv = (patch as { metadata?: { resourceVersion?: unknown } } | undefined)?.metadata?.resourceVersion;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeleteOptions } from 'kubernetes-types/meta/v1.js';
import type { ResourceDefinition } from '../../api/resource.js';
import { apiVersion } from '../../api/resource.js';
import { ApiError, badRequest, conflict, invalid, methodNotAllowed, notFoundPath, unsupportedMediaType } from '../../api/status.js';
import { isPlainObject, type KubeObject } from '../../api/types.js';
import { fromLabelSelector } from '../../api/selectors/label-selector.js';
import { decodeBody, mediaType, negotiate, readBody, sendObject, addWarning, type Negotiated } from '../http.js';
import type { ResourceRequest } from '../request-info.js';
import { patchPrecondition, type FieldValidation, type ListResult, type PatchType, type RestStore, type WriteOptions } from '../registry/rest-store.js';
import { parseIncludeObject, tableRow, toTable, type IncludeObject } from '../table.js';
import { serveWatch } from './watch.js';
import { servePodLog } from './pod-log.js';
import { evictPod } from './eviction.js';
import type { KubeletClientTLS } from './pod-node.js';
import type { Clock } from '../../util/clock.js';
import { applyJsonPatch } from '../../api/patch/json-patch.js';
import { applyMergePatch } from '../../api/patch/merge-patch.js';
import { applyStrategicMergePatch } from '../../api/patch/strategic-merge.js';
import { schemaByName } from '../../api/schema/schema.js';
import { rfc3339 } from '../../util/time.js';

const patchTypes: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
  'application/apply-patch+cbor': 'apply',
};

/** What a resource handler needs from the server. */
export interface ResourceContext {
  readonly clock: Clock;
  /** The RestStore of a resource, by group, version and plural. */
  store(group: string, version: string, resource: string): RestStore | undefined;
  /** How the server calls node agents (pods/log); absent, logs cannot be fetched. */
  readonly kubeletClient?: KubeletClientTLS;
}

function boolParam(v: string | null): boolean {
  return v === 'true' || v === '1';
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`invalid value for ${name}: "${v}" is not an integer`);
  return Number(v);
}

function writeOptions(req: IncomingMessage, q: URLSearchParams): WriteOptions {
  const dryRun = q.getAll('dryRun');
  for (const d of dryRun) if (d !== 'All') throw badRequest(`Invalid dry run value: ${JSON.stringify(d)}; supported values: "All"`);
  const fv = q.get('fieldValidation') ?? 'Warn';
  if (!['Strict', 'Warn', 'Ignore'].includes(fv)) throw badRequest(`fieldValidation: Unsupported value: "${fv}": supported values: "Ignore", "Strict", "Warn"`);
  let manager = q.get('fieldManager') ?? undefined;
  if (manager !== undefined && manager.length > 128) {
    throw invalid('PatchOptions', '', '', [{ type: 'FieldValueTooLong', field: 'fieldManager', detail: 'Too long: may not be more than 128 bytes' }]);
  }
  // Without a fieldManager, upstream names the manager after the client (User-Agent up to the first '/').
  manager ??= (req.headers['user-agent'] ?? 'unknown').split('/')[0];
  return { dryRun: dryRun.length > 0, fieldManager: manager, fieldValidation: fv as FieldValidation, warnings: [] };
}

function listOptions(q: URLSearchParams): { labelSelector?: string; fieldSelector?: string; limit?: number; continue?: string; resourceVersion?: string; resourceVersionMatch?: string } {
  return {
    labelSelector: q.get('labelSelector') ?? undefined,
    fieldSelector: q.get('fieldSelector') ?? undefined,
    limit: intParam(q, 'limit'),
    continue: q.get('continue') ?? undefined,
    resourceVersion: q.get('resourceVersion') ?? undefined,
    resourceVersionMatch: q.get('resourceVersionMatch') ?? undefined,
  };
}

function flushWarnings(res: ServerResponse, o: WriteOptions): void {
  for (const w of o.warnings) addWarning(res, w);
}

/** Sends one object, as a one-row Table when the client asked for Tables. */
function sendOne(res: ServerResponse, code: number, def: ResourceDefinition, rest: RestStore, obj: KubeObject, neg: Negotiated, include: IncludeObject, now: number): void {
  if (neg.table && obj.metadata) {
    const storage = def.conversion ? def.conversion.toStorage(structuredClone(obj)) : obj;
    const table = toTable(def, [tableRow(def, obj, storage, include, now)], { version: neg.tableVersion, resourceVersion: obj.metadata.resourceVersion, withColumns: true });
    sendObject(res, code, table, neg);
    return;
  }
  sendObject(res, code, obj, neg);
}

function sendList(res: ServerResponse, def: ResourceDefinition, list: ListResult, neg: Negotiated, include: IncludeObject, now: number): void {
  if (neg.table) {
    const rows = list.items.map((o) => tableRow(def, o, def.conversion ? def.conversion.toStorage(structuredClone(o)) : o, include, now));
    sendObject(res, 200, toTable(def, rows, { version: neg.tableVersion, resourceVersion: list.resourceVersion, continue: list.continue, remainingItemCount: list.remainingItemCount, withColumns: true }), neg);
    return;
  }
  const metadata: Record<string, unknown> = { resourceVersion: list.resourceVersion };
  if (list.continue) metadata['continue'] = list.continue;
  if (list.remainingItemCount !== undefined) metadata['remainingItemCount'] = list.remainingItemCount;
  if (list.itemJson && !neg.yaml) {
    // Items straight from the cache are already serialised: splice them in instead of re-encoding 10k objects.
    const parts: Buffer[] = [Buffer.from(`{"kind":${JSON.stringify(def.listKind)},"apiVersion":${JSON.stringify(apiVersion(def))},"metadata":${JSON.stringify(metadata)},"items":[`)];
    const comma = Buffer.from(',');
    list.itemJson.forEach((b, i) => { if (i > 0) parts.push(comma); parts.push(b); });
    parts.push(Buffer.from(']}'));
    const body = Buffer.concat(parts);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Content-Length': body.length });
    res.end(body);
    return;
  }
  sendObject(res, 200, { kind: def.listKind, apiVersion: apiVersion(def), metadata, items: list.items }, neg);
}

function scaleOf(obj: KubeObject): KubeObject {
  const spec = (obj['spec'] ?? {}) as { replicas?: number; selector?: Parameters<typeof fromLabelSelector>[0] };
  const status = (obj['status'] ?? {}) as { replicas?: number };
  let selector = '';
  try { selector = fromLabelSelector(spec.selector).toString(); } catch { /* an invalid selector prints empty */ }
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: obj.metadata.name, namespace: obj.metadata.namespace, uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion, creationTimestamp: obj.metadata.creationTimestamp,
    },
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: status.replicas ?? 0, selector },
  };
}

/** Applies a scale change (PUT or PATCH of `/scale`) to the workload. */
async function writeScale(rest: RestStore, ns: string | undefined, name: string, o: WriteOptions, compute: (scale: KubeObject) => KubeObject, precondition?: string): Promise<KubeObject> {
  const scaleSchema = schemaByName('io.k8s.api.autoscaling.v1.Scale');
  const r = await rest.guaranteedUpdate(ns, name, o, (current) => {
    const scale = compute(scaleOf(current));
    const decoded = rest.decodeObject(scale, ns, name, o, 'Scale', 'autoscaling/v1', scaleSchema);
    const replicas = (decoded['spec'] as { replicas?: number } | undefined)?.replicas ?? 0;
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw invalid('Scale', 'autoscaling', name, [{ type: 'FieldValueInvalid', field: 'spec.replicas', detail: `Invalid value: ${replicas}: must be greater than or equal to 0` }]);
    }
    (current['spec'] as { replicas?: number }).replicas = replicas;
    return current;
  }, { subresource: 'scale', precondition });
  return scaleOf(r.object);
}

/** Binds a pod to a node (POST pods/{name}/binding), as the scheduler does. */
async function bindPod(rest: RestStore, ns: string, name: string, body: unknown, o: WriteOptions, now: () => string): Promise<void> {
  if (!isPlainObject(body) || body['kind'] !== 'Binding') throw badRequest('the body must be a Binding (apiVersion v1, kind Binding)');
  const target = body['target'] as { name?: string; kind?: string } | undefined;
  if (!target?.name) throw invalid('Binding', '', name, [{ type: 'FieldValueRequired', field: 'target.name', detail: 'Required value' }]);
  if (target.kind && target.kind !== 'Node') throw invalid('Binding', '', name, [{ type: 'FieldValueNotSupported', field: 'target.kind', detail: `Unsupported value: "${target.kind}": supported values: "Node"` }]);
  const annotations = ((body['metadata'] as KubeObject['metadata'] | undefined)?.annotations) ?? {};
  await rest.guaranteedUpdate(ns, name, o, (pod) => {
    const spec = pod['spec'] as { nodeName?: string };
    const res = { group: '', resource: 'pods/binding' };
    if (pod.metadata.deletionTimestamp) throw conflict(res, name, `pod ${name} is being deleted, cannot be assigned to a host`);
    if (spec.nodeName) throw conflict(res, name, `pod ${name} is already assigned to node "${spec.nodeName}"`);
    spec.nodeName = target.name;
    if (Object.keys(annotations).length > 0) pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), ...annotations };
    const status = (pod['status'] ??= {}) as { conditions?: { type: string; status: string; lastTransitionTime?: string; lastProbeTime?: null }[] };
    const conds = (status.conditions ??= []);
    const existing = conds.find((c) => c.type === 'PodScheduled');
    if (existing) { if (existing.status !== 'True') { existing.status = 'True'; existing.lastTransitionTime = now(); } delete (existing as Record<string, unknown>)['reason']; delete (existing as Record<string, unknown>)['message']; }
    else conds.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now() });
    return pod;
  }, { subresource: 'binding', storageOnly: true });
}

function deleteOptions(q: URLSearchParams, body: unknown): DeleteOptions {
  const o: DeleteOptions = isPlainObject(body) ? { ...(body as DeleteOptions) } : {};
  const grace = intParam(q, 'gracePeriodSeconds');
  if (grace !== undefined) o.gracePeriodSeconds = grace;
  const policy = q.get('propagationPolicy');
  if (policy) o.propagationPolicy = policy;
  if (q.has('orphanDependents')) o.orphanDependents = boolParam(q.get('orphanDependents'));
  if (o.gracePeriodSeconds !== undefined && o.gracePeriodSeconds < 0) o.gracePeriodSeconds = 0;
  return o;
}

/** Serves every request addressed to a resource or one of its subresources. */
export async function handleResource(req: IncomingMessage, res: ServerResponse, info: ResourceRequest, url: URL, ctx: ResourceContext): Promise<void> {
  const rest = ctx.store(info.group, info.version, info.resource);
  if (!rest) throw notFoundPath();
  const def = rest.def;
  if (def.namespaced && info.name !== undefined && info.namespace === undefined) throw notFoundPath();
  if (!def.namespaced && info.namespace !== undefined) throw notFoundPath();
  const q = url.searchParams;
  const neg = negotiate(req.headers.accept);
  const include = parseIncludeObject(q.get('includeObject'));
  const now = ctx.clock.now();
  const ns = info.namespace;
  const sub = info.subresource;
  if (sub !== undefined && !def.subresources.some((s) => s.name === sub)) throw notFoundPath();
  const method = req.method ?? 'GET';
  const isWatch = info.legacyWatch || boolParam(q.get('watch'));

  if (method === 'GET') {
    if (isWatch) {
      if (sub) throw methodNotAllowed();
      const lo = listOptions(q);
      const fieldSelector = info.name ? [lo.fieldSelector, `metadata.name=${info.name}`].filter(Boolean).join(',') : lo.fieldSelector;
      await serveWatch(req, res, rest, ns, {
        ...lo, fieldSelector,
        allowWatchBookmarks: boolParam(q.get('allowWatchBookmarks')),
        sendInitialEvents: q.has('sendInitialEvents') ? boolParam(q.get('sendInitialEvents')) : undefined,
      }, { neg, include, timeoutSeconds: intParam(q, 'timeoutSeconds'), clock: ctx.clock });
      return;
    }
    if (info.name === undefined) {
      sendList(res, def, await rest.list(ns, listOptions(q)), neg, include, now);
      return;
    }
    if (sub === 'log' && def.plural === 'pods' && def.group === '') {
      return servePodLog(req, res, rest, ctx.store('', 'v1', 'nodes')!, ctx.kubeletClient, ns!, info.name, q);
    }
    const obj = await rest.get(ns, info.name, q.get('resourceVersion') ?? undefined);
    if (sub === 'scale') return sendObject(res, 200, scaleOf(obj), neg);
    if (sub !== undefined && sub !== 'status') throw methodNotAllowed();
    return sendOne(res, 200, def, rest, obj, neg, include, now);
  }

  if (method === 'POST') {
    const body = decodeBody(await readBody(req), req.headers['content-type']);
    const o = writeOptions(req, q);
    if (info.name !== undefined) {
      if (sub === 'binding' && def.plural === 'pods' && def.group === '') {
        await bindPod(rest, ns!, info.name, body, o, () => rfc3339(ctx.clock.now()));
        flushWarnings(res, o);
        return sendObject(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 }, neg);
      }
      if (sub === 'eviction' && def.plural === 'pods' && def.group === '') {
        const status = await evictPod({ pods: rest, budgets: ctx.store('policy', 'v1', 'poddisruptionbudgets'), now: () => ctx.clock.now() }, ns!, info.name, body, o);
        flushWarnings(res, o);
        return sendObject(res, status.code, status, neg);
      }
      throw methodNotAllowed();
    }
    const created = await rest.create(ns, body, o);
    flushWarnings(res, o);
    return sendOne(res, 201, def, rest, created, neg, include, now);
  }

  if (method === 'PUT') {
    if (info.name === undefined) throw methodNotAllowed();
    const body = decodeBody(await readBody(req), req.headers['content-type']);
    const o = writeOptions(req, q);
    if (sub === 'scale') {
      const scale = await writeScale(rest, ns, info.name, o, () => body as KubeObject, (body as KubeObject)?.metadata?.resourceVersion || undefined);
      flushWarnings(res, o);
      return sendObject(res, 200, scale, neg);
    }
    if (sub !== undefined && sub !== 'status' && sub !== 'finalize') throw methodNotAllowed();
    const r = await rest.update(ns, info.name, body, o, sub);
    flushWarnings(res, o);
    return sendOne(res, r.created ? 201 : 200, def, rest, r.object, neg, include, now);
  }

  if (method === 'PATCH') {
    if (info.name === undefined) throw methodNotAllowed();
    const ct = mediaType(req.headers['content-type']);
    const type = patchTypes[ct];
    if (!type) throw unsupportedMediaType(ct, Object.keys(patchTypes).filter((t) => !t.endsWith('cbor')));
    const raw = await readBody(req);
    const patch = decodeBody(raw, type === 'apply' ? 'application/yaml' : 'application/json', ['application/json', 'application/yaml']);
    const o = writeOptions(req, q);
    if (sub === 'scale') {
      if (type === 'apply') throw badRequest('apply is not supported on the scale subresource');
      const scale = await writeScale(rest, ns, info.name, o, (current) => {
        switch (type) {
          case 'json': return applyJsonPatch(current, patch) as KubeObject;
          case 'merge': return applyMergePatch(current, patch) as KubeObject;
          case 'strategic': return applyStrategicMergePatch(current, patch, schemaByName('io.k8s.api.autoscaling.v1.Scale')) as KubeObject;
        }
      }, patchPrecondition(type, patch));
      flushWarnings(res, o);
      return sendObject(res, 200, scale, neg);
    }
    if (sub !== undefined && sub !== 'status') throw methodNotAllowed();
    const r = await rest.patch(ns, info.name, type, patch, o, { subresource: sub, force: boolParam(q.get('force')) });
    flushWarnings(res, o);
    return sendOne(res, r.created ? 201 : 200, def, rest, r.object, neg, include, now);
  }

  if (method === 'DELETE') {
    if (sub !== undefined) throw methodNotAllowed();
    const raw = await readBody(req);
    const body = raw.length > 0 ? decodeBody(raw, req.headers['content-type'] || 'application/json') : undefined;
    const o = writeOptions(req, q);
    const opts = deleteOptions(q, body);
    if (opts.dryRun && opts.dryRun.length > 0) (o as { dryRun: boolean }).dryRun = true;
    if (info.name === undefined) {
      const items = await rest.deleteCollection(ns, listOptions(q), opts, o);
      return sendObject(res, 200, { kind: def.listKind, apiVersion: apiVersion(def), metadata: {}, items }, neg);
    }
    const r = await rest.delete(ns, info.name, opts, o);
    // 202: accepted, but the object stays until its grace period or finalizers are through.
    return sendObject(res, r.pending ? 202 : 200, r.result, neg);
  }

  throw methodNotAllowed();
}

export { ApiError };

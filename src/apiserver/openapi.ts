import { createHash } from 'node:crypto';
import type { ResourceDefinition } from '../api/resource.js';
import { refName, schemas, type Schema } from '../api/schema/schema.js';
import { groupVersions } from './discovery.js';

/** The OpenAPI v3 document path of a group-version: `api/v1`, `apis/apps/v1`. */
export function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

/** Every schema reachable from `roots` through `$ref`s. */
function closure(roots: string[]): Record<string, Schema> {
  const all = schemas();
  const out: Record<string, Schema> = {};
  const todo = [...roots];
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (out[name] || !all[name]) continue;
    out[name] = all[name]!;
    const text = JSON.stringify(all[name]);
    for (const m of text.matchAll(/"\$ref":"([^"]+)"/g)) todo.push(refName(m[1]!));
  }
  return out;
}

const ref = (name: string): Record<string, unknown> => ({ $ref: `#/components/schemas/${name}` });
const queryParam = (name: string, description: string): Record<string, unknown> => ({ name, in: 'query', description, schema: { type: 'string', uniqueItems: true } });
const writeParams = [
  queryParam('dryRun', 'When present, indicates that modifications should not be persisted. Valid value: All.'),
  queryParam('fieldManager', 'A name associated with the actor or entity that is making these changes.'),
  queryParam('fieldValidation', 'How the server treats unknown or duplicate fields in the request body: Ignore, Warn or Strict.'),
];

function content(schema: Record<string, unknown>, types = ['application/json', 'application/yaml']): Record<string, unknown> {
  return Object.fromEntries(types.map((t) => [t, { schema }]));
}

/** Paths and operations of one resource, carrying the GVK and `fieldValidation` kubectl looks for. */
function resourcePaths(r: ResourceDefinition): Record<string, unknown> {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const collection = r.namespaced ? `${base}/namespaces/{namespace}/${r.plural}` : `${base}/${r.plural}`;
  const item = `${collection}/{name}`;
  const gvk = { group: r.group, version: r.version, kind: r.kind };
  const listName = r.openapiName.replace(/\.[A-Za-z]+$/, `.${r.listKind}`);
  const pathParams = [
    { name: 'name', in: 'path', required: true, description: `name of the ${r.kind}`, schema: { type: 'string', uniqueItems: true } },
    ...(r.namespaced ? [{ name: 'namespace', in: 'path', required: true, description: 'object name and auth scope, such as for teams and projects', schema: { type: 'string', uniqueItems: true } }] : []),
  ];
  const op = (action: string, verb: string, extra: Record<string, unknown>): Record<string, unknown> => ({
    operationId: `${verb}${r.namespaced ? 'Namespaced' : ''}${r.kind}`,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
    responses: { '200': { description: 'OK', content: content(ref(r.openapiName)) } },
    ...extra,
  });
  const paths: Record<string, unknown> = {
    [collection]: {
      get: op('list', 'list', { responses: { '200': { description: 'OK', content: content(ref(listName)) } } }),
      post: op('post', 'create', { parameters: writeParams, requestBody: { content: content(ref(r.openapiName)), required: true } }),
      delete: op('deletecollection', 'deleteCollection', {}),
      ...(r.namespaced ? { parameters: [pathParams[1]] } : {}),
    },
    [item]: {
      get: op('get', 'read', {}),
      put: op('put', 'replace', { parameters: writeParams, requestBody: { content: content(ref(r.openapiName)), required: true } }),
      // Strategic merge patch is left out on purpose: kubectl then builds its patches from its own compiled types.
      patch: op('patch', 'patch', {
        parameters: [...writeParams, queryParam('force', 'Force is going to "force" Apply requests.')],
        requestBody: {
          content: {
            'application/json-patch+json': { schema: ref('io.k8s.apimachinery.pkg.apis.meta.v1.Patch') },
            'application/merge-patch+json': { schema: ref('io.k8s.apimachinery.pkg.apis.meta.v1.Patch') },
            'application/apply-patch+yaml': { schema: ref('io.k8s.apimachinery.pkg.apis.meta.v1.Patch') },
          },
          required: true,
        },
      }),
      delete: op('delete', 'delete', {}),
      parameters: pathParams,
    },
  };
  return paths;
}

interface Doc { body: string; hash: string }

/**
 * OpenAPI v3 as kubectl reads it: a root listing one document per group-version (each URL carrying a
 * content hash, so clients may cache it), and per-group-version documents with operations and the
 * upstream schemas they reference. Built lazily on first request.
 */
export class OpenAPIDocuments {
  readonly #resources: readonly ResourceDefinition[];
  #docs: Map<string, Doc> | undefined;

  constructor(resources: readonly ResourceDefinition[]) {
    this.#resources = resources;
  }

  #build(): Map<string, Doc> {
    const docs = new Map<string, Doc>();
    for (const gv of groupVersions(this.#resources)) {
      const paths: Record<string, unknown> = {};
      const roots: string[] = ['io.k8s.apimachinery.pkg.apis.meta.v1.Patch', 'io.k8s.apimachinery.pkg.apis.meta.v1.Status', 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions'];
      for (const r of gv.resources) {
        Object.assign(paths, resourcePaths(r));
        roots.push(r.openapiName, r.openapiName.replace(/\.[A-Za-z]+$/, `.${r.listKind}`));
      }
      const doc = {
        openapi: '3.0.0',
        info: { title: 'Kubernetes', version: 'v1.32.0' },
        paths,
        components: { schemas: closure(roots) },
      };
      const body = JSON.stringify(doc);
      docs.set(gvPath(gv.group, gv.version), { body, hash: createHash('sha512').update(body).digest('hex').slice(0, 64).toUpperCase() });
    }
    return docs;
  }

  #all(): Map<string, Doc> {
    return (this.#docs ??= this.#build());
  }

  root(): Record<string, unknown> {
    const paths: Record<string, unknown> = {};
    for (const [path, doc] of this.#all()) paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${doc.hash}` };
    return { paths };
  }

  /** The document of `api/v1` or `apis/{g}/{v}`, or undefined. */
  document(path: string): Doc | undefined {
    return this.#all().get(path);
  }
}

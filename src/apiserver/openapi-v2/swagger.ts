/**
 * A Swagger 2.0 document of the served resources, as kube-apiserver serves at `/openapi/v2`: paths
 * whose operations carry `x-kubernetes-action` and `x-kubernetes-group-version-kind`, and the
 * upstream type schemas under `definitions`, converted from the OpenAPI v3 component schemas.
 */
import type { ResourceDefinition } from '../../api/resource.js';
import { refName, schemas, type Schema } from '../../api/schema/schema.js';

/** A JSON object of the Swagger document. */
export type Json = Record<string, unknown>;

const definitionRef = (name: string): Json => ({ $ref: `#/definitions/${name}` });

/** Every component schema reachable from `roots` through `$ref`s, by name. */
function reachable(roots: readonly string[]): Map<string, Schema> {
  const all = schemas();
  const out = new Map<string, Schema>();
  const todo = [...roots];
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (out.has(name) || !all[name]) continue;
    out.set(name, all[name]!);
    for (const m of JSON.stringify(all[name]).matchAll(/"\$ref":"([^"]+)"/g)) todo.push(refName(m[1]!));
  }
  return out;
}

/** The `$ref` a schema stands for: its own, or that of a lone `allOf: [{$ref}]` wrapper (how v3 puts a description beside a reference). */
function referenceOf(s: Schema): string | undefined {
  if (s.$ref) return s.$ref;
  const only = s.allOf?.length === 1 ? s.allOf[0] : undefined;
  if (only?.$ref && Object.keys(only).length === 1) return only.$ref;
  return undefined;
}

/**
 * One v3 schema as Swagger 2.0: references point into `#/definitions/`, and a reference keeps its
 * description and extensions but no type (kube-openapi refuses a typed reference). A schema without
 * a type that is marked int-or-string (Quantity) is a string, as upstream's v2 has it.
 */
export function toSwaggerSchema(s: Schema): Json {
  const out: Json = {};
  const ref = referenceOf(s);
  if (ref) out['$ref'] = `#/definitions/${refName(ref)}`;
  else if (s.allOf) out['allOf'] = s.allOf.map(toSwaggerSchema);
  if (s.description !== undefined) out['description'] = s.description;
  if (!ref) {
    const type = s.type ?? (s['x-kubernetes-int-or-string'] ? 'string' : undefined);
    if (type) out['type'] = type;
    if (s.format) out['format'] = s.format;
  }
  const extra = s as Record<string, unknown>;
  for (const key of ['title', 'default', 'enum', 'readOnly']) if (extra[key] !== undefined) out[key] = extra[key];
  if (s.required && s.required.length > 0) out['required'] = [...s.required];
  if (s.items) out['items'] = toSwaggerSchema(s.items);
  if (s.properties) {
    out['properties'] = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, toSwaggerSchema(v)]));
  }
  if (s.additionalProperties !== undefined) {
    out['additionalProperties'] = typeof s.additionalProperties === 'boolean' ? s.additionalProperties : toSwaggerSchema(s.additionalProperties);
  }
  for (const [key, value] of Object.entries(s)) if (key.startsWith('x-')) out[key] = value;
  return out;
}

const queryParam = (name: string, description: string): Json => ({ name, in: 'query', description, type: 'string', uniqueItems: true });
const writeParams = [
  queryParam('dryRun', 'When present, indicates that modifications should not be persisted. Valid value: All.'),
  queryParam('fieldManager', 'A name associated with the actor or entity that is making these changes.'),
  queryParam('fieldValidation', 'How the server treats unknown or duplicate fields in the request body: Ignore, Warn or Strict.'),
];
const bodyParam = (schema: Json): Json => ({ name: 'body', in: 'body', required: true, schema });
const upper = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
const produces = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];

/** Paths and operations of one resource (no watch or subresources: clients read those from discovery). */
function resourcePaths(r: ResourceDefinition): Json {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const collection = r.namespaced ? `${base}/namespaces/{namespace}/${r.plural}` : `${base}/${r.plural}`;
  const gvk = { group: r.group, kind: r.kind, version: r.version };
  const listName = r.openapiName.replace(/\.[A-Za-z]+$/, `.${r.listKind}`);
  const namespaceParam = { name: 'namespace', in: 'path', required: true, description: 'object name and auth scope, such as for teams and projects', type: 'string', uniqueItems: true };
  const nameParam = { name: 'name', in: 'path', required: true, description: `name of the ${r.kind}`, type: 'string', uniqueItems: true };
  const ok = (name: string): Json => ({ '200': { description: 'OK', schema: definitionRef(name) }, '401': { description: 'Unauthorized' } });
  const op = (action: string, verb: string, extra: Json): Json => ({
    description: `${verb} ${action === 'list' || action === 'deletecollection' ? `a collection of ${r.kind}` : `the specified ${r.kind}`}`,
    consumes: ['*/*'],
    produces,
    schemes: ['https'],
    operationId: `${verb}${upper(r.group ? r.group.split('.')[0]! : 'core')}${upper(r.version)}${r.namespaced ? 'Namespaced' : ''}${r.kind}`,
    responses: ok(r.openapiName),
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
    ...extra,
  });
  return {
    [collection]: {
      get: op('list', 'list', { responses: ok(listName) }),
      post: op('post', 'create', { parameters: [bodyParam(definitionRef(r.openapiName)), ...writeParams] }),
      delete: op('deletecollection', 'deleteCollection', { responses: ok('io.k8s.apimachinery.pkg.apis.meta.v1.Status') }),
      ...(r.namespaced ? { parameters: [namespaceParam] } : {}),
    },
    [`${collection}/{name}`]: {
      get: op('get', 'read', {}),
      put: op('put', 'replace', { parameters: [bodyParam(definitionRef(r.openapiName)), ...writeParams] }),
      // Strategic merge patch is not advertised, as in the v3 documents.
      patch: op('patch', 'patch', {
        consumes: ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'],
        parameters: [bodyParam(definitionRef('io.k8s.apimachinery.pkg.apis.meta.v1.Patch')), ...writeParams, queryParam('force', 'Force is going to "force" Apply requests.')],
      }),
      delete: op('delete', 'delete', {
        parameters: [{ name: 'body', in: 'body', schema: definitionRef('io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions') }],
        responses: ok('io.k8s.apimachinery.pkg.apis.meta.v1.Status'),
      }),
      parameters: r.namespaced ? [nameParam, namespaceParam] : [nameParam],
    },
  };
}

const sorted = <T>(o: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** The whole Swagger 2.0 document of `resources`, paths and definitions sorted by name. */
export function buildSwagger(resources: readonly ResourceDefinition[]): Json {
  const paths: Json = {};
  const roots = ['io.k8s.apimachinery.pkg.apis.meta.v1.Patch', 'io.k8s.apimachinery.pkg.apis.meta.v1.Status', 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions'];
  for (const r of resources) {
    Object.assign(paths, resourcePaths(r));
    roots.push(r.openapiName, r.openapiName.replace(/\.[A-Za-z]+$/, `.${r.listKind}`));
  }
  const definitions: Json = {};
  for (const [name, s] of reachable(roots)) definitions[name] = toSwaggerSchema(s);
  return {
    swagger: '2.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    paths: sorted(paths),
    definitions: sorted(definitions),
  };
}

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';
import { parse as parseYaml } from 'yaml';
import { builtinResources } from '../../api/kinds/index.js';
import { ApiError } from '../../api/status.js';
import { openapiV2Root } from './gnostic.js';
import { OPENAPI_V2_PROTOBUF, OPENAPI_V2_PROTOBUF_REQUEST, OpenAPIV2Document, serveOpenAPIV2, wantsOpenAPIV2Protobuf } from './index.js';

/** A decoded gnostic message as a plain object (snake_case field names, defaults left out). */
type M = Record<string, any>;

const doc = new OpenAPIV2Document(builtinResources);

function decoded(): M {
  const Document = openapiV2Root().lookupType('openapi.v2.Document');
  return Document.toObject(Document.decode(doc.protobuf()), { defaults: false, arrays: true }) as M;
}

const named = (list: M[] | undefined, name: string): M | undefined => list?.find((n) => n['name'] === name)?.['value'];
const definition = (d: M, name: string): M | undefined => named(d['definitions']?.['additional_properties'], name);
const property = (s: M | undefined, name: string): M | undefined => named(s?.['properties']?.['additional_properties'], name);
const extension = (s: M | undefined, name: string): unknown => {
  const yaml = named(s?.['vendor_extension'], name)?.['yaml'];
  return yaml === undefined ? undefined : parseYaml(yaml as string);
};

describe('OpenAPI v2 protobuf', () => {
  let d: M;
  before(() => { d = decoded(); });

  it('is a Swagger 2.0 document whose top-level fields sit at gnostic field numbers', () => {
    assert.equal(d['swagger'], '2.0');
    assert.equal(d['info']?.['title'], 'Kubernetes');
    // Field 1 (swagger, string) is the first thing on the wire: tag 0x0a, length 3, "2.0".
    assert.deepEqual([...doc.protobuf().subarray(0, 5)], [0x0a, 0x03, 0x32, 0x2e, 0x30]);
    // Definitions is field 9 of Document; NamedSchema lists are field 1 of Definitions.
    const raw = protobuf.Reader.create(doc.protobuf());
    const fields = new Set<number>();
    while (raw.pos < raw.len) {
      const tag = raw.uint32();
      fields.add(tag >>> 3);
      raw.skipType(tag & 7);
    }
    assert.deepEqual([...fields].sort((a, b) => a - b), [1, 2, 8, 9]);
  });

  it('carries kind schemas with their group-version-kind as kube-openapi reads it (YAML in Any.yaml)', () => {
    const deployment = definition(d, 'io.k8s.api.apps.v1.Deployment');
    assert.ok(deployment, 'Deployment definition');
    assert.deepEqual(deployment['type']?.['value'], ['object']);
    assert.match(deployment['description'], /declarative updates for Pods and ReplicaSets/);
    assert.deepEqual(extension(deployment, 'x-kubernetes-group-version-kind'), [{ group: 'apps', kind: 'Deployment', version: 'v1' }]);
    // The core group is an empty string, not null: kubectl type-asserts it to string.
    const pod = definition(d, 'io.k8s.api.core.v1.Pod');
    assert.deepEqual(extension(pod, 'x-kubernetes-group-version-kind'), [{ group: '', kind: 'Pod', version: 'v1' }]);
    assert.match(named(pod?.['vendor_extension'], 'x-kubernetes-group-version-kind')?.['yaml'], /^- group: ""\n/);
  });

  it('turns v3 allOf-wrapped references into described #/definitions references without a type', () => {
    const spec = definition(d, 'io.k8s.api.apps.v1.DeploymentSpec');
    assert.deepEqual(spec?.['required'], ['selector', 'template']);
    const strategy = property(spec, 'strategy');
    assert.equal(strategy?.['_ref'], '#/definitions/io.k8s.api.apps.v1.DeploymentStrategy');
    assert.equal(strategy?.['description'], 'The deployment strategy to use to replace existing pods with new ones.');
    assert.equal(strategy?.['type'], undefined);
    assert.equal(strategy?.['all_of']?.length ?? 0, 0);
    assert.equal(extension(strategy, 'x-kubernetes-patch-strategy'), 'retainKeys');
    const rollingUpdate = property(definition(d, 'io.k8s.api.apps.v1.DeploymentStrategy'), 'rollingUpdate');
    assert.equal(rollingUpdate?.['_ref'], '#/definitions/io.k8s.api.apps.v1.RollingUpdateDeployment');
    assert.match(rollingUpdate?.['description'], /Rolling update config params/);
    const replicas = property(spec, 'replicas');
    assert.deepEqual(replicas?.['type']?.['value'], ['integer']);
  });

  it('keeps arrays, maps, formats and list metadata', () => {
    const podSpec = definition(d, 'io.k8s.api.core.v1.PodSpec');
    const containers = property(podSpec, 'containers');
    assert.deepEqual(containers?.['type']?.['value'], ['array']);
    assert.equal(containers?.['items']?.['schema']?.length, 1);
    assert.equal(containers?.['items']?.['schema']?.[0]?.['_ref'], '#/definitions/io.k8s.api.core.v1.Container');
    assert.equal(extension(containers, 'x-kubernetes-patch-merge-key'), 'name');
    assert.equal(extension(containers, 'x-kubernetes-patch-strategy'), 'merge');
    const nodeSelector = property(podSpec, 'nodeSelector');
    assert.deepEqual(nodeSelector?.['additional_properties']?.['schema']?.['type']?.['value'], ['string']);
    const time = definition(d, 'io.k8s.apimachinery.pkg.apis.meta.v1.Time');
    assert.equal(time?.['format'], 'date-time');
    const intOrString = definition(d, 'io.k8s.apimachinery.pkg.util.intstr.IntOrString');
    assert.equal(intOrString?.['format'], 'int-or-string');
    assert.equal(extension(intOrString, 'x-kubernetes-int-or-string'), true);
    // Quantity has no type in v3 (int or string); v2 gives it upstream's "string".
    assert.deepEqual(definition(d, 'io.k8s.apimachinery.pkg.api.resource.Quantity')?.['type']?.['value'], ['string']);
  });

  it('satisfies what kube-openapi checks when kubectl loads the definitions', () => {
    const defs = d['definitions']['additional_properties'] as M[];
    const names = new Set(defs.map((n) => n['name'] as string));
    assert.ok(names.size > 100, `${names.size} definitions`);
    const problems: string[] = [];
    const visit = (s: M, path: string): void => {
      const types: string[] = s['type']?.['value'] ?? [];
      if (s['_ref'] !== undefined) {
        const ref = s['_ref'] as string;
        if (!ref.startsWith('#/definitions/') || !names.has(ref.slice('#/definitions/'.length))) problems.push(`${path}: dangling ${ref}`);
        if (types.length > 0) problems.push(`${path}: reference with a type`);
        if (s['properties']) problems.push(`${path}: reference with properties`);
        return;
      }
      if (types.length > 1) problems.push(`${path}: several types`);
      if (types[0] !== undefined && !['object', 'array', 'string', 'integer', 'number', 'boolean'].includes(types[0])) problems.push(`${path}: type ${types[0]}`);
      if (types[0] === 'array') {
        if (s['items']?.['schema']?.length !== 1) problems.push(`${path}: array without exactly one item schema`);
        else visit(s['items']['schema'][0], `${path}[]`);
      }
      for (const p of s['properties']?.['additional_properties'] ?? []) visit(p['value'], `${path}.${p['name']}`);
      if (s['additional_properties']?.['schema']) visit(s['additional_properties']['schema'], `${path}{}`);
    };
    for (const n of defs) visit(n['value'], n['name']);
    assert.deepEqual(problems, []);
    // Every served kind is there, with its GVK.
    for (const r of builtinResources) {
      assert.deepEqual(extension(definition(d, r.openapiName), 'x-kubernetes-group-version-kind'), [{ group: r.group, kind: r.kind, version: r.version }], r.openapiName);
    }
  });

  it('has paths whose PATCH operations carry the GVK, action and fieldValidation (client-go v2 param verifier)', () => {
    const paths = d['paths']['path'] as M[];
    const item = named(paths, '/apis/apps/v1/namespaces/{namespace}/deployments/{name}');
    assert.ok(item, 'deployment item path');
    const patch = item['patch'];
    assert.equal(extension(patch, 'x-kubernetes-action'), 'patch');
    assert.deepEqual(extension(patch, 'x-kubernetes-group-version-kind'), { group: 'apps', kind: 'Deployment', version: 'v1' });
    const query = (patch['parameters'] as M[]).map((p) => p['parameter']?.['non_body_parameter']?.['query_parameter_sub_schema']?.['name']).filter(Boolean);
    assert.ok(query.includes('fieldValidation'), `query params ${query.join(',')}`);
    const post = named(paths, '/api/v1/namespaces/{namespace}/pods')?.['post'];
    assert.equal(extension(post, 'x-kubernetes-action'), 'post');
    assert.equal(post?.['parameters']?.[0]?.['parameter']?.['body_parameter']?.['schema']?.['_ref'], '#/definitions/io.k8s.api.core.v1.Pod');
    const list = named(paths, '/api/v1/namespaces')?.['get'];
    assert.equal(extension(list, 'x-kubernetes-action'), 'list');
    assert.equal(named(list?.['responses']?.['response_code'], '200')?.['response']?.['schema']?.['schema']?.['_ref'], '#/definitions/io.k8s.api.core.v1.NamespaceList');
  });

  it('says the same as the JSON form', () => {
    const json = JSON.parse(doc.json()) as M;
    assert.equal(json['swagger'], '2.0');
    assert.doesNotMatch(doc.json(), /#\/components\//);
    assert.deepEqual((d['definitions']['additional_properties'] as M[]).map((n) => n['name']), Object.keys(json['definitions']));
    assert.deepEqual((d['paths']['path'] as M[]).map((n) => n['name']), Object.keys(json['paths']));
    assert.deepEqual(json['definitions']['io.k8s.api.apps.v1.DeploymentSpec']['properties']['strategy'], {
      $ref: '#/definitions/io.k8s.api.apps.v1.DeploymentStrategy',
      description: 'The deployment strategy to use to replace existing pods with new ones.',
      'x-kubernetes-patch-strategy': 'retainKeys',
    });
    assert.deepEqual(json['paths']['/apis/apps/v1/namespaces/{namespace}/deployments']['post']['x-kubernetes-group-version-kind'], { group: 'apps', kind: 'Deployment', version: 'v1' });
  });

  it('builds once', () => {
    assert.equal(doc.protobuf(), doc.protobuf());
    assert.equal(doc.json(), doc.json());
    assert.match(doc.etag(), /^"[0-9A-F]{128}"$/);
  });
});

describe('GET /openapi/v2', () => {
  let server: http.Server;
  let base = '';
  before(async () => {
    server = http.createServer((req, res) => {
      try {
        serveOpenAPIV2(req, res, builtinResources);
      } catch (e) {
        res.writeHead(e instanceof ApiError ? e.code : 500);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/openapi/v2`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('answers client-go protobuf requests with the gnostic document, a parseable Content-Type and an ETag', async () => {
    const r = await fetch(base, { headers: { Accept: OPENAPI_V2_PROTOBUF_REQUEST } });
    assert.equal(r.status, 200);
    // What kube-openapi answers: the dotted spelling (Go's mime parser rejects the "@" one).
    assert.equal(r.headers.get('content-type'), OPENAPI_V2_PROTOBUF);
    const etag = r.headers.get('etag');
    assert.match(etag ?? '', /^"[0-9A-F]{128}"$/);
    const body = Buffer.from(await r.arrayBuffer());
    assert.ok(body.equals(new OpenAPIV2Document(builtinResources).protobuf()));
    const again = await fetch(base, { headers: { Accept: OPENAPI_V2_PROTOBUF_REQUEST, 'If-None-Match': etag! } });
    assert.equal(again.status, 304);
    assert.equal((await again.arrayBuffer()).byteLength, 0);
  });

  it('answers JSON otherwise', async () => {
    for (const accept of [undefined, 'application/json', '*/*', `${OPENAPI_V2_PROTOBUF};q=0, application/json`]) {
      const r = await fetch(base, { headers: accept ? { Accept: accept } : {} });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'application/json', String(accept));
      assert.equal(((await r.json()) as M)['swagger'], '2.0');
    }
    const post = await fetch(base, { method: 'POST', body: '{}' });
    assert.equal(post.status, 404);
  });

  it('recognizes both protobuf spellings', () => {
    assert.equal(wantsOpenAPIV2Protobuf(OPENAPI_V2_PROTOBUF_REQUEST), true);
    assert.equal(wantsOpenAPIV2Protobuf(`application/json, ${OPENAPI_V2_PROTOBUF}`), true);
    assert.equal(wantsOpenAPIV2Protobuf('application/json'), false);
    assert.equal(wantsOpenAPIV2Protobuf(undefined), false);
  });
});

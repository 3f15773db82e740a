import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { examplesDir, kubectl, kubectlOk, manifest, startServer, type TestServer } from './harness.js';
import type { RestClient } from '../../src/client/rest-client.js';

const deployYaml = readFileSync(join(examplesDir, 'nginx-deployment.yaml'), 'utf8');

interface StatusBody { kind: string; status: string; reason: string; code: number; message: string; details?: { causes?: { field: string; reason: string; message: string }[] } }

describe('bad input gets a Status a user can act on, and changes nothing', () => {
  let s: TestServer;
  let c: RestClient;
  let revBefore = '';
  before(async () => {
    s = await startServer();
    c = s.client();
    await kubectlOk(s, ['apply', '-f', join(examplesDir, 'nginx-deployment.yaml')]);
    revBefore = (await c.call<{ metadata: { resourceVersion: string } }>('GET', '/apis/apps/v1/namespaces/default/deployments')).metadata.resourceVersion;
  });
  after(async () => { c?.close(); await s?.dispose(); });

  const expectStatus = (r: { status: number; body: unknown }, code: number, reason: string, message?: RegExp): StatusBody => {
    const b = r.body as StatusBody;
    assert.equal(r.status, code, JSON.stringify(b));
    assert.equal(b.kind, 'Status');
    assert.equal(b.status, 'Failure');
    assert.equal(b.reason, reason);
    assert.equal(b.code, code);
    if (message) assert.match(b.message, message);
    return b;
  };

  it('malformed JSON and YAML bodies are 400 BadRequest', async () => {
    expectStatus(await c.request('POST', '/api/v1/namespaces/default/configmaps', { body: '{"apiVersion": "v1", "kind": ', contentType: 'application/json' }), 400, 'BadRequest', /json parse error/);
    expectStatus(await c.request('POST', '/api/v1/namespaces/default/configmaps', { body: 'kind: [unclosed', contentType: 'application/yaml' }), 400, 'BadRequest', /YAML/);
    expectStatus(await c.request('POST', '/api/v1/namespaces/default/configmaps', { body: '[1,2]', contentType: 'application/json' }), 400, 'BadRequest', /Object 'Kind' is missing/);
  });

  it('an object of the wrong kind or version for the URL is refused', async () => {
    const d = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' } };
    expectStatus(await c.request('POST', '/api/v1/namespaces/default/pods', { body: d }), 400, 'BadRequest', /does not match the expected API version \(v1\)/);
    expectStatus(await c.request('POST', '/api/v1/namespaces/default/configmaps', { body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } } }), 400, 'BadRequest', /kind in the data \(Secret\)/);
    expectStatus(await c.request('POST', '/api/v1/namespaces/other/configmaps', { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'default' } } }), 400, 'BadRequest', /namespace of the provided object does not match/);
  });

  it('unknown fields: rejected under Strict as upstream words it, warned under Warn, dropped under Ignore', async () => {
    const f = manifest(s, 'typo.yaml', deployYaml.replace('name: nginx-deployment', 'name: typo').replace('replicas: 2', 'replicas: 2\n  replicass: 3'));
    const strict = await kubectl(s, ['apply', '-f', f]);
    assert.equal(strict.code, 1);
    assert.match(strict.stderr, /Error from server \(BadRequest\): error when creating ".*typo\.yaml": Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec\.replicass"/);
    const warn = await kubectl(s, ['apply', '--validate=warn', '-f', f]);
    assert.equal(warn.code, 0, warn.stderr);
    assert.match(warn.stderr, /Warning: unknown field "spec\.replicass"/);
    const obj = JSON.parse(await kubectlOk(s, ['get', 'deploy', 'typo', '-o', 'json']));
    assert.equal(obj.spec.replicass, undefined, 'the unknown field is not stored');
    await kubectlOk(s, ['delete', 'deploy', 'typo']);
    const ignore = await kubectl(s, ['create', '--validate=false', '-f', f]);
    assert.equal(ignore.code, 0);
    assert.doesNotMatch(ignore.stderr, /unknown field/);
    await kubectlOk(s, ['delete', 'deploy', 'typo']);
  });

  it('values of the wrong type are refused as Go decoding errors', async () => {
    const f = manifest(s, 'type.yaml', deployYaml.replace('name: nginx-deployment', 'name: typed').replace('replicas: 2', 'replicas: two'));
    const r = await kubectl(s, ['apply', '-f', f, '--validate=false']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot unmarshal string into Go struct field DeploymentSpec\.spec\.replicas of type int32/);
  });

  it('invalid objects get 422 Invalid with field causes, printed the upstream way', async () => {
    const bad = manifest(s, 'bad-name.yaml', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad_Name\nspec:\n  containers:\n  - name: a\n    image: busybox\n');
    const r = await kubectl(s, ['create', '-f', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /The Pod "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters/);
    const res = expectStatus(await c.request('POST', '/api/v1/namespaces/default/pods', { body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'a' }, { name: 'a', image: 'x' }] } } }), 422, 'Invalid');
    const fields = res.details!.causes!.map((x) => `${x.field}|${x.reason}`).sort();
    assert.deepEqual(fields, ['spec.containers[0].image|FieldValueRequired', 'spec.containers[1].name|FieldValueDuplicate']);
    const mismatch = manifest(s, 'mismatch.yaml', deployYaml.replace('name: nginx-deployment', 'name: mismatch').replace('      labels:\n        app: nginx', '      labels:\n        app: other'));
    const m = await kubectl(s, ['apply', '-f', mismatch]);
    assert.match(m.stderr, /The Deployment "mismatch" is invalid: spec\.template\.metadata\.labels: Invalid value: map\[string\]string\{"app":"other"\}: `selector` does not match template `labels`/);
    const sel = await kubectl(s, ['patch', 'deploy', 'nginx-deployment', '--type=merge', '-p', '{"spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}}}}}']);
    assert.match(sel.stderr, /spec\.selector: Invalid value: .*field is immutable/);
  });

  it('objects in a missing namespace are refused', async () => {
    const r = expectStatus(await c.request('POST', '/api/v1/namespaces/nope/configmaps', { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } } }), 404, 'NotFound', /namespaces "nope" not found/);
    assert.ok(r);
  });

  it('bodies over 3 MiB are 413, unknown resources 404, unsupported media types 415', async () => {
    const big = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big' }, data: { x: 'a'.repeat(3 * 1024 * 1024 + 10) } });
    expectStatus(await c.request('POST', '/api/v1/namespaces/default/configmaps', { body: big }), 413, 'RequestEntityTooLarge');
    expectStatus(await c.request('GET', '/api/v1/namespaces/default/foos'), 404, 'NotFound', /the server could not find the requested resource/);
    expectStatus(await c.request('GET', '/apis/nope.io/v1/things'), 404, 'NotFound');
    expectStatus(await c.request('PATCH', '/apis/apps/v1/namespaces/default/deployments/nginx-deployment', { body: 'x', contentType: 'text/plain' }), 415, 'UnsupportedMediaType');
    expectStatus(await c.request('POST', '/api/v1/namespaces/default/configmaps', { body: Buffer.from([0x6b, 0x38, 0x73, 0x00, 1, 2]), contentType: 'application/vnd.kubernetes.protobuf' }), 400, 'BadRequest', /invalid Kubernetes protobuf body/);
    expectStatus(await c.request('POST', '/api/v1/namespaces/default/configmaps', { body: 'not protobuf', contentType: 'application/vnd.kubernetes.protobuf' }), 400, 'BadRequest', /magic prefix/);
    expectStatus(await c.request('POST', '/api/v1/namespaces/default/configmaps', { body: 'x', contentType: 'application/x-www-form-urlencoded' }), 415, 'UnsupportedMediaType');
    const unknown = await kubectl(s, ['get', 'foos']);
    assert.match(unknown.stderr, /the server doesn't have a resource type "foos"/);
    expectStatus(await c.request('PUT', '/apis/apps/v1/namespaces/default/deployments/nginx-deployment', { body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'nginx-deployment', resourceVersion: '1' } } }), 409, 'Conflict', /the object has been modified/);
    expectStatus(await c.request('GET', '/api/v1/namespaces/default/pods?labelSelector=a%20in%20(', {}), 400, 'BadRequest', /unable to parse requirement/);
    expectStatus(await c.request('GET', '/api/v1/namespaces/default/pods?fieldSelector=spec.foo%3Dbar', {}), 400, 'BadRequest', /field label not supported: spec\.foo/);
  });

  it('requests without credentials get 401', async () => {
    const { default: https } = await import('node:https');
    const ca = readFileSync(join(s.dataDir, 'tls', 'ca.crt'), 'utf8');
    const code = await new Promise<number>((resolve, reject) => {
      https.get(`${s.url}/api/v1/namespaces`, { ca }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
    });
    assert.equal(code, 401);
    const badToken = await new Promise<number>((resolve, reject) => {
      https.get(`${s.url}/api/v1/namespaces`, { ca, headers: { Authorization: 'Bearer not-a-token' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
    });
    assert.equal(badToken, 401);
    const version = await new Promise<number>((resolve, reject) => {
      https.get(`${s.url}/version`, { ca }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
    });
    assert.equal(version, 200, '/version is public, as the kubectl dispatcher asks it before authenticating');
  });

  it('the server keeps serving and the store is unchanged', async () => {
    const list = await c.call<{ metadata: { resourceVersion: string }; items: { metadata: { name: string } }[] }>('GET', '/apis/apps/v1/namespaces/default/deployments');
    assert.deepEqual(list.items.map((i) => i.metadata.name), ['nginx-deployment']);
    const cms = await c.call<{ items: unknown[] }>('GET', '/api/v1/namespaces/default/configmaps');
    assert.equal(cms.items.length, 0);
    assert.ok(Number(list.metadata.resourceVersion) >= Number(revBefore));
    const h = await c.request<string>('GET', '/healthz');
    assert.equal(h.status, 200);
  });
});

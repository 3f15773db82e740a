import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authorizeNode } from './node-authorizer.js';
import type { AuthorizationRequest } from './server.js';
import type { ResourceRequest } from './request-info.js';
import type { Pod } from 'kubernetes-types/core/v1.js';

const node = { name: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] };
const podsOf = (nodeName: string, spec: Record<string, unknown>): Pod => ({ metadata: { name: `p-${nodeName}`, namespace: 'default' }, spec: { nodeName, containers: [], ...spec } });
const pods: Pod[] = [
  podsOf('n1', {
    imagePullSecrets: [{ name: 'pull' }],
    volumes: [
      { name: 'v', secret: { secretName: 'vol' } }, { name: 'p', projected: { sources: [{ secret: { name: 'proj' } }, { configMap: { name: 'cm-proj' } }] } },
      { name: 'cm', configMap: { name: 'cm-vol' } },
    ],
    containers: [{
      name: 'c', env: [{ name: 'E', valueFrom: { secretKeyRef: { name: 'env', key: 'k' } } }, { name: 'F', valueFrom: { configMapKeyRef: { name: 'cm-env', key: 'k' } } }],
      envFrom: [{ secretRef: { name: 'envfrom' } }, { configMapRef: { name: 'cm-envfrom' } }],
    }],
    initContainers: [{ name: 'i', envFrom: [{ secretRef: { name: 'init' } }] }],
  }),
  podsOf('n2', { volumes: [{ name: 'v', secret: { secretName: 'theirs' } }] }),
];
const req = (verb: string, info: Partial<ResourceRequest>, existing?: unknown, user = node, body?: unknown): AuthorizationRequest => ({
  user, verb, info: { kind: 'resource', group: '', version: 'v1', resource: 'pods', legacyWatch: false, ...info }, existing: async () => existing,
  pods: (ns) => pods.filter((p) => p.metadata?.namespace === ns), body: async () => body,
});
const named = (name?: string): unknown => ({ metadata: name === undefined ? { generateName: 'n' } : { name } });

describe('node authorization', () => {
  it('lets a node read, and write its own Node, Lease, events and the pods bound to it', async () => {
    assert.equal(await authorizeNode(req('list', { resource: 'pods', namespace: 'x' })), undefined);
    assert.equal(await authorizeNode(req('patch', { resource: 'nodes', name: 'n1', subresource: 'status' })), undefined);
    assert.equal(await authorizeNode(req('create', { resource: 'nodes' }, undefined, node, named('n1'))), undefined);
    assert.equal(await authorizeNode(req('create', { group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-node-lease' }, undefined, node, named('n1'))), undefined);
    assert.equal(await authorizeNode(req('update', { group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-node-lease', name: 'n1' })), undefined);
    assert.equal(await authorizeNode(req('create', { resource: 'events', namespace: 'default' })), undefined);
    assert.equal(await authorizeNode(req('patch', { namespace: 'default', name: 'p', subresource: 'status' }, { spec: { nodeName: 'n1' } })), undefined);
    assert.equal(await authorizeNode(req('delete', { namespace: 'default', name: 'p' }, { spec: { nodeName: 'n1' } })), undefined);
  });

  it('refuses another node\'s objects and everything else, saying why', async () => {
    assert.match((await authorizeNode(req('patch', { namespace: 'default', name: 'p', subresource: 'status' }, { spec: { nodeName: 'n2' } })))!, /can only update the status of pods with spec.nodeName set to itself/);
    assert.match((await authorizeNode(req('delete', { namespace: 'default', name: 'p' }, { spec: { nodeName: 'n2' } })))!, /can only delete pods/);
    assert.match((await authorizeNode(req('patch', { resource: 'nodes', name: 'n2' })))!, /its own Node/);
    assert.match((await authorizeNode(req('update', { group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-node-lease', name: 'n2' })))!, /its own Lease/);
    // Creates name their object in the body: a node may not make another's Node or Lease, nor one named at random.
    for (const body of [named('n2'), named(), {}, 'not an object']) {
      assert.match((await authorizeNode(req('create', { resource: 'nodes' }, undefined, node, body)))!, /node "n1" can only create its own Node object/, JSON.stringify(body));
      assert.match((await authorizeNode(req('create', { group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-node-lease' }, undefined, node, body)))!, /can only create its own Lease/);
    }
    assert.match((await authorizeNode(req('update', { namespace: 'default', name: 'p' }, { spec: { nodeName: 'n1' } })))!, /may only modify/, 'not the pod spec, even its own');
    assert.match((await authorizeNode(req('create', { group: 'apps', resource: 'deployments', namespace: 'default' })))!, /may only modify/);
    assert.match((await authorizeNode(req('delete', { resource: 'secrets', namespace: 'default', name: 's' })))!, /may only modify/);
    for (const sub of ['exec', 'attach', 'portforward']) {
      assert.match((await authorizeNode(req('create', { namespace: 'default', name: 'p', subresource: sub }, { spec: { nodeName: 'n1' } })))!, new RegExp(`may not open pods/${sub}`));
      assert.match((await authorizeNode(req('get', { namespace: 'default', name: 'p', subresource: sub })))!, /may not open/, 'a GET (WebSocket) too');
    }
  });

  it('lets a node get only the Secrets its own pods use', async () => {
    for (const name of ['pull', 'vol', 'proj', 'env', 'envfrom', 'init']) {
      assert.equal(await authorizeNode(req('get', { resource: 'secrets', namespace: 'default', name })), undefined, name);
    }
    assert.match((await authorizeNode(req('get', { resource: 'secrets', namespace: 'default', name: 'theirs' })))!, /no relationship found between node 'n1' and this object/);
    assert.match((await authorizeNode(req('get', { resource: 'secrets', namespace: 'kube-system', name: 'bootstrap-token-abcdef' })))!, /no relationship found/);
    assert.match((await authorizeNode(req('get', { resource: 'secrets', namespace: 'other', name: 'vol' })))!, /no relationship found/, 'a namesake in another namespace');
    assert.match((await authorizeNode(req('list', { resource: 'secrets', namespace: 'default' })))!, /can only get individual resources/);
    assert.match((await authorizeNode(req('watch', { resource: 'secrets' })))!, /can only get individual resources/);
  });

  it('lets a node get only the ConfigMaps its own pods use', async () => {
    for (const name of ['cm-vol', 'cm-proj', 'cm-env', 'cm-envfrom']) {
      assert.equal(await authorizeNode(req('get', { resource: 'configmaps', namespace: 'default', name })), undefined, name);
    }
    assert.match((await authorizeNode(req('get', { resource: 'configmaps', namespace: 'default', name: 'vol' })))!, /no relationship found/, 'a Secret\'s name is not a ConfigMap\'s');
    assert.match((await authorizeNode(req('get', { resource: 'configmaps', namespace: 'kube-system', name: 'cm-vol' })))!, /no relationship found/);
    assert.match((await authorizeNode(req('list', { resource: 'configmaps', namespace: 'default' })))!, /can only get individual resources/);
  });

  it('leaves other users to other rules', async () => {
    assert.equal(await authorizeNode(req('delete', { resource: 'nodes', name: 'n2' }, undefined, { name: 'system:admin', groups: ['system:masters'] })), undefined);
    assert.equal(await authorizeNode(req('delete', { resource: 'nodes', name: 'n2' }, undefined, { name: 'system:node:n1', groups: ['system:authenticated'] })), undefined, 'the group makes a node');
  });
});

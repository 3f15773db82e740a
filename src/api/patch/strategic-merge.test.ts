import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyStrategicMergePatch, listMergeKey } from './strategic-merge.js';
import { fieldSchema, schemaByName } from '../schema/schema.js';
import { ApiError } from '../status.js';

const deploymentSchema = schemaByName('io.k8s.api.apps.v1.Deployment');
const podSchema = schemaByName('io.k8s.api.core.v1.Pod');

type Json = any;

/** The Deployment `kubectl create` would have stored for the nginx example, trimmed to what matters here. */
function base(): Json {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'nginx', namespace: 'default', labels: { app: 'nginx' }, annotations: { a: '1' }, finalizers: ['x/a', 'x/b'] },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'nginx' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: { labels: { app: 'nginx' } },
        spec: {
          containers: [{
            name: 'nginx',
            image: 'nginx:1.14.2',
            args: ['a', 'b'],
            command: ['run'],
            ports: [{ containerPort: 80, protocol: 'TCP' }],
            env: [{ name: 'FOO', value: '1' }, { name: 'BAR', value: '2' }],
          }],
          tolerations: [{ key: 'k', operator: 'Exists' }],
          volumes: [{ name: 'data', emptyDir: {} }],
        },
      },
    },
  };
}

/** Two containers, `a` with env FOO and BAR, for the removal patches kubectl computes. */
function twoContainers(): Json {
  const d = base();
  d.spec.template.spec.containers = [
    { name: 'a', image: 'a:1', env: [{ name: 'FOO', value: '1' }, { name: 'BAR', value: '2' }] },
    { name: 'b', image: 'b:1' },
  ];
  return d;
}

const spec = (podSpec: Json): Json => ({ spec: { template: { spec: podSpec } } });
const container = (d: Json, i = 0): Json => d.spec.template.spec.containers[i];

function assertBadRequest(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ApiError, `expected ApiError, got ${String(e)}`);
    assert.equal(e.code, 400);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

describe('applyStrategicMergePatch on a Deployment', () => {
  const cases: [name: string, patch: Json, expect: (d: Json) => void, original?: () => Json][] = [
    ['maps merge', { metadata: { labels: { tier: 'web' } } }, (d) => { d.metadata.labels.tier = 'web'; }],
    ['null deletes a map key', { metadata: { annotations: { a: null } } }, (d) => { d.metadata.annotations = {}; }],
    ['null deletes a whole field', { spec: { strategy: null } }, (d) => { delete d.spec.strategy; }],
    ['null for a missing key is a no-op', { metadata: { nope: null, labels: { gone: null } } }, () => {}],
    ['scalars replace', { spec: { replicas: 3 } }, (d) => { d.spec.replicas = 3; }],
    ['a value of another type replaces', { metadata: { labels: 'x' } }, (d) => { d.metadata.labels = 'x'; }],
    ['an empty patch changes nothing', {}, () => {}],
    [
      'the patch kubectl apply sends for a new image',
      {
        metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"kind":"Deployment"}\n' } },
        spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'nginx' }], containers: [{ image: 'nginx:1.16.1', name: 'nginx' }] } } },
      },
      (d) => {
        d.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'] = '{"kind":"Deployment"}\n';
        container(d).image = 'nginx:1.16.1';
      },
    ],
    ['the patch kubectl set image sends', spec({ containers: [{ image: 'nginx:1.16.1', name: 'nginx' }] }), (d) => { container(d).image = 'nginx:1.16.1'; }],
    [
      'the patch kubectl rollout restart sends',
      { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-05-01T12:00:00Z' } } } } },
      (d) => { d.spec.template.metadata.annotations = { 'kubectl.kubernetes.io/restartedAt': '2024-05-01T12:00:00Z' }; },
    ],
    [
      'a nested map inside a merged list item',
      spec({ containers: [{ name: 'nginx', resources: { limits: { cpu: '1' } } }] }),
      (d) => { container(d).resources = { limits: { cpu: '1' } }; },
    ],
    [
      'env merges by name; a patched item keeps its place among server items',
      spec({ containers: [{ name: 'nginx', env: [{ name: 'BAR', value: '3' }, { name: 'BAZ', value: '4' }] }] }),
      (d) => { container(d).env = [{ name: 'FOO', value: '1' }, { name: 'BAR', value: '3' }, { name: 'BAZ', value: '4' }]; },
    ],
    [
      'a new env item with no $setElementOrder goes before the server items',
      spec({ containers: [{ name: 'nginx', env: [{ name: 'NEW', value: 'x' }] }] }),
      (d) => { container(d).env = [{ name: 'NEW', value: 'x' }, { name: 'FOO', value: '1' }, { name: 'BAR', value: '2' }]; },
    ],
    [
      'items named by the patch take the patch order',
      spec({ containers: [{ name: 'nginx', env: [{ name: 'BAR' }, { name: 'FOO' }] }] }),
      (d) => { container(d).env = [{ name: 'BAR', value: '2' }, { name: 'FOO', value: '1' }]; },
    ],
    [
      '$patch: delete removes the item with that key',
      spec({ containers: [{ name: 'nginx', env: [{ $patch: 'delete', name: 'FOO' }] }] }),
      (d) => { container(d).env = [{ name: 'BAR', value: '2' }]; },
    ],
    [
      '$patch: delete of an absent item is a no-op',
      spec({ containers: [{ name: 'nginx', env: [{ $patch: 'delete', name: 'NOPE' }] }] }),
      () => {},
    ],
    [
      'deleting the last port leaves an empty list',
      spec({ containers: [{ name: 'nginx', ports: [{ containerPort: 80, $patch: 'delete' }] }] }),
      (d) => { container(d).ports = []; },
    ],
    [
      'ports merge by containerPort',
      spec({ containers: [{ name: 'nginx', ports: [{ containerPort: 80, name: 'http' }] }] }),
      (d) => { container(d).ports = [{ containerPort: 80, protocol: 'TCP', name: 'http' }]; },
    ],
    [
      'a new port with $setElementOrder goes where the order says',
      spec({ containers: [{ name: 'nginx', '$setElementOrder/ports': [{ containerPort: 80 }, { containerPort: 443 }], ports: [{ containerPort: 443, protocol: 'TCP' }] }] }),
      (d) => { container(d).ports = [{ containerPort: 80, protocol: 'TCP' }, { containerPort: 443, protocol: 'TCP' }]; },
    ],
    [
      '$patch: replace in a list replaces it with the other items',
      spec({ containers: [{ name: 'nginx', env: [{ $patch: 'replace' }, { name: 'ONLY', value: 'x' }] }] }),
      (d) => { container(d).env = [{ name: 'ONLY', value: 'x' }]; },
    ],
    [
      '$patch: replace alone empties a list',
      spec({ containers: [{ name: 'nginx', env: [{ $patch: 'replace' }] }] }),
      (d) => { container(d).env = []; },
    ],
    [
      '$patch: replace in a map replaces the map',
      { spec: { template: { metadata: { labels: { $patch: 'replace', fresh: 'x' } } } } },
      (d) => { d.spec.template.metadata.labels = { fresh: 'x' }; },
    ],
    ['$patch: delete in a map empties it', { spec: { strategy: { $patch: 'delete' } } }, (d) => { d.spec.strategy = {}; }],
    [
      '$retainKeys switches the strategy from RollingUpdate to Recreate',
      { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } },
      (d) => { d.spec.strategy = { type: 'Recreate' }; },
    ],
    [
      'without $retainKeys the old rollingUpdate stays',
      { spec: { strategy: { type: 'Recreate' } } },
      (d) => { d.spec.strategy.type = 'Recreate'; },
    ],
    [
      '$retainKeys may list keys the patch does not set, and nulls need not be listed',
      { spec: { strategy: { $retainKeys: ['rollingUpdate', 'type'], rollingUpdate: { maxSurge: 1 }, nope: null } } },
      (d) => { d.spec.strategy.rollingUpdate.maxSurge = 1; },
    ],
    [
      '$retainKeys on a volume switches its source',
      spec({ '$setElementOrder/volumes': [{ name: 'data' }], volumes: [{ $retainKeys: ['configMap', 'name'], configMap: { name: 'cm' }, name: 'data' }] }),
      (d) => { d.spec.template.spec.volumes = [{ name: 'data', configMap: { name: 'cm' } }]; },
    ],
    ['$deleteFromPrimitiveList removes set members', { metadata: { '$deleteFromPrimitiveList/finalizers': ['x/a'] } }, (d) => { d.metadata.finalizers = ['x/b']; }],
    ['$deleteFromPrimitiveList of a missing list is a no-op', { spec: { template: { metadata: { '$deleteFromPrimitiveList/finalizers': ['x'] } } } }, () => {}],
    ['a new set member goes first', { metadata: { finalizers: ['x/c'] } }, (d) => { d.metadata.finalizers = ['x/c', 'x/a', 'x/b']; }],
    ['set members the patch repeats keep their place', { metadata: { finalizers: ['x/b', 'x/c'] } }, (d) => { d.metadata.finalizers = ['x/a', 'x/b', 'x/c']; }],
    ['a set never holds duplicates', { metadata: { finalizers: ['x/a', 'x/a'] } }, () => {}],
    [
      'kubectl apply adding and removing finalizers',
      { metadata: { '$setElementOrder/finalizers': ['x/b', 'x/c'], finalizers: ['x/c'], '$deleteFromPrimitiveList/finalizers': ['x/a'] } },
      (d) => { d.metadata.finalizers = ['x/b', 'x/c']; },
    ],
    ['args are atomic', spec({ containers: [{ name: 'nginx', args: ['c'] }] }), (d) => { container(d).args = ['c']; }],
    ['command is atomic', spec({ containers: [{ name: 'nginx', command: ['sh', '-c'] }] }), (d) => { container(d).command = ['sh', '-c']; }],
    [
      'tolerations are atomic',
      spec({ tolerations: [{ key: 'other', operator: 'Equal', value: 'v', effect: 'NoSchedule' }] }),
      (d) => { d.spec.template.spec.tolerations = [{ key: 'other', operator: 'Equal', value: 'v', effect: 'NoSchedule' }]; },
    ],
    [
      'a new container with no $setElementOrder goes first (the kubectl patch docs example)',
      spec({ containers: [{ name: 'patch-demo-ctr-2', image: 'redis' }] }),
      (d) => { d.spec.template.spec.containers.unshift({ name: 'patch-demo-ctr-2', image: 'redis' }); },
    ],
    [
      'a new container from kubectl apply goes where $setElementOrder says',
      spec({ '$setElementOrder/containers': [{ name: 'nginx' }, { name: 'redis' }], containers: [{ name: 'redis', image: 'redis' }] }),
      (d) => { d.spec.template.spec.containers.push({ name: 'redis', image: 'redis' }); },
    ],
    [
      'a list the original lacks is taken from the patch',
      spec({ initContainers: [{ name: 'init', image: 'busybox' }] }),
      (d) => { d.spec.template.spec.initContainers = [{ name: 'init', image: 'busybox' }]; },
    ],
    [
      'values taken as is lose directives and nulls',
      spec({ containers: [{ name: 'side', image: null, '$setElementOrder/env': [{ name: 'A' }], env: [{ name: 'A', value: 'x' }, { $patch: 'delete', name: 'B' }] }] }),
      (d) => { d.spec.template.spec.containers.unshift({ name: 'side', env: [{ name: 'A', value: 'x' }] }); },
    ],
    [
      'the removal patch kubectl apply computes (container b and env FOO dropped)',
      spec({
        '$setElementOrder/containers': [{ name: 'a' }],
        containers: [
          { name: 'a', '$setElementOrder/env': [{ name: 'BAR' }], env: [{ name: 'BAR', value: '3' }, { $patch: 'delete', name: 'FOO' }] },
          { $patch: 'delete', name: 'b' },
        ],
      }),
      (d) => { d.spec.template.spec.containers = [{ name: 'a', image: 'a:1', env: [{ name: 'BAR', value: '3' }] }]; },
      twoContainers,
    ],
    [
      '$setElementOrder alone reorders the list',
      spec({ '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }] }),
      (d) => { d.spec.template.spec.containers.reverse(); },
      twoContainers,
    ],
    [
      'server-only items keep their place between the ordered ones',
      spec({ containers: [{ name: 'nginx', '$setElementOrder/env': [{ name: 'BAR' }, { name: 'NEW' }], env: [{ name: 'NEW', value: 'n' }] }] }),
      (d) => { container(d).env = [{ name: 'FOO', value: '1' }, { name: 'BAR', value: '2' }, { name: 'NEW', value: 'n' }]; },
    ],
  ];
  for (const [name, patch, expect, original] of cases) {
    it(name, () => {
      const want = (original ?? base)();
      expect(want);
      assert.deepEqual(applyStrategicMergePatch((original ?? base)(), patch, deploymentSchema), want);
    });
  }

  it('does not modify the original or the patch', () => {
    const original = twoContainers();
    const patch = spec({
      '$setElementOrder/containers': [{ name: 'a' }],
      containers: [{ name: 'a', env: [{ $patch: 'delete', name: 'FOO' }] }, { $patch: 'delete', name: 'b' }],
    });
    const o2 = structuredClone(original);
    const p2 = structuredClone(patch);
    applyStrategicMergePatch(original, patch, deploymentSchema);
    assert.deepEqual(original, o2);
    assert.deepEqual(patch, p2);
  });

  it('a top-level $patch: delete leaves an empty object', () => {
    assert.deepEqual(applyStrategicMergePatch(base(), { $patch: 'delete' }, deploymentSchema), {});
  });

  it('a key named __proto__ stays data', () => {
    const out = applyStrategicMergePatch(base(), JSON.parse('{"metadata":{"labels":{"__proto__":{"polluted":"yes"}}}}'), deploymentSchema) as Json;
    assert.equal(Object.getPrototypeOf(out.metadata.labels), Object.prototype);
    assert.deepEqual(Object.keys(out.metadata.labels), ['app', '__proto__']);
    assert.equal(({} as Json).polluted, undefined);
  });
});

describe('applyStrategicMergePatch on a Pod', () => {
  it('merges containers by name and ownerReferences by uid', () => {
    const pod = {
      metadata: { name: 'p', ownerReferences: [{ uid: 'u1', kind: 'ReplicaSet', name: 'rs', apiVersion: 'apps/v1' }] },
      spec: { containers: [{ name: 'app', image: 'a:1' }] },
    };
    const out = applyStrategicMergePatch(pod, {
      metadata: { ownerReferences: [{ uid: 'u1', controller: true }] },
      spec: { containers: [{ name: 'app', image: 'a:2' }] },
    }, podSchema);
    assert.deepEqual(out, {
      metadata: { name: 'p', ownerReferences: [{ uid: 'u1', kind: 'ReplicaSet', name: 'rs', apiVersion: 'apps/v1', controller: true }] },
      spec: { containers: [{ name: 'app', image: 'a:2' }] },
    });
  });

  it('without a schema every list is atomic', () => {
    const out = applyStrategicMergePatch({ spec: { containers: [{ name: 'a' }, { name: 'b' }] } }, { spec: { containers: [{ name: 'c' }] } }, undefined);
    assert.deepEqual(out, { spec: { containers: [{ name: 'c' }] } });
  });
});

describe('applyStrategicMergePatch: errors', () => {
  const cases: [name: string, patch: unknown, message: string | RegExp][] = [
    ['a patch that is not an object', [1, 2], 'strategic merge patch must be a JSON object'],
    ['a merge-keyed item without its key', spec({ containers: [{ image: 'x' }] }), 'map: map[image:x] does not contain declared merge key: name'],
    ['a delete item without its key', spec({ containers: [{ $patch: 'delete', image: 'x' }] }), 'map: map[$patch:delete image:x] does not contain declared merge key: name'],
    ['an unknown $patch in a map', { spec: { strategy: { $patch: 'merge', type: 'x' } } }, 'unknown patch type: merge in map: map[$patch:merge type:x]'],
    ['an unknown $patch in a list', spec({ containers: [{ $patch: 'bogus', name: 'x' }] }), 'unknown patch type: bogus in map: map[$patch:bogus name:x]'],
    ['$patch: merge in a list', spec({ containers: [{ $patch: 'merge', name: 'x' }] }), 'merging lists cannot yet be specified in the patch'],
    ['a key the $retainKeys list omits', { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: { maxSurge: 1 } } } }, 'invalid patch format of retainKeys'],
    ['$retainKeys that is not a list', { spec: { strategy: { $retainKeys: 'type', type: 'Recreate' } } }, 'invalid patch format of retainKeys'],
    ['$setElementOrder that is not a list', spec({ '$setElementOrder/containers': { name: 'a' } }), 'expected a []interface {}, but received a map[string]interface {}'],
    [
      'a patch list that does not follow $setElementOrder',
      spec({ '$setElementOrder/containers': [{ name: 'nginx' }], containers: [{ name: 'other', image: 'x' }] }),
      /^The order in patch list:\n\[map\[image:x name:other\]\]\n doesn't match \$setElementOrder list:\n\[map\[name:nginx\]\]\n$/,
    ],
    ['mixed element types in a set', { metadata: { finalizers: [1] } }, /^list element types are not identical: /],
    ['a list of lists', { metadata: { finalizers: [['x']] } }, /^list element types are not identical: |^lists of lists are not supported$/],
  ];
  for (const [name, patch, message] of cases) {
    it(name, () => assertBadRequest(() => applyStrategicMergePatch(base(), patch, deploymentSchema), message));
  }
});

describe('listMergeKey', () => {
  const podSpec = fieldSchema(fieldSchema(podSchema, 'spec'), 'containers');
  it('reads merge keys from the schema', () => {
    assert.equal(listMergeKey(fieldSchema(podSchema, 'spec'), 'containers'), 'name');
    assert.equal(listMergeKey(fieldSchema(podSchema, 'spec'), 'volumes'), 'name');
    assert.equal(listMergeKey(fieldSchema(podSchema, 'spec'), 'tolerations'), undefined);
    assert.equal(listMergeKey(fieldSchema(podSchema, 'metadata'), 'finalizers'), undefined);
    assert.ok(podSpec);
  });
});

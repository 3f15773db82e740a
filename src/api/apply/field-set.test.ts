import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { schemaByName } from '../schema/schema.js';
import { leafFieldsV1, leafPaths, toFieldsV1 } from './field-set.js';

// The tutorial's manifests, as the e2e tests keep them.
const examples = new URL('../../../../test/e2e/manifests/', import.meta.url);
const schemaOf: Record<string, string> = { Pod: 'io.k8s.api.core.v1.Pod', Deployment: 'io.k8s.api.apps.v1.Deployment', Service: 'io.k8s.api.core.v1.Service' };

describe('leafFieldsV1', () => {
  it('is toFieldsV1(leafPaths(...)) byte for byte, on the tutorial manifests and on awkward shapes', () => {
    const objects: { kind: string; obj: unknown }[] = [];
    for (const file of ['two-containers.yaml', 'nginx-deployment.yaml', 'nginx-deployment-volume.yaml', 'javaweb.yaml']) {
      for (const doc of parseAllDocuments(readFileSync(new URL(file, examples), 'utf8'))) {
        const obj = doc.toJSON() as { kind: string } | null;
        if (obj && schemaOf[obj.kind]) objects.push({ kind: obj.kind, obj });
      }
    }
    assert.ok(objects.length >= 4, 'the tutorial manifests were read');
    objects.push(
      // Ports keyed by containerPort+protocol (protocol defaulted), one unkeyable, one duplicated; an env list-map;
      // an empty struct (a leaf), nulls, an empty atomic list, a set-typed list, a list-map with no keyable item.
      { kind: 'Pod', obj: { metadata: { labels: { a: 'b' }, finalizers: ['x', 'y'] }, spec: {
        securityContext: {}, nodeSelector: null, tolerations: [],
        containers: [
          { name: 'c', image: 'i', ports: [{ containerPort: 80 }, { name: 'no-port' }, { containerPort: 80 }], env: [{ name: 'A', value: '1' }, { name: 'B' }], resources: {} },
          { image: 'no-name' },
        ],
        volumes: [{ name: 'v', emptyDir: {} }],
      } } },
      { kind: 'Pod', obj: { spec: { containers: [{ image: 'unkeyable' }] } } },
      { kind: 'Pod', obj: {} },
      { kind: 'Pod', obj: { spec: { containers: [{ name: 'only-key' }] }, status: { phase: 'Running' } } },
    );
    for (const { kind, obj } of objects) {
      const schema = schemaByName(schemaOf[kind]!);
      assert.ok(schema, kind);
      const expected = JSON.stringify(toFieldsV1(leafPaths(obj, schema)));
      assert.equal(JSON.stringify(leafFieldsV1(obj, schema)), expected, JSON.stringify(obj));
    }
    // Without a schema nothing is a struct: the object is one value, and the root is no leaf.
    assert.deepEqual(leafFieldsV1({ a: 1 }, undefined), toFieldsV1(leafPaths({ a: 1 }, undefined)));
  });
});

import { strict as assert } from 'node:assert';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Container } from 'kubernetes-types/core/v1.js';
import { formatMap, goQuote } from '../downward/field-path.js';
import { resourceFieldValue } from '../downward/resource-field.js';
import { makeManager, makePod, modeOf, mountPointsUnder, tempRootFor } from './test-support.js';

test('Go %q quoting', () => {
  const cases: [string, string][] = [
    ['plain', '"plain"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['a\\b', '"a\\\\b"'],
    ['line1\nline2\t', '"line1\\nline2\\t"'],
    ['\x01\x7f', '"\\x01\\x7f"'],
    ['héllo 世界', '"héllo 世界"'],
    ['\u00a0\u200b', '"\\u00a0\\u200b"'],
  ];
  for (const [input, want] of cases) assert.equal(goQuote(input), want, input);
  assert.equal(formatMap({ zone: 'b', app: 'web', 'x/y': 'q"' }), 'app="web"\nx/y="q\\""\nzone="b"');
  assert.equal(formatMap({}), '');
});

test('metadata fields as files: labels and annotations as sorted key="value" lines', async (t) => {
  const root = tempRootFor(t);
  const m = makeManager(root);
  const pod = makePod(
    [{
      name: 'podinfo',
      downwardAPI: {
        items: [
          { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
          { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' }, mode: 0o600 },
          { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
          { path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' } },
          { path: 'uid', fieldRef: { fieldPath: 'metadata.uid' } },
          { path: 'meta/zone', fieldRef: { fieldPath: "metadata.labels['zone']" } },
        ],
      },
    }],
    undefined,
    { labels: { zone: 'us-est-coast', cluster: 'test-cluster1', rack: 'rack-22' }, annotations: { builder: 'john-doe', build: 'two' } },
  );
  const uid = pod.metadata!.uid!;
  const dir = (await m.setUp(pod)).get('podinfo')!.hostPath;
  assert.equal(dir, join(root, 'pods', uid, 'volumes', 'kubernetes.io~downward-api', 'podinfo'));
  assert.equal(readFileSync(join(dir, 'labels'), 'utf8'), 'cluster="test-cluster1"\nrack="rack-22"\nzone="us-est-coast"');
  assert.equal(readFileSync(join(dir, 'annotations'), 'utf8'), 'build="two"\nbuilder="john-doe"');
  assert.equal(modeOf(statSync(join(dir, 'annotations'))), '600');
  assert.equal(modeOf(statSync(join(dir, 'labels'))), '644');
  assert.equal(readFileSync(join(dir, 'name'), 'utf8'), 'web');
  assert.equal(readFileSync(join(dir, 'ns'), 'utf8'), 'default');
  assert.equal(readFileSync(join(dir, 'uid'), 'utf8'), uid);
  assert.equal(readFileSync(join(dir, 'meta/zone'), 'utf8'), 'us-est-coast');
  assert.equal(mountPointsUnder(dir)[0]?.fsType, 'tmpfs');
  pod.metadata!.labels = { zone: 'eu' };
  await m.setUp(pod);
  assert.equal(readFileSync(join(dir, 'labels'), 'utf8'), 'zone="eu"', 'a label change is visible after the next setUp');
  await m.tearDown(uid);
});

test('container resources with divisors, rounded up; unset limits read as node allocatable', async (t) => {
  const root = tempRootFor(t);
  const m = makeManager(root);
  const containers: Container[] = [{ name: 'client', image: 'busybox', resources: { requests: { cpu: '250m', memory: '32Mi' }, limits: { cpu: '500m', memory: '64Mi' } } }, { name: 'bare', image: 'busybox' }];
  const item = (path: string, containerName: string, resource: string, divisor?: string): { path: string; resourceFieldRef: { containerName: string; resource: string; divisor?: string } } =>
    ({ path, resourceFieldRef: { containerName, resource, ...(divisor ? { divisor } : {}) } });
  const pod = makePod([{
    name: 'res',
    downwardAPI: {
      items: [
        item('cpu_limit', 'client', 'limits.cpu', '1m'),
        item('cpu_limit_cores', 'client', 'limits.cpu'),
        item('cpu_request', 'client', 'requests.cpu', '1m'),
        item('mem_limit', 'client', 'limits.memory', '1Mi'),
        item('mem_request', 'client', 'requests.memory', '1Mi'),
        item('mem_limit_bytes', 'client', 'limits.memory'),
        item('bare_cpu', 'bare', 'limits.cpu'),
        item('bare_mem', 'bare', 'limits.memory', '1Gi'),
        item('bare_request', 'bare', 'requests.memory'),
      ],
    },
  }], containers);
  const dir = (await m.setUp(pod)).get('res')!.hostPath;
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  assert.equal(read('cpu_limit'), '500');
  assert.equal(read('cpu_limit_cores'), '1');
  assert.equal(read('cpu_request'), '250');
  assert.equal(read('mem_limit'), '64');
  assert.equal(read('mem_request'), '32');
  assert.equal(read('mem_limit_bytes'), String(64 * 1024 * 1024));
  assert.equal(read('bare_cpu'), '4', 'node allocatable cpu');
  assert.equal(read('bare_mem'), '8', 'node allocatable memory in Gi');
  assert.equal(read('bare_request'), '0');
  await m.tearDown(pod.metadata!.uid!);
});

test('resource values round up and unsupported resources fail with upstream wording', () => {
  const c: Container = { name: 'c', resources: { limits: { cpu: '1500m', memory: '1000', 'ephemeral-storage': '1Gi' }, requests: { cpu: '1m' } } };
  const none = new Map<string, bigint>();
  assert.equal(resourceFieldValue({ resource: 'limits.cpu' }, c, none), '2');
  assert.equal(resourceFieldValue({ resource: 'requests.cpu' }, c, none), '1');
  assert.equal(resourceFieldValue({ resource: 'requests.cpu', divisor: '1m' }, c, none), '1');
  assert.equal(resourceFieldValue({ resource: 'limits.memory', divisor: '1Ki' }, c, none), '1');
  assert.equal(resourceFieldValue({ resource: 'limits.ephemeral-storage', divisor: '1Mi' }, c, none), '1024');
  assert.throws(() => resourceFieldValue({ resource: 'limits.gpu' }, c, none), { message: 'Unsupported container resource : limits.gpu' });
});

test('an unknown container or field fails the volume as upstream', async (t) => {
  const root = tempRootFor(t);
  const m = makeManager(root);
  const pod = makePod([{ name: 'bad', downwardAPI: { items: [{ path: 'x', resourceFieldRef: { containerName: 'ghost', resource: 'limits.cpu' } }, { path: 'y', fieldRef: { fieldPath: 'spec.nodeName' } }] } }]);
  await assert.rejects(m.setUp(pod), { message: 'MountVolume.SetUp failed for volume "bad" : [container ghost not found, unsupported fieldPath: spec.nodeName]' });
  await m.tearDown(pod.metadata!.uid!);
});

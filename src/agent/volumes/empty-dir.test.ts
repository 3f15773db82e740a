import { strict as assert } from 'node:assert';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { emptyDirMemorySize, podMemoryLimit } from './empty-dir.js';
import { podVolumeDir } from './paths.js';
import { makeManager, makePod, modeOf, mountPointsUnder, tempRootFor } from './test-support.js';

test("an emptyDir is a 0777 directory at kubelet's path, and keeps its content across setUps", async (t) => {
  const root = tempRootFor(t);
  const m = makeManager(root);
  const pod = makePod([{ name: 'nginx-vol', emptyDir: {} }]);
  const uid = pod.metadata!.uid!;
  const vols = await m.setUp(pod);
  const dir = join(root, 'pods', uid, 'volumes', 'kubernetes.io~empty-dir', 'nginx-vol');
  assert.equal(podVolumeDir(root, uid, 'kubernetes.io/empty-dir', 'nginx-vol'), dir);
  assert.deepEqual(vols.get('nginx-vol'), { name: 'nginx-vol', hostPath: dir, readOnly: false });
  assert.ok(statSync(dir).isDirectory());
  assert.equal(modeOf(statSync(dir)), '777');
  assert.equal(mountPointsUnder(dir).length, 0, 'disk medium: no mount');
  writeFileSync(join(dir, 'history'), 'run-0\n');
  await m.setUp(pod); // as after a container restart: same directory, same content
  assert.equal(readFileSync(join(dir, 'history'), 'utf8'), 'run-0\n');
  await m.tearDown(uid);
});

test('medium Memory mounts a tmpfs sized by sizeLimit, once', async (t) => {
  const root = tempRootFor(t);
  const m = makeManager(root);
  const pod = makePod([{ name: 'cache', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } }]);
  const uid = pod.metadata!.uid!;
  const dir = (await m.setUp(pod)).get('cache')!.hostPath;
  const mounts = mountPointsUnder(dir);
  assert.equal(mounts.length, 1);
  assert.equal(mounts[0]!.fsType, 'tmpfs');
  assert.match(mounts[0]!.superOptions, /(^|,)size=65536k(,|$)/);
  writeFileSync(join(dir, 'f'), 'in ram');
  await m.setUp(pod);
  assert.equal(mountPointsUnder(dir).length, 1, 'setUp again does not stack a second tmpfs');
  assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'in ram');
  await m.tearDown(uid);
  assert.equal(mountPointsUnder(join(root, 'pods', uid)).length, 0);
});

test('an unknown medium is a FailedMount', async (t) => {
  const root = tempRootFor(t);
  const m = makeManager(root);
  const pod = makePod([{ name: 'hp', emptyDir: { medium: 'HugePages' } }]);
  await assert.rejects(m.setUp(pod), { name: 'VolumeError', reason: 'FailedMount', message: 'MountVolume.SetUp failed for volume "hp" : unknown storage medium "HugePages"' });
  await m.tearDown(pod.metadata!.uid!);
});

const limited = (...limits: (string | undefined)[]): Pod =>
  makePod([], limits.map((l, i) => ({ name: `c${i}`, resources: l === undefined ? {} : { limits: { memory: l } } })));

test('memory-backed size: node allocatable, shrunk to the pod limit, then to sizeLimit', () => {
  const Mi = 1n << 20n;
  const node = 1024n * Mi;
  const cases: [string, Pod, string | undefined, bigint | undefined, bigint | undefined][] = [
    ['no limits anywhere', limited(undefined), undefined, undefined, undefined],
    ['node allocatable only', limited(undefined), undefined, node, node],
    ['pod limit below node', limited('100Mi', '28Mi'), undefined, node, 128n * Mi],
    ['one container without limit: pod unbounded', limited('100Mi', undefined), undefined, node, node],
    ['sizeLimit below pod limit', limited('128Mi'), '64Mi', node, 64n * Mi],
    ['sizeLimit above pod limit is ignored', limited('128Mi'), '1Gi', node, 128n * Mi],
    ['sizeLimit without node figure', limited(undefined), '1Mi', undefined, Mi],
  ];
  for (const [name, pod, sizeLimit, alloc, want] of cases) assert.equal(emptyDirMemorySize(pod, sizeLimit, alloc), want, name);
});

test('pod memory limit: containers and sidecars add up, a one-shot init container counts alone', () => {
  const pod = limited('100Mi', '100Mi');
  pod.spec!.initContainers = [
    { name: 'init', resources: { limits: { memory: '300Mi' } } },
    { name: 'sidecar', restartPolicy: 'Always', resources: { limits: { memory: '50Mi' } } },
  ];
  assert.equal(podMemoryLimit(pod), 300n << 20n);
  pod.spec!.initContainers[0]!.resources = { limits: { memory: '10Mi' } };
  assert.equal(podMemoryLimit(pod), 250n << 20n);
});

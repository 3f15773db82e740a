import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Volume } from 'kubernetes-types/core/v1.js';
import { VolumeError } from './types.js';
import { makeManager, makePod, MemorySources, mountPointsUnder, tempRootFor } from './test-support.js';

test('unsupported volume types fail with a FailedMount naming the type', async (t) => {
  const root = tempRootFor(t);
  const m = makeManager(root);
  const cases: [Volume, string][] = [
    [{ name: 'data', persistentVolumeClaim: { claimName: 'pvc' } }, 'persistentVolumeClaim'],
    [{ name: 'data', nfs: { server: 'nfs', path: '/' } }, 'nfs'],
    [{ name: 'data', csi: { driver: 'x' } }, 'csi'],
    [{ name: 'data', gitRepo: { repository: 'https://example.com/r.git' } }, 'gitRepo'],
  ];
  for (const [v, kind] of cases) {
    const pod = makePod([v]);
    await assert.rejects(m.setUp(pod), (e: unknown) => {
      assert.ok(e instanceof VolumeError);
      assert.equal(e.reason, 'FailedMount');
      assert.equal(e.message, `MountVolume.SetUp failed for volume "data" : volume type "${kind}" is not supported by skiff (supported: emptyDir, hostPath, configMap, secret, downwardAPI, projected)`);
      return true;
    });
    await m.tearDown(pod.metadata!.uid!);
  }
});

test('a volume without a source is an emptyDir, as API defaulting makes it', async (t) => {
  const root = tempRootFor(t);
  const m = makeManager(root);
  const pod = makePod([{ name: 'implicit' }]);
  const vols = await m.setUp(pod);
  assert.equal(vols.get('implicit')!.hostPath, join(root, 'pods', pod.metadata!.uid!, 'volumes', 'kubernetes.io~empty-dir', 'implicit'));
  await m.tearDown(pod.metadata!.uid!);
});

test('one bad volume does not stop the others; the first failure is thrown', async (t) => {
  const root = tempRootFor(t);
  const src = new MemorySources();
  src.configMaps.set('default/ok', { data: { k: 'v' } });
  const m = makeManager(root, src);
  const pod = makePod([
    { name: 'first-bad', configMap: { name: 'missing' } },
    { name: 'good', configMap: { name: 'ok' } },
    { name: 'second-bad', secret: { secretName: 'missing' } },
  ]);
  const uid = pod.metadata!.uid!;
  await assert.rejects(m.setUp(pod), { message: 'MountVolume.SetUp failed for volume "first-bad" : configmap "missing" not found' });
  assert.equal(readFileSync(join(root, 'pods', uid, 'volumes', 'kubernetes.io~configmap', 'good', 'k'), 'utf8'), 'v');
  // Once the object appears, a retry succeeds (kubelet retries mounts the same way).
  src.configMaps.set('default/missing', { data: {} });
  src.secrets.set('default/missing', { data: {} });
  const vols = await m.setUp(pod);
  assert.deepEqual([...vols.keys()], ['first-bad', 'good', 'second-bad']);
  await m.tearDown(uid);
  assert.equal(existsSync(join(root, 'pods', uid)), false);
});

test('concurrent setUp and tearDown of one pod are serialised', async (t) => {
  const root = tempRootFor(t);
  const src = new MemorySources();
  src.secrets.set('default/s', { data: { a: Buffer.from('1').toString('base64') } });
  const m = makeManager(root, src);
  const pod = makePod([{ name: 's', secret: { secretName: 's' } }, { name: 'm', emptyDir: { medium: 'Memory' } }]);
  const uid = pod.metadata!.uid!;
  const results = await Promise.allSettled([m.setUp(pod), m.setUp(pod), m.setUp(pod), m.tearDown(uid)]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
  assert.deepEqual(mountPointsUnder(join(root, 'pods', uid)), []);
  assert.equal(existsSync(join(root, 'pods', uid)), false);
});

test('a pod without uid, or with a uid that is not a path element, is refused', async (t) => {
  const root = tempRootFor(t);
  const m = makeManager(root);
  const pod = makePod([{ name: 'v', emptyDir: {} }]);
  await assert.rejects(m.setUp({ ...pod, metadata: { name: 'web' } }), { name: 'VolumeError', reason: 'FailedMount', message: 'pod has no metadata.uid' });
  await assert.rejects(m.setUp({ ...pod, metadata: { name: 'web', uid: '../escape' } }), { message: 'invalid pod uid "../escape"' });
});

import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeManager, makePod, MemorySources, modeOf, mountPointsUnder, tempRootFor } from './test-support.js';

test('configMap, secret and downwardAPI sources in one directory with the volume defaultMode', async (t) => {
  const root = tempRootFor(t);
  const src = new MemorySources();
  src.configMaps.set('default/myconfigmap', { data: { config: 'debug=true' } });
  src.secrets.set('default/mysecret', { data: { username: Buffer.from('my-username').toString('base64') } });
  const m = makeManager(root, src);
  const pod = makePod([{
    name: 'all-in-one',
    projected: {
      defaultMode: 0o440,
      sources: [
        { secret: { name: 'mysecret', items: [{ key: 'username', path: 'my-group/my-username' }] } },
        { downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }, { path: 'cpu_limit', resourceFieldRef: { containerName: 'app', resource: 'limits.cpu' } }] } },
        { configMap: { name: 'myconfigmap', items: [{ key: 'config', path: 'my-group/my-config', mode: 0o400 }] } },
        { configMap: { name: 'not-there', optional: true } },
      ],
    },
  }], undefined, { labels: { app: 'web' } });
  const uid = pod.metadata!.uid!;
  const vol = (await m.setUp(pod)).get('all-in-one')!;
  assert.equal(vol.hostPath, join(root, 'pods', uid, 'volumes', 'kubernetes.io~projected', 'all-in-one'));
  assert.equal(vol.readOnly, true);
  const read = (f: string): string => readFileSync(join(vol.hostPath, f), 'utf8');
  assert.equal(read('my-group/my-username'), 'my-username');
  assert.equal(read('my-group/my-config'), 'debug=true');
  assert.equal(read('labels'), 'app="web"');
  assert.equal(read('cpu_limit'), '4');
  assert.equal(modeOf(statSync(join(vol.hostPath, 'labels'))), '440');
  assert.equal(modeOf(statSync(join(vol.hostPath, 'my-group/my-config'))), '400');
  assert.equal(mountPointsUnder(vol.hostPath)[0]?.fsType, 'tmpfs');
  await m.tearDown(uid);
});

test('serviceAccountToken is refused clearly, and no fake token is written', async (t) => {
  const root = tempRootFor(t);
  const m = makeManager(root);
  const pod = makePod([{ name: 'kube-api-access', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3600 } }, { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } }] } }]);
  await assert.rejects(m.setUp(pod), {
    name: 'VolumeError',
    reason: 'FailedMount',
    message: 'MountVolume.SetUp failed for volume "kube-api-access" : serviceAccountToken projection (path "token") is not supported by skiff yet: no token is issued',
  });
  assert.equal(existsSync(join(root, 'pods', pod.metadata!.uid!, 'volumes', 'kubernetes.io~projected', 'kube-api-access', 'token')), false);
  await m.tearDown(pod.metadata!.uid!);
});

test('errors of several sources are aggregated', async (t) => {
  const root = tempRootFor(t);
  const m = makeManager(root);
  const pod = makePod([{ name: 'p', projected: { sources: [{ configMap: { name: 'a' } }, { secret: { name: 'b' } }] } }]);
  await assert.rejects(m.setUp(pod), { message: 'MountVolume.SetUp failed for volume "p" : [configmap "a" not found, secret "b" not found]' });
  await m.tearDown(pod.metadata!.uid!);
});

import { strict as assert } from 'node:assert';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configMapPayload } from './config-map.js';
import { makeManager, makePod, MemorySources, modeOf, mountPointsUnder, tempRootFor } from './test-support.js';

test('all keys with the default 0644 mode, binaryData decoded, on disk, read-only', async (t) => {
  const root = tempRootFor(t);
  const src = new MemorySources();
  src.configMaps.set('default/cfg', { data: { 'game.properties': 'lives=3\n', ui: 'color=red' }, binaryData: { 'logo.bin': Buffer.from([0, 1, 2, 255]).toString('base64') } });
  const m = makeManager(root, src);
  const pod = makePod([{ name: 'config', configMap: { name: 'cfg' } }]);
  const uid = pod.metadata!.uid!;
  const vol = (await m.setUp(pod)).get('config')!;
  assert.equal(vol.hostPath, join(root, 'pods', uid, 'volumes', 'kubernetes.io~configmap', 'config'));
  assert.equal(vol.readOnly, true);
  assert.equal(readFileSync(join(vol.hostPath, 'game.properties'), 'utf8'), 'lives=3\n');
  assert.deepEqual([...readFileSync(join(vol.hostPath, 'logo.bin'))], [0, 1, 2, 255]);
  assert.equal(modeOf(statSync(join(vol.hostPath, 'ui'))), '644');
  assert.equal(readlinkSync(join(vol.hostPath, 'ui')), '..data/ui');
  assert.equal(mountPointsUnder(vol.hostPath).length, 0, 'configMaps live on disk, like kubelet');
  await m.tearDown(uid);
});

test('items pick keys, place them at paths and apply per-item modes over defaultMode', async (t) => {
  const root = tempRootFor(t);
  const src = new MemorySources();
  src.configMaps.set('default/cfg', { data: { a: 'A', b: 'B', c: 'C' } });
  const m = makeManager(root, src);
  const pod = makePod([{ name: 'config', configMap: { name: 'cfg', defaultMode: 0o440, items: [{ key: 'a', path: 'conf/a.conf', mode: 0o600 }, { key: 'b', path: 'b.txt' }] } }]);
  const dir = (await m.setUp(pod)).get('config')!.hostPath;
  assert.deepEqual(readdirSync(dir).filter((f) => !f.startsWith('..')).sort(), ['b.txt', 'conf']);
  assert.equal(readFileSync(join(dir, 'conf/a.conf'), 'utf8'), 'A');
  assert.equal(modeOf(statSync(join(dir, 'conf/a.conf'))), '600');
  assert.equal(modeOf(statSync(join(dir, 'b.txt'))), '440');
  await m.tearDown(pod.metadata!.uid!);
});

test('optional: a missing object gives an empty volume, a missing key is skipped', async (t) => {
  const root = tempRootFor(t);
  const src = new MemorySources();
  src.configMaps.set('default/partial', { data: { here: 'yes' } });
  const m = makeManager(root, src);
  const pod = makePod([
    { name: 'none', configMap: { name: 'absent', optional: true } },
    { name: 'some', configMap: { name: 'partial', optional: true, items: [{ key: 'here', path: 'here' }, { key: 'missing', path: 'missing' }] } },
  ]);
  const vols = await m.setUp(pod);
  const none = vols.get('none')!.hostPath;
  assert.ok(lstatSync(join(none, '..data')).isSymbolicLink());
  assert.deepEqual(readdirSync(none).filter((f) => !f.startsWith('..')), []);
  const some = vols.get('some')!.hostPath;
  assert.deepEqual(readdirSync(some).filter((f) => !f.startsWith('..')), ['here']);
  await m.tearDown(pod.metadata!.uid!);
});

test('required: a missing object or key is a FailedMount with upstream wording, and nothing is created', async (t) => {
  const root = tempRootFor(t);
  const src = new MemorySources();
  src.configMaps.set('default/cfg', { data: { a: 'A' } });
  const m = makeManager(root, src);
  const pod = makePod([{ name: 'config-volume', configMap: { name: 'special-config' } }]);
  await assert.rejects(m.setUp(pod), { name: 'VolumeError', reason: 'FailedMount', message: 'MountVolume.SetUp failed for volume "config-volume" : configmap "special-config" not found' });
  assert.equal(existsSync(join(root, 'pods', pod.metadata!.uid!, 'volumes', 'kubernetes.io~configmap', 'config-volume')), false);
  const keyPod = makePod([{ name: 'config-volume', configMap: { name: 'cfg', items: [{ key: 'missing-key', path: 'x' }] } }]);
  await assert.rejects(m.setUp(keyPod), { message: 'MountVolume.SetUp failed for volume "config-volume" : configmap references non-existent config key: missing-key' });
  await m.tearDown(pod.metadata!.uid!);
  await m.tearDown(keyPod.metadata!.uid!);
});

test('setUp again refreshes: the change appears at the same path through a new ..data, the old dir goes', async (t) => {
  const root = tempRootFor(t);
  const src = new MemorySources();
  src.configMaps.set('default/cfg', { data: { 'index.html': 'v1', old: 'o' } });
  const m = makeManager(root, src);
  const pod = makePod([{ name: 'html', configMap: { name: 'cfg' } }]);
  const dir = (await m.setUp(pod)).get('html')!.hostPath;
  const before = readlinkSync(join(dir, '..data'));
  const beforeReal = realpathSync(join(dir, 'index.html'));
  src.configMaps.set('default/cfg', { data: { 'index.html': 'v2' } });
  const again = (await m.setUp(pod)).get('html')!.hostPath;
  assert.equal(again, dir);
  assert.equal(readFileSync(join(dir, 'index.html'), 'utf8'), 'v2');
  assert.notEqual(readlinkSync(join(dir, '..data')), before);
  assert.equal(existsSync(join(dir, before)), false);
  assert.equal(existsSync(beforeReal), false);
  assert.equal(existsSync(join(dir, 'old')), false, 'a removed key disappears');
  await m.tearDown(pod.metadata!.uid!);
});

test('payload: data then binaryData, items prefer data', () => {
  const p = configMapPayload([{ key: 'k', path: 'p' }], { data: { k: 'text' }, binaryData: { k: Buffer.from('bin').toString('base64') } }, 0o644);
  assert.equal(Buffer.from(p.get('p')!.data).toString(), 'text');
});

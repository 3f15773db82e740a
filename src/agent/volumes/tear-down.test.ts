import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseMountInfo } from './host-mounts.js';
import { makeManager, makePod, MemorySources, mountPointsUnder, tempRootFor } from './test-support.js';

test('tearDown unmounts every tmpfs and removes the pod directory; a second call is fine', async (t) => {
  const root = tempRootFor(t);
  const src = new MemorySources();
  src.secrets.set('default/s', { data: { k: Buffer.from('v').toString('base64') } });
  src.configMaps.set('default/c', { data: { k: 'v' } });
  const m = makeManager(root, src);
  const pod = makePod([
    { name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    { name: 'disk', emptyDir: {} },
    { name: 'sec', secret: { secretName: 's' } },
    { name: 'cfg', configMap: { name: 'c' } },
    { name: 'info', downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } },
    { name: 'proj', projected: { sources: [{ secret: { name: 's' } }] } },
  ]);
  const uid = pod.metadata!.uid!;
  const vols = await m.setUp(pod);
  writeFileSync(join(vols.get('mem')!.hostPath, 'f'), 'x');
  writeFileSync(join(vols.get('disk')!.hostPath, 'f'), 'x');
  const podDir = join(root, 'pods', uid);
  assert.equal(mountPointsUnder(podDir).length, 4, 'mem, sec, info and proj are tmpfs');

  await m.tearDown(uid);
  assert.deepEqual(mountPointsUnder(root), []);
  assert.equal(existsSync(podDir), false);
  await m.tearDown(uid);
});

test('tearDown handles nested mounts (deepest first), a half-made pod and a pod never set up', async (t) => {
  const root = tempRootFor(t);
  const m = makeManager(root);
  const pod = makePod([{ name: 'mem', emptyDir: { medium: 'Memory' } }]);
  const uid = pod.metadata!.uid!;
  const dir = (await m.setUp(pod)).get('mem')!.hostPath;
  // Someone mounted a second tmpfs inside the first one.
  mkdirSync(join(dir, 'inner'));
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', join(dir, 'inner')]);
  assert.equal(mountPointsUnder(dir).length, 2);
  await m.tearDown(uid);
  assert.deepEqual(mountPointsUnder(root), []);
  assert.equal(existsSync(join(root, 'pods', uid)), false);

  const half = join(root, 'pods', 'half-made', 'volumes', 'kubernetes.io~secret', 'x');
  mkdirSync(half, { recursive: true });
  await m.tearDown('half-made');
  assert.equal(existsSync(join(root, 'pods', 'half-made')), false);
  await m.tearDown('never-seen');
});

test('tearDown refuses uids that are not a single path element', async (t) => {
  const root = tempRootFor(t);
  const m = makeManager(root);
  await assert.rejects(m.tearDown('../..'), { name: 'VolumeError', message: 'invalid pod uid "../.."' });
  await assert.rejects(m.tearDown(''), { message: 'pod has no metadata.uid' });
  assert.ok(existsSync(root));
});

test('mountinfo parsing unescapes mount points', () => {
  const text = '36 35 98:0 / /mnt/with\\040space rw,noatime master:1 - tmpfs tmpfs rw,size=1024k\n' +
    '37 35 98:0 / /plain rw shared:2 master:3 - ext4 /dev/sda1 rw\n';
  assert.deepEqual(parseMountInfo(text), [
    { mountPoint: '/mnt/with space', fsType: 'tmpfs', source: 'tmpfs', superOptions: 'rw,size=1024k' },
    { mountPoint: '/plain', fsType: 'ext4', source: '/dev/sda1', superOptions: 'rw' },
  ]);
});

test('a symlinked root dir: setUp does not stack tmpfs mounts and tearDown still finds them', async (t) => {
  const root = tempRootFor(t);
  mkdirSync(join(root, 'real-root'));
  symlinkSync(join(root, 'real-root'), join(root, 'link-root'));
  const m = makeManager(join(root, 'link-root'));
  const pod = makePod([{ name: 'mem', emptyDir: { medium: 'Memory' } }]);
  const uid = pod.metadata!.uid!;
  const dir = (await m.setUp(pod)).get('mem')!.hostPath;
  writeFileSync(join(dir, 'f'), 'kept');
  await m.setUp(pod);
  assert.equal(mountPointsUnder(join(root, 'real-root')).length, 1);
  assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'kept');
  await m.tearDown(uid);
  assert.deepEqual(mountPointsUnder(root), []);
  assert.equal(existsSync(join(root, 'real-root', 'pods', uid)), false);
});

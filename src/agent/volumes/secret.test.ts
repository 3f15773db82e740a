import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeManager, makePod, MemorySources, modeOf, mountPointsUnder, tempRootFor } from './test-support.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

test('secret data is base64-decoded into files on a tmpfs', async (t) => {
  const root = tempRootFor(t);
  const src = new MemorySources();
  src.secrets.set('default/db', { data: { username: b64('admin'), password: b64('s3cr3t!\n') } });
  const m = makeManager(root, src);
  const pod = makePod([{ name: 'creds', secret: { secretName: 'db' } }]);
  const uid = pod.metadata!.uid!;
  const vol = (await m.setUp(pod)).get('creds')!;
  assert.equal(vol.hostPath, join(root, 'pods', uid, 'volumes', 'kubernetes.io~secret', 'creds'));
  assert.equal(vol.readOnly, true);
  assert.equal(readFileSync(join(vol.hostPath, 'username'), 'utf8'), 'admin');
  assert.equal(readFileSync(join(vol.hostPath, 'password'), 'utf8'), 's3cr3t!\n');
  assert.equal(modeOf(statSync(join(vol.hostPath, 'password'))), '644');
  const mounts = mountPointsUnder(vol.hostPath);
  assert.equal(mounts.length, 1);
  assert.equal(mounts[0]!.mountPoint, vol.hostPath);
  assert.equal(mounts[0]!.fsType, 'tmpfs');
  // Sized like a sizeless memory emptyDir: the node's allocatable memory (8Gi in these tests).
  assert.match(mounts[0]!.superOptions, /size=8388608k/);
  src.secrets.set('default/db', { data: { username: b64('root') } });
  await m.setUp(pod);
  assert.equal(readFileSync(join(vol.hostPath, 'username'), 'utf8'), 'root');
  assert.deepEqual(readdirSync(vol.hostPath).filter((f) => !f.startsWith('..')), ['username']);
  assert.equal(mountPointsUnder(vol.hostPath).length, 1);
  await m.tearDown(uid);
  assert.equal(mountPointsUnder(join(root, 'pods', uid)).length, 0);
});

test('items, modes, optional and missing secrets', async (t) => {
  const root = tempRootFor(t);
  const src = new MemorySources();
  src.secrets.set('default/tls', { data: { 'tls.key': b64('KEY'), 'tls.crt': b64('CRT') } });
  const m = makeManager(root, src);
  const pod = makePod([
    { name: 'tls', secret: { secretName: 'tls', defaultMode: 0o400, items: [{ key: 'tls.key', path: 'private/key.pem' }, { key: 'tls.crt', path: 'cert.pem', mode: 0o444 }] } },
    { name: 'maybe', secret: { secretName: 'absent', optional: true } },
  ]);
  const vols = await m.setUp(pod);
  const dir = vols.get('tls')!.hostPath;
  assert.equal(readFileSync(join(dir, 'private/key.pem'), 'utf8'), 'KEY');
  assert.equal(modeOf(statSync(join(dir, 'private/key.pem'))), '400');
  assert.equal(modeOf(statSync(join(dir, 'cert.pem'))), '444');
  assert.deepEqual(readdirSync(vols.get('maybe')!.hostPath).filter((f) => !f.startsWith('..')), []);

  const missing = makePod([{ name: 'creds', secret: { secretName: 'nope' } }]);
  await assert.rejects(m.setUp(missing), { reason: 'FailedMount', message: 'MountVolume.SetUp failed for volume "creds" : secret "nope" not found' });
  const badKey = makePod([{ name: 'creds', secret: { secretName: 'tls', items: [{ key: 'ca.crt', path: 'ca' }] } }]);
  await assert.rejects(m.setUp(badKey), { message: 'MountVolume.SetUp failed for volume "creds" : references non-existent secret key: ca.crt' });
  assert.equal(mountPointsUnder(join(root, 'pods', missing.metadata!.uid!)).length, 0, 'no tmpfs left behind by a failed setUp');
  for (const p of [pod, missing, badKey]) await m.tearDown(p.metadata!.uid!);
});

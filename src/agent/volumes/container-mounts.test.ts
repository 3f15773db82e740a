import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import type { KubeletVolumeManager } from './kubelet-volume-manager.js';
import type { PreparedVolume } from './types.js';
import { cleanupTempRoot, makeManager, makePod, makeTempRoot, MemorySources, modeOf } from './test-support.js';

let root = '';
let m: KubeletVolumeManager;
let pod: Pod;
let vols: ReadonlyMap<string, PreparedVolume>;
const src = new MemorySources();

before(async () => {
  root = makeTempRoot();
  mkdirSync(join(root, 'host'));
  src.configMaps.set('default/cfg', { data: { 'nginx.conf': 'worker_processes 1;' } });
  m = makeManager(root, src);
  pod = makePod([
    { name: 'data', emptyDir: {} },
    { name: 'cfg', configMap: { name: 'cfg' } },
    { name: 'host', hostPath: { path: join(root, 'host') } },
    { name: 'later', hostPath: { path: join(root, 'host-not-yet') } },
  ]);
  vols = await m.setUp(pod);
});
after(async () => {
  try {
    await m.tearDown(pod.metadata!.uid!);
  } finally {
    cleanupTempRoot(root);
  }
});

const ctr = (volumeMounts: Container['volumeMounts'], env?: Container['env']): Container => ({ name: 'app', image: 'busybox', volumeMounts, ...(env ? { env } : {}) });

test('one rbind mount per volumeMount; volume read-only-ness and readOnly both give ro', async () => {
  const mounts = await m.mountsFor(pod, ctr([
    { name: 'data', mountPath: '/usr/share/nginx/html' },
    { name: 'data', mountPath: '/ro-data', readOnly: true },
    { name: 'cfg', mountPath: '/etc/nginx' },
    { name: 'host', mountPath: '/host', mountPropagation: 'HostToContainer' },
  ]), vols);
  assert.deepEqual(mounts, [
    { destination: '/usr/share/nginx/html', type: 'bind', source: vols.get('data')!.hostPath, options: ['rbind', 'rprivate', 'rw'] },
    { destination: '/ro-data', type: 'bind', source: vols.get('data')!.hostPath, options: ['rbind', 'rprivate', 'ro'] },
    { destination: '/etc/nginx', type: 'bind', source: vols.get('cfg')!.hostPath, options: ['rbind', 'rprivate', 'ro'] },
    { destination: '/host', type: 'bind', source: join(root, 'host'), options: ['rbind', 'rslave', 'rw'] },
  ]);
});

test('subPath: created as a directory with the volume root permissions', async () => {
  const [mnt] = await m.mountsFor(pod, ctr([{ name: 'data', mountPath: '/var/www', subPath: 'sites/www' }]), vols);
  const want = join(vols.get('data')!.hostPath, 'sites/www');
  assert.equal(mnt!.source, want);
  assert.ok(statSync(want).isDirectory());
  // 0777 filtered by the umask, as Go's MkdirAll in kubelet.
  assert.equal(modeOf(statSync(want)), (0o777 & ~process.umask()).toString(8));
});

test('subPath of a configMap key binds the resolved file, not the symlink', async () => {
  const [mnt] = await m.mountsFor(pod, ctr([{ name: 'cfg', mountPath: '/etc/nginx/nginx.conf', subPath: 'nginx.conf' }]), vols);
  const dir = vols.get('cfg')!.hostPath;
  assert.equal(mnt!.source, realpathSync(join(dir, 'nginx.conf')));
  assert.match(mnt!.source, /\/\.\.\d{4}_[^/]+\/nginx\.conf$/);
  assert.equal(readFileSync(mnt!.source, 'utf8'), 'worker_processes 1;');
  assert.deepEqual(mnt!.options, ['rbind', 'rprivate', 'ro']);
});

test('subPath: absolute paths and ".." are refused with upstream messages', async () => {
  await assert.rejects(m.mountsFor(pod, ctr([{ name: 'data', mountPath: '/x', subPath: '/etc' }]), vols), {
    name: 'VolumeError', reason: 'CreateContainerConfigError', message: 'error SubPath `/etc` must not be an absolute path',
  });
  await assert.rejects(m.mountsFor(pod, ctr([{ name: 'data', mountPath: '/x', subPath: 'a/../../..' }]), vols), {
    reason: 'CreateContainerConfigError', message: "unable to provision SubPath `a/../../..`: must not contain '..'",
  });
});

test('subPath: a symlink out of the volume is refused without revealing the target', async () => {
  const data = vols.get('data')!.hostPath;
  symlinkSync('/etc', join(data, 'escape'));
  await assert.rejects(m.mountsFor(pod, ctr([{ name: 'data', mountPath: '/x', subPath: 'escape' }]), vols), {
    reason: 'CreateContainerConfigError', message: 'failed to prepare subPath for volumeMount "data" of container "app"',
  });
  await assert.rejects(m.mountsFor(pod, ctr([{ name: 'data', mountPath: '/x', subPath: 'escape/new-dir' }]), vols), {
    reason: 'CreateContainerConfigError', message: 'failed to create subPath directory for volumeMount "data" of container "app"',
  });
  assert.equal(existsSync('/etc/new-dir'), false);
});

test('subPathExpr expands literal and downward-API env values', async () => {
  const mounts = await m.mountsFor(pod, ctr(
    [{ name: 'data', mountPath: '/logs', subPathExpr: '$(POD_NAME)/$(KIND)' }],
    [{ name: 'BASE', value: 'app' }, { name: 'KIND', value: '$(BASE)-logs' }, { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
  ), vols);
  assert.equal(mounts[0]!.source, join(vols.get('data')!.hostPath, 'web/app-logs'));
  await assert.rejects(m.mountsFor(pod, ctr([{ name: 'data', mountPath: '/logs', subPathExpr: '$(NOPE)' }]), vols), { reason: 'CreateContainerConfigError', message: 'missing value for NOPE' });
  await assert.rejects(m.mountsFor(pod, ctr([{ name: 'data', mountPath: '/logs', subPathExpr: '$(P)' }], [{ name: 'P', value: '/abs' }]), vols), { message: 'error SubPath `/abs` must not be an absolute path' });
  // A caller with the resolved environment (configMapKeyRef and the like) passes it along.
  const fromCaller = await m.mountsFor(pod, ctr([{ name: 'data', mountPath: '/logs', subPathExpr: '$(FROM_CM)' }], [{ name: 'FROM_CM', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k' } } }]), vols, new Map([['FROM_CM', 'cm-value']]));
  assert.equal(fromCaller[0]!.source, join(vols.get('data')!.hostPath, 'cm-value'));
});

test('an unknown volume and a shared mountPath are container config errors', async () => {
  await assert.rejects(m.mountsFor(pod, ctr([{ name: 'ghost', mountPath: '/g' }]), vols), { reason: 'CreateContainerConfigError', message: 'cannot find volume "ghost" to mount into container "app"' });
  await assert.rejects(m.mountsFor(pod, ctr([{ name: 'data', mountPath: '/same' }, { name: 'cfg', mountPath: '/same/' }]), vols), {
    reason: 'CreateContainerConfigError', message: 'mountPath "/same/" of volumeMount "cfg" in container "app" is already used by volumeMount "data": must be unique',
  });
});

test('a relative mountPath is taken from "/"; an unknown propagation mode is refused', async () => {
  const [mnt] = await m.mountsFor(pod, ctr([{ name: 'data', mountPath: 'data/' }]), vols);
  assert.equal(mnt!.destination, '/data');
  await assert.rejects(m.mountsFor(pod, ctr([{ name: 'data', mountPath: '/a' }, { name: 'cfg', mountPath: 'a' }]), vols), { message: /must be unique/ });
  await assert.rejects(m.mountsFor(pod, ctr([{ name: 'data', mountPath: '/p', mountPropagation: 'Sideways' }]), vols), { reason: 'CreateContainerConfigError', message: 'invalid MountPropagation mode: "Sideways"' });
});

test('a typeless hostPath that does not exist yet is created as a directory for the bind', async () => {
  const [mnt] = await m.mountsFor(pod, ctr([{ name: 'later', mountPath: '/var/date' }]), vols);
  assert.equal(mnt!.source, join(root, 'host-not-yet'));
  assert.ok(statSync(mnt!.source).isDirectory());
  writeFileSync(join(mnt!.source, 'x'), '');
});

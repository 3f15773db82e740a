import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { checkHostPath } from './host-path.js';
import { VolumeError } from './types.js';
import { cleanupTempRoot, makeManager, makePod, makeTempRoot, modeOf } from './test-support.js';

let root = '';
let server: Server | undefined;
const p = (name: string): string => join(root, 'host', name);

before(async () => {
  root = makeTempRoot();
  mkdirSync(join(root, 'host'));
  mkdirSync(p('dir'));
  writeFileSync(p('file'), 'x');
  symlinkSync(p('dir'), p('link-to-dir'));
  execFileSync('mknod', [p('chr'), 'c', '1', '3']);
  execFileSync('mknod', [p('blk'), 'b', '7', '0']);
  server = createServer();
  await new Promise<void>((resolve) => server!.listen(p('sock'), resolve));
});
after(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  cleanupTempRoot(root);
});

test('each type accepts what it names', async () => {
  const ok: [string, string][] = [
    ['', 'missing-but-unchecked'],
    ['Directory', 'dir'],
    ['Directory', 'link-to-dir'],
    ['DirectoryOrCreate', 'dir'],
    ['File', 'file'],
    ['FileOrCreate', 'file'],
    ['Socket', 'sock'],
    ['CharDevice', 'chr'],
    ['BlockDevice', 'blk'],
  ];
  for (const [type, name] of ok) await checkHostPath(p(name), type);
});

test('each type refuses anything else with upstream messages', async () => {
  const bad: [string, string, string][] = [
    ['Directory', 'file', `hostPath type check failed: ${p('file')} is not a directory, it's a File`],
    ['Directory', 'nope', `hostPath ${p('nope')} doesn't exist`],
    ['File', 'dir', `hostPath type check failed: ${p('dir')} is not a file, it's a Directory`],
    ['File', 'nope', `hostPath ${p('nope')} doesn't exist`],
    ['FileOrCreate', 'dir', `hostPath type check failed: ${p('dir')} is not a file, it's a Directory`],
    ['DirectoryOrCreate', 'file', `hostPath type check failed: ${p('file')} is not a directory, it's a File`],
    ['Socket', 'file', `hostPath type check failed: ${p('file')} is not a socket file, it's a File`],
    ['CharDevice', 'blk', `hostPath type check failed: ${p('blk')} is not a character device, it's a BlockDevice`],
    ['BlockDevice', 'chr', `hostPath type check failed: ${p('chr')} is not a block device, it's a CharDevice`],
    ['Fifo', 'file', 'Fifo is an invalid volume type'],
  ];
  for (const [type, name, message] of bad) await assert.rejects(checkHostPath(p(name), type), { message }, `${type} ${name}`);
  await assert.rejects(checkHostPath('/a/../etc', 'Directory'), { message: "invalid HostPath `/a/../etc`: must not contain '..'" });
});

test('DirectoryOrCreate makes the whole chain with 0755', async () => {
  await checkHostPath(p('made/deep/er'), 'DirectoryOrCreate');
  assert.ok(statSync(p('made/deep/er')).isDirectory());
  assert.equal(modeOf(statSync(p('made/deep/er'))), '755');
});

test('FileOrCreate makes an empty 0644 file, but only in an existing directory', async () => {
  await checkHostPath(p('created.log'), 'FileOrCreate');
  const st = statSync(p('created.log'));
  assert.ok(st.isFile());
  assert.equal(st.size, 0);
  assert.equal(modeOf(st), '644');
  await assert.rejects(checkHostPath(p('no-parent/x.log'), 'FileOrCreate'), { code: 'ENOENT' });
});

test('through the manager: the host path is the volume path; a failed check is a FailedMount event text', async () => {
  const m = makeManager(root);
  const pod = makePod([{ name: 'h', hostPath: { path: p('dir'), type: 'Directory' } }]);
  const vols = await m.setUp(pod);
  assert.deepEqual(vols.get('h'), { name: 'h', hostPath: p('dir'), readOnly: false });
  const bad = makePod([{ name: 'h', hostPath: { path: p('file'), type: 'Directory' } }]);
  await assert.rejects(m.setUp(bad), (e: unknown) => {
    assert.ok(e instanceof VolumeError);
    assert.equal(e.reason, 'FailedMount');
    assert.equal(e.message, `MountVolume.SetUp failed for volume "h" : hostPath type check failed: ${p('file')} is not a directory, it's a File`);
    return true;
  });
  const noParent = makePod([{ name: 'f', hostPath: { path: p('no-parent/x'), type: 'FileOrCreate' } }]);
  await assert.rejects(m.setUp(noParent), { message: `MountVolume.SetUp failed for volume "f" : open ${p('no-parent/x')}: no such file or directory` });
  await m.tearDown(pod.metadata!.uid!);
  await m.tearDown(bad.metadata!.uid!);
  await m.tearDown(noParent.metadata!.uid!);
  assert.ok(statSync(p('dir')).isDirectory(), 'teardown never touches the host path');
});

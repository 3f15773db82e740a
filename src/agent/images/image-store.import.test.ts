import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { c as tarCreate, x as tarExtract } from 'tar';
import { makeArchive, testImages, type TestImages } from '../../../test/helpers/test-images.js';
import { OciImageStore, type OciImageStoreOptions } from './image-store.js';

/** Archive imports (skopeo's docker-archive and oci-archive, the build script's multi-image tarball) and removal. */

interface LayoutImage { id: string; manifest: string; layers: string[] }

function layoutImage(layout: string): LayoutImage {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const digest = index.manifests[0]!.digest;
  const m = JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', digest.slice(7)), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  return { id: m.config.digest, manifest: digest, layers: m.layers.map((l) => l.digest) };
}

describe('OciImageStore imports archives and removes images', () => {
  let ti: TestImages;
  let work: string;
  const dirs: string[] = [];
  const stores: OciImageStore[] = [];
  const newStore = (o: Partial<OciImageStoreOptions> = {}): OciImageStore => {
    const root = mkdtempSync(join(tmpdir(), 'skiff-images-'));
    dirs.push(root);
    const s = new OciImageStore({ root, ...o });
    stores.push(s);
    return s;
  };
  const blobs = (s: OciImageStore): string[] => readdirSync(join(s.root, 'blobs', 'sha256')).map((h) => `sha256:${h}`);

  before(() => {
    ti = testImages();
    work = mkdtempSync(join(tmpdir(), 'skiff-archives-'));
  });
  after(async () => {
    for (const s of stores) await s.close();
    rmSync(work, { recursive: true, force: true });
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('imports a legacy docker save archive (skopeo docker-archive) with its RepoTags', async () => {
    const file = join(work, 'busybox-docker.tar');
    await makeArchive('docker-archive', ti.layouts.busybox, 'latest', file, 'busybox:1.0');
    const store = newStore();
    const [img, ...rest] = await store.importArchive(file);
    assert.equal(rest.length, 0);
    assert.equal(img!.id, layoutImage(ti.layouts.busybox).id, 'same config blob, same id');
    assert.deepEqual(img!.repoTags, ['docker.io/library/busybox:1.0']);
    assert.deepEqual(img!.repoDigests, [], 'a legacy archive has no registry manifest digest');
    assert.deepEqual(img!.config.Cmd, ['sh']);
    assert.ok(statSync(join(img!.rootfs, 'bin', 'busybox')).isFile());
    assert.ok(img!.size > 1_500_000, 'legacy layers are uncompressed tars');
    assert.equal(store.get('busybox:1.0')?.id, img!.id);
  });

  it('imports an OCI archive named by a full reference, and one named only by a tag (untagged)', async () => {
    const named = join(work, 'busybox-oci.tar');
    await makeArchive('oci-archive', ti.layouts.busybox, 'latest', named, 'busybox:1.0');
    const store = newStore();
    const [img] = await store.importArchive(named);
    const want = layoutImage(ti.layouts.busybox);
    assert.deepEqual(img!.repoTags, ['docker.io/library/busybox:1.0']);
    assert.deepEqual(img!.repoDigests, [`docker.io/library/busybox@${want.manifest}`]);

    const bare = join(work, 'cpwar-tag-only.tar');
    await makeArchive('oci-archive', ti.layouts.cpwar, 'v2', bare, 'v2');
    const report = await store.importArchiveDetailed(bare);
    assert.deepEqual(report.unnamedTags, ['v2']);
    const untagged = report.images[0]!;
    assert.deepEqual(untagged.repoTags, []);
    assert.equal(store.get(untagged.id)?.id, untagged.id, 'reachable by id');
    assert.equal(readFileSync(join(untagged.rootfs, 'sample.war'), 'utf8'), ti.sampleWar);
    assert.equal(store.list().length, 2);
  });

  it('imports the multi-image tarball of the build script: every tutorial image, working', async () => {
    const store = newStore();
    const imgs = await store.importArchive(ti.archive);
    const tags = imgs.flatMap((i) => i.repoTags).sort();
    assert.deepEqual(tags, [
      'docker.io/library/busybox:latest', 'docker.io/library/debian:latest',
      'docker.io/library/nginx:1.17.10', 'docker.io/library/nginx:1.17.8', 'docker.io/library/nginx:latest',
      'docker.io/xxx/cpwar:v2', 'docker.io/xxx/tomcat:7.0',
    ]);
    assert.equal(imgs.length, 4, 'busybox and debian are one image; the nginx tags are one image');
    const nginx = store.get('nginx:1.17.8')!;
    assert.deepEqual(nginx.config.Cmd, ['nginx', '-g', 'daemon off;']);
    assert.match(readFileSync(join(nginx.rootfs, 'usr', 'share', 'nginx', 'html', 'index.html'), 'utf8'), /Welcome to nginx!/);
    assert.match(readFileSync(join(nginx.rootfs, 'etc', 'nginx', 'nginx.conf'), 'utf8'), /daemon off;/);
    for (const d of ['var/lib/nginx', 'var/log/nginx', 'run', 'tmp']) assert.ok(statSync(join(nginx.rootfs, d)).isDirectory(), d);
    const tomcat = store.get('xxx/tomcat:7.0')!;
    const start = join(tomcat.rootfs, 'path-to-tomcat', 'bin', 'start.sh');
    assert.ok((statSync(start).mode & 0o111) !== 0, 'start.sh is executable');
    assert.match(readFileSync(start, 'utf8'), /exec busybox httpd -f -p 8080 -h \/path-to-tomcat\/webapps/);
    assert.equal(readFileSync(join(store.get('xxx/cpwar:v2')!.rootfs, 'sample.war'), 'utf8'), ti.sampleWar);
    assert.ok(existsSync(join(store.get('debian')!.rootfs, 'bin', 'sh')));
    if (process.getuid?.() === 0) {
      // The image's own files are enough to run: nginx with its libraries, sh from busybox.
      execFileSync('chroot', [nginx.rootfs, '/usr/sbin/nginx', '-t'], { stdio: 'ignore' });
      assert.equal(execFileSync('chroot', [tomcat.rootfs, '/bin/sh', '-c', 'echo ok'], { encoding: 'utf8' }), 'ok\n');
    }
    // Importing again changes nothing.
    const before = blobs(store).sort();
    const again = await store.importArchive(ti.archive);
    assert.deepEqual(again.map((i) => i.id).sort(), imgs.map((i) => i.id).sort());
    assert.deepEqual(blobs(store).sort(), before);
  });

  it('imports a Docker >= 25 archive (OCI layout plus manifest.json) taking names from RepoTags', async () => {
    const plain = join(work, 'plain-oci.tar');
    await makeArchive('oci-archive', ti.layouts.busybox, 'latest', plain, '');
    const dir = join(work, 'docker25');
    mkdirSync(dir);
    await tarExtract({ file: plain, cwd: dir });
    const idx = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: unknown }[] };
    assert.equal(idx.manifests[0]!.annotations, undefined, 'no names in index.json');
    const want = layoutImage(ti.layouts.busybox);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: `blobs/sha256/${want.id.slice(7)}`, RepoTags: ['busybox:25'], Layers: want.layers.map((l) => `blobs/sha256/${l.slice(7)}`) }]));
    const file = join(work, 'docker25.tar');
    await tarCreate({ file, cwd: dir }, readdirSync(dir));
    const [img] = await newStore().importArchive(file);
    assert.equal(img!.id, want.id);
    assert.deepEqual(img!.repoTags, ['docker.io/library/busybox:25']);
  });

  it('refuses what is not an image archive, leaving the store empty', async () => {
    const store = newStore();
    const junk = join(work, 'junk.tar');
    writeFileSync(junk, 'not a tar at all'.repeat(100));
    await assert.rejects(store.importArchive(junk), /junk\.tar: not a readable tar archive/);
    await assert.rejects(store.importArchive(join(work, 'missing.tar')), /missing\.tar: no such file/);
    const empty = join(work, 'empty.tar');
    const emptyDir = join(work, 'empty');
    mkdirSync(emptyDir);
    writeFileSync(join(emptyDir, 'hello.txt'), 'hi');
    await tarCreate({ file: empty, cwd: emptyDir }, ['hello.txt']);
    await assert.rejects(store.importArchive(empty), /neither an OCI image layout \(oci-layout, index.json\) nor a docker save archive \(manifest.json\)/);
    assert.deepEqual(store.list(), []);
    assert.deepEqual(blobs(store), []);
    assert.deepEqual(readdirSync(join(store.root, 'tmp')), []);
  });

  it('remove() counts names: the image, its rootfs and its unshared blobs go with the last one', async () => {
    const store = newStore();
    await store.importArchive(ti.archive);
    const nginx = store.get('nginx:latest')!;
    const busybox = store.get('busybox')!;
    const nginxLayers = layoutImage(ti.layouts.nginx).layers;
    const sharedLayer = layoutImage(ti.layouts.busybox).layers[0]!;
    assert.ok(nginxLayers.includes(sharedLayer));
    const ownLayer = nginxLayers.find((l) => l !== sharedLayer)!;

    await store.remove('nginx:latest');
    assert.deepEqual(store.get('nginx:1.17.8')?.repoTags, ['docker.io/library/nginx:1.17.10', 'docker.io/library/nginx:1.17.8']);
    assert.equal(store.get('nginx:latest'), undefined);
    assert.ok(existsSync(nginx.rootfs));
    await store.remove('docker.io/library/nginx:1.17.8');
    await store.remove('nginx:1.17.10');
    assert.equal(store.get(nginx.id), undefined);
    assert.equal(existsSync(nginx.rootfs), false);
    assert.equal(blobs(store).includes(nginx.id), false, 'config blob gone');
    assert.equal(blobs(store).includes(ownLayer), false, 'the nginx layer gone');
    assert.equal(blobs(store).includes(sharedLayer), true, 'the busybox layer other images use stays');
    assert.ok(existsSync(join(store.get('xxx/cpwar:v2')!.rootfs, 'bin', 'busybox')));

    // By id: every name of the image at once (busybox and debian).
    await store.remove(busybox.id.slice(7, 20));
    assert.equal(store.get('busybox'), undefined);
    assert.equal(store.get('debian'), undefined);
    assert.equal(existsSync(busybox.rootfs), false);
    await store.remove('nothing:here');
    assert.equal(store.list().length, 2);
  });

  it('keeps an image a container uses after its last name goes, until prune()', async () => {
    let used = true;
    const store = newStore({ inUse: () => used });
    await store.importArchive(ti.archive);
    const cpwar = store.get('xxx/cpwar:v2')!;
    await store.remove('xxx/cpwar:v2');
    const kept = store.get(cpwar.id);
    assert.deepEqual(kept?.repoTags, [], 'nameless but present');
    assert.ok(existsSync(cpwar.rootfs));
    assert.deepEqual(await store.prune(), [], 'still in use');
    used = false;
    assert.deepEqual(await store.prune(), [cpwar.id]);
    assert.equal(existsSync(cpwar.rootfs), false);
    assert.equal(store.get(cpwar.id), undefined);
  });

  it('two stores on one directory (agent and CLI) see each other\'s changes', async () => {
    const a = newStore();
    const b = new OciImageStore({ root: a.root });
    stores.push(b);
    const file = join(work, 'busybox-shared.tar');
    await makeArchive('oci-archive', ti.layouts.busybox, 'latest', file, 'busybox:shared');
    await a.importArchive(file);
    assert.equal(b.get('busybox:shared')?.id, layoutImage(ti.layouts.busybox).id);
    await b.remove('busybox:shared');
    assert.equal(a.get('busybox:shared'), undefined);
    assert.deepEqual(a.list(), []);
  });
});

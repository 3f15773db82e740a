import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startFront, startRegistry, type RegistryFront, type TestRegistry } from '../../../test/helpers/registry.js';
import { testImages, type TestImages } from '../../../test/helpers/test-images.js';
import { OciImageStore } from './image-store.js';
import { hostPlatform } from './platform.js';
import { ImageError, type LocalImage } from './types.js';

/** Pulls from a real registry (Debian's docker-registry) on a free port: the happy paths and the pull policies. */

/** The config digest (image id) and layer digests of an image in an OCI layout. */
function layoutImage(layout: string, tag: string): { id: string; manifest: string; layers: string[] } {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)!;
  const m = JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', desc.digest.slice(7)), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  return { id: m.config.digest, manifest: desc.digest, layers: m.layers.map((l) => l.digest) };
}

async function rejectsWith(p: Promise<unknown>, reason: ImageError['reason'], message: RegExp | string): Promise<ImageError> {
  let err: unknown;
  await assert.rejects(p, (e: unknown) => { err = e; return true; });
  assert.ok(err instanceof ImageError, `expected ImageError, got ${String(err)}`);
  assert.equal(err.reason, reason);
  if (typeof message === 'string') assert.equal(err.message, message);
  else assert.match(err.message, message);
  return err;
}

describe('OciImageStore pulls from a registry', () => {
  let ti: TestImages;
  let reg: TestRegistry;
  const dirs: string[] = [];
  const stores: OciImageStore[] = [];
  const fronts: RegistryFront[] = [];
  const newStore = (o: Partial<ConstructorParameters<typeof OciImageStore>[0]> = {}): OciImageStore => {
    const root = mkdtempSync(join(tmpdir(), 'skiff-images-'));
    dirs.push(root);
    const s = new OciImageStore({ root, ...o });
    stores.push(s);
    return s;
  };

  before(async () => {
    ti = testImages();
    reg = await startRegistry();
    // One repository's pushes one after the other: the registry can lose a blob two uploads into the same
    // repository share ("manifest blob unknown"), as a full run once showed.
    const intoMulti = async (): Promise<void> => {
      await reg.push(ti.layouts.busybox, 'latest', 'library/multi:busybox');
      await reg.push(ti.layouts.cpwar, 'v2', 'library/multi:cpwar');
      await reg.push(ti.layouts.busybox, 'latest', 'library/multi:busybox-v2s2', 'v2s2');
      await reg.push(ti.layouts.cpwar, 'v2', 'library/multi:cpwar-v2s2', 'v2s2');
    };
    await Promise.all([
      reg.push(ti.layouts.busybox, 'latest', 'library/busybox:latest'),
      reg.push(ti.layouts.nginx, '1.17.8', 'library/nginx:1.17.8-v2s2', 'v2s2'),
      intoMulti(),
    ]);
  });
  after(async () => {
    for (const s of stores) await s.close();
    for (const f of fronts) await f.close();
    await reg?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('pulls an OCI image: rootfs unpacked, config, names, digests, progress', async () => {
    const store = newStore();
    const progress: string[] = [];
    const ref = `${reg.host}/library/busybox`;
    const img = await store.ensure(ref, 'IfNotPresent', (m) => progress.push(m));
    const want = layoutImage(ti.layouts.busybox, 'latest');
    assert.equal(img.id, want.id);
    assert.deepEqual(img.repoTags, [`${reg.host}/library/busybox:latest`]);
    assert.deepEqual(img.repoDigests, [`${reg.host}/library/busybox@${want.manifest}`]);
    assert.deepEqual(img.config.Cmd, ['sh']);
    assert.ok(statSync(join(img.rootfs, 'bin', 'busybox')).isFile());
    assert.equal(lstatSync(join(img.rootfs, 'bin', 'sh')).isSymbolicLink(), true);
    assert.equal(readFileSync(join(img.rootfs, 'etc', 'passwd'), 'utf8').split('\n')[0], 'root:x:0:0:root:/root:/bin/sh');
    assert.equal(img.size, statSync(join(ti.layouts.busybox, 'blobs', 'sha256', want.layers[0]!.slice(7))).size);
    assert.equal(progress[0], `Pulling image "${ref}"`);
    assert.match(progress.at(-1)!, new RegExp(`^Successfully pulled image "${ref}" in [\\d.]+s\\. Image size: ${img.size} bytes\\.$`));
    // The same image by every handle it has.
    for (const handle of [ref, `${ref}:latest`, img.id, img.id.slice(7), img.id.slice(7, 20), img.repoDigests[0]!]) {
      assert.equal(store.get(handle)?.id, img.id, handle);
    }
    assert.equal(store.get(`${reg.host}/library/busybox:other`), undefined);
    assert.deepEqual(store.list().map((i) => i.id), [img.id]);
  });

  it('pulls a Docker schema 2 image (rewritten to OCI for umoci) and the nginx in it runs', async () => {
    const store = newStore();
    const img = await store.ensure(`${reg.host}/library/nginx:1.17.8-v2s2`, 'IfNotPresent');
    assert.equal(img.id, layoutImage(ti.layouts.nginx, '1.17.8').id, 'Docker media types do not change the config blob');
    assert.deepEqual(img.config.Cmd, ['nginx', '-g', 'daemon off;']);
    assert.ok(existsSync(join(img.rootfs, 'usr', 'sbin', 'nginx')));
    assert.ok(existsSync(join(img.rootfs, 'bin', 'busybox')), 'nginx image includes busybox for sh');
    if (process.getuid?.() === 0) {
      const out = execFileSync('chroot', [img.rootfs, '/usr/sbin/nginx', '-t'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      assert.equal(out, '');
    }
  });

  for (const docker of [false, true]) {
    it(`picks this machine's platform from ${docker ? 'a Docker manifest list' : 'an OCI index'}`, async () => {
      const here = hostPlatform().architecture;
      const other = here === 's390x' ? 'ppc64le' : 's390x';
      const sfx = docker ? '-v2s2' : '';
      // The foreign entry comes first, so taking the first entry would be wrong.
      const digest = await reg.pushIndex('library/multi', `index${sfx}`, [{ tag: `cpwar${sfx}`, architecture: other }, { tag: `busybox${sfx}`, architecture: here }], docker);
      const store = newStore();
      const img = await store.ensure(`${reg.host}/library/multi:index${sfx}`, 'IfNotPresent');
      assert.equal(img.id, layoutImage(ti.layouts.busybox, 'latest').id);
      assert.deepEqual(img.repoDigests, [`${reg.host}/library/multi@${digest}`], 'the repo digest is the index digest, as containerd records it');
      assert.equal(existsSync(join(img.rootfs, 'sample.war')), false);
    });
  }

  it('fails with ErrImagePull when the index has nothing for this platform', async () => {
    await reg.pushIndex('library/multi', 'foreign', [{ tag: 'cpwar', architecture: 's390x', os: 'zos' }]);
    await rejectsWith(newStore().ensure(`${reg.host}/library/multi:foreign`, 'IfNotPresent'), 'ErrImagePull', /no match for platform in manifest sha256:[a-f0-9]{64}: not found/);
  });

  it('pulls by digest and verifies the manifest against it', async () => {
    const digest = await reg.manifestDigest('library/busybox', 'latest');
    const store = newStore();
    const img = await store.ensure(`${reg.host}/library/busybox@${digest}`, 'Always');
    assert.deepEqual(img.repoTags, [], 'a digest reference is no tag');
    assert.equal(store.get(`${reg.host}/library/busybox@${digest}`)?.id, img.id);
    const missing = `sha256:${'0'.repeat(64)}`;
    await rejectsWith(store.ensure(`${reg.host}/library/busybox@${missing}`, 'IfNotPresent'), 'ErrImagePull', `failed to pull and unpack image "${reg.host}/library/busybox@${missing}": failed to resolve reference "${reg.host}/library/busybox@${missing}": ${reg.host}/library/busybox@${missing}: not found: manifest unknown: manifest unknown`);
  });

  it('Always re-resolves the tag; IfNotPresent keeps what is there; the image that lost its tag goes', async () => {
    await reg.push(ti.layouts.busybox, 'latest', 'library/moving:t');
    const store = newStore();
    const ref = `${reg.host}/library/moving:t`;
    const a = await store.ensure(ref, 'Always');
    assert.equal(a.id, layoutImage(ti.layouts.busybox, 'latest').id);
    const again = await store.ensure(ref, 'Always');
    assert.equal(again.id, a.id, 'unchanged tag: same image');
    await reg.push(ti.layouts.cpwar, 'v2', 'library/moving:t');
    assert.equal((await store.ensure(ref, 'IfNotPresent')).id, a.id, 'IfNotPresent does not look at the registry');
    const b = await store.ensure(ref, 'Always');
    assert.equal(b.id, layoutImage(ti.layouts.cpwar, 'v2').id);
    assert.equal(readFileSync(join(b.rootfs, 'sample.war'), 'utf8'), ti.sampleWar);
    assert.equal(existsSync(a.rootfs), false, 'the old image had no other name, so its rootfs is gone');
    assert.deepEqual(store.list().map((i) => i.id), [b.id]);
  });

  it('Never uses only what is present', async () => {
    const store = newStore();
    const ref = `${reg.host}/library/busybox:latest`;
    await rejectsWith(store.ensure(ref, 'Never'), 'ErrImageNeverPull', `Container image "${ref}" is not present with pull policy of Never`);
    const pulled = await store.ensure(ref, 'IfNotPresent');
    assert.equal((await store.ensure(ref, 'Never')).id, pulled.id);
  });

  it('a missing repository or tag fails with ErrImagePull carrying the registry\'s reason', async () => {
    const store = newStore();
    for (const name of ['library/nope:1', 'library/busybox:nope']) {
      const canonical = `${reg.host}/${name}`;
      await rejectsWith(store.ensure(canonical, 'IfNotPresent'), 'ErrImagePull',
        `failed to pull and unpack image "${canonical}": failed to resolve reference "${canonical}": ${canonical}: not found: manifest unknown: manifest unknown`);
    }
    assert.deepEqual(readdirSync(join(store.root, 'blobs', 'sha256')), []);
  });

  it('an unreachable registry fails with ErrImagePull', async () => {
    const port = await freePort();
    const ref = `127.0.0.1:${port}/library/busybox:latest`;
    await rejectsWith(newStore().ensure(ref, 'IfNotPresent'), 'ErrImagePull',
      `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": failed to do request: Get "http://127.0.0.1:${port}/v2/library/busybox/manifests/latest": dial tcp 127.0.0.1:${port}: connect: connection refused`);
  });

  it('an invalid name fails with InvalidImageName under every policy', async () => {
    const store = newStore();
    for (const policy of ['Always', 'IfNotPresent', 'Never'] as const) {
      await rejectsWith(store.ensure('busyBOX', policy), 'InvalidImageName',
        'Failed to apply default image tag "busyBOX": couldn\'t parse image name "busyBOX": invalid reference format: repository name (library/busyBOX) must be lowercase');
    }
  });

  it('concurrent ensure() of one image pulls it once; images sharing a layer fetch it once', async () => {
    const front = await startFront(reg.url);
    fronts.push(front);
    const store = newStore();
    const ref = `${front.host}/library/busybox:latest`;
    const imgs: LocalImage[] = await Promise.all(Array.from({ length: 5 }, () => store.ensure(ref, 'Always')));
    assert.equal(new Set(imgs.map((i) => i.id)).size, 1);
    const gets = (re: RegExp): number => front.requests.filter((r) => r.method === 'GET' && re.test(r.path)).length;
    assert.equal(gets(/\/library\/busybox\/manifests\//), 1, 'one manifest request');
    assert.equal(gets(/\/library\/busybox\/blobs\//), 2, 'config and layer once each');
    // Two names of images with a common layer, concurrently: the shared busybox layer is fetched once.
    front.requests.length = 0;
    await Promise.all([store.ensure(`${front.host}/library/multi:busybox-v2s2`, 'IfNotPresent'), store.ensure(`${front.host}/library/multi:cpwar`, 'IfNotPresent')]);
    const layer = layoutImage(ti.layouts.busybox, 'latest').layers[0]!;
    assert.equal(gets(new RegExp(`/blobs/${layer}`)), 0, 'the busybox layer was already present and verified');
  });

  it('IfNotPresent does not contact the registry when the image is present; Always does', async () => {
    const own = await startRegistry();
    try {
      await own.push(ti.layouts.busybox, 'latest', 'library/busybox:latest');
      const store = newStore();
      const ref = `${own.host}/library/busybox:latest`;
      const img = await store.ensure(ref, 'IfNotPresent');
      await own.kill();
      assert.equal((await store.ensure(ref, 'IfNotPresent')).id, img.id);
      assert.equal((await store.ensure(img.id, 'IfNotPresent')).id, img.id, 'by id too');
      await rejectsWith(store.ensure(ref, 'Always'), 'ErrImagePull', /connect: connection refused/);
      assert.equal(store.get(ref)?.id, img.id, 'a failed Always pull leaves the present image alone');
    } finally {
      await own.stop();
    }
  });

  it('recovers from a crash mid-pull: a stale partial file is removed and a corrupt blob fetched again', async () => {
    const root = mkdtempSync(join(tmpdir(), 'skiff-images-'));
    dirs.push(root);
    const layer = layoutImage(ti.layouts.busybox, 'latest').layers[0]!;
    const layerFile = join(ti.layouts.busybox, 'blobs', 'sha256', layer.slice(7));
    const blobs = join(root, 'blobs', 'sha256');
    execFileSync('mkdir', ['-p', blobs]);
    // What a crash can leave: a partial download of a dead process, and a blob under its final name with bad bytes.
    const good = readFileSync(layerFile);
    const bad = Buffer.from(good);
    bad[100] = bad[100]! ^ 0xff;
    writeFileSync(join(blobs, layer.slice(7)), bad);
    const partial = join(blobs, `${layer.slice(7)}.999999999-1-dead.partial`);
    writeFileSync(partial, good.subarray(0, 1000));
    const store = new OciImageStore({ root });
    stores.push(store);
    assert.equal(existsSync(partial), false, 'partial of a dead writer removed on start');
    const progress: string[] = [];
    const img = await store.ensure(`${reg.host}/library/busybox:latest`, 'IfNotPresent', (m) => progress.push(m));
    assert.ok(!progress.some((m) => m.startsWith('Already exists')), 'the corrupt blob was not trusted');
    assert.deepEqual(readFileSync(join(blobs, layer.slice(7))), good);
    assert.ok(existsSync(join(img.rootfs, 'bin', 'busybox')));
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, selfSignedCert, startFront, startRegistry, type FrontOptions, type RegistryFront, type TestRegistry } from '../../../test/helpers/registry.js';
import { testImages, type TestImages } from '../../../test/helpers/test-images.js';
import { OciImageStore, type OciImageStoreOptions } from './image-store.js';
import { ImageError } from './types.js';

/**
 * Pulls through small HTTP fronts before a real registry: a front that corrupts blobs, fronts that demand bearer
 * tokens, mirrors (plain and HTTPS with a self-signed certificate) as configured in registries.yaml shape.
 */

function layerOf(layout: string): string {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const m = JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
  return m.layers[0]!.digest;
}

describe('OciImageStore against faulty, authenticating and mirrored registries', () => {
  let ti: TestImages;
  let reg: TestRegistry;
  const dirs: string[] = [];
  const stores: OciImageStore[] = [];
  const fronts: RegistryFront[] = [];
  const newStore = (o: Partial<OciImageStoreOptions> = {}): OciImageStore => {
    const root = mkdtempSync(join(tmpdir(), 'skiff-images-'));
    dirs.push(root);
    const s = new OciImageStore({ root, ...o });
    stores.push(s);
    return s;
  };
  const front = async (o: FrontOptions = {}): Promise<RegistryFront> => {
    const f = await startFront(reg.url, o);
    fronts.push(f);
    return f;
  };

  before(async () => {
    ti = testImages();
    reg = await startRegistry();
    await reg.push(ti.layouts.busybox, 'latest', 'library/busybox:latest');
  });
  after(async () => {
    for (const s of stores) await s.close();
    for (const f of fronts) await f.close();
    await reg?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('a corrupted layer fails the pull with a digest error and leaves nothing half-written', async () => {
    const layer = layerOf(ti.layouts.busybox);
    const f = await front({ corruptBlob: (d) => d === layer });
    const store = newStore();
    const ref = `${f.host}/library/busybox:latest`;
    let err: unknown;
    await assert.rejects(store.ensure(ref, 'IfNotPresent'), (e: unknown) => { err = e; return true; });
    assert.ok(err instanceof ImageError);
    assert.equal(err.reason, 'ErrImagePull');
    assert.match(err.message, new RegExp(`^failed to pull and unpack image "${ref}": failed commit on ref "layer-${layer}": commit failed: unexpected commit digest sha256:[a-f0-9]{64}, expected ${layer}: failed precondition$`));
    assert.deepEqual(readdirSync(join(store.root, 'blobs', 'sha256')), [], 'no blob (not even the manifest or config) stays behind');
    assert.deepEqual(readdirSync(join(store.root, 'rootfs')), []);
    assert.deepEqual(readdirSync(join(store.root, 'tmp')), []);
    assert.deepEqual(store.list(), []);
    assert.equal(store.get(ref), undefined);
    // The same store then pulls the intact image from the registry itself.
    const img = await store.ensure(`${reg.host}/library/busybox:latest`, 'IfNotPresent');
    assert.ok(existsSync(join(img.rootfs, 'bin', 'busybox')));
  });

  it('gets an anonymous bearer token from the realm of the 401 challenge', async () => {
    const f = await front({ bearer: { token: 'anon-token', service: 'skiff-test' } });
    const img = await newStore().ensure(`${f.host}/library/busybox:latest`, 'IfNotPresent');
    assert.deepEqual(img.config.Cmd, ['sh']);
    const [first, tokenReq, ...rest] = f.requests;
    assert.equal(first?.status, 401, 'the first request is challenged');
    assert.ok(tokenReq?.path.startsWith('/token?'), JSON.stringify(tokenReq));
    const q = new URL(`http://x${tokenReq!.path}`).searchParams;
    assert.equal(q.get('service'), 'skiff-test');
    assert.equal(q.get('scope'), 'repository:library/busybox:pull');
    assert.equal(tokenReq!.authorization, undefined, 'anonymous: no credentials sent');
    assert.ok(rest.length >= 3 && rest.every((r) => r.status === 200 && r.authorization === 'Bearer anon-token'), JSON.stringify(rest));
    assert.equal(f.requests.filter((r) => r.path.startsWith('/token')).length, 1, 'the token is cached for the other requests');
  });

  it('sends configured credentials to the token endpoint, and fails clearly without them', async () => {
    const f = await front({ bearer: { token: 'user-token', username: 'alice', password: 's3cret' } });
    const ref = `${f.host}/library/busybox:latest`;
    let err: unknown;
    await assert.rejects(newStore().ensure(ref, 'IfNotPresent'), (e: unknown) => { err = e; return true; });
    assert.ok(err instanceof ImageError && err.reason === 'ErrImagePull');
    assert.equal(err.message, `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": failed to fetch anonymous token: unexpected status from GET request to ${f.url}/token: 401 Unauthorized`);
    const store = newStore({ registries: { configs: { [f.host]: { auth: { username: 'alice', password: 's3cret' } } } } });
    const img = await store.ensure(ref, 'IfNotPresent');
    assert.ok(existsSync(join(img.rootfs, 'bin', 'busybox')));
    const tokenReqs = f.requests.filter((r) => r.path.startsWith('/token') && r.status === 200);
    assert.equal(tokenReqs.at(-1)?.authorization, `Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
  });

  it('answers a Basic challenge with the credentials configured for the host', async () => {
    const f = await front({ basic: { username: 'bob', password: 'pw' } });
    const ref = `${f.host}/library/busybox:latest`;
    let err: unknown;
    await assert.rejects(newStore().ensure(ref, 'IfNotPresent'), (e: unknown) => { err = e; return true; });
    assert.ok(err instanceof ImageError && err.reason === 'ErrImagePull');
    assert.equal(err.message, `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": pull access denied, repository does not exist or may require authorization: server message: unauthorized: authentication required`);
    const img = await newStore({ registries: { configs: { [f.host]: { auth: { username: 'bob', password: 'pw' } } } } }).ensure(ref, 'IfNotPresent');
    assert.ok(existsSync(join(img.rootfs, 'bin', 'busybox')));
  });

  it('follows blob redirects to another origin', async () => {
    const f = await front({ redirectBlobs: true });
    const img = await newStore().ensure(`${f.host}/library/busybox:latest`, 'IfNotPresent');
    assert.ok(existsSync(join(img.rootfs, 'bin', 'busybox')));
    assert.equal(f.requests.filter((r) => r.status === 307).length, 2, 'config and layer were redirected');
  });

  it('pulls docker.io names through a mirror, after a dead mirror, with ?ns=docker.io', async () => {
    const dead = await freePort();
    const f = await front();
    const store = newStore({ registries: { mirrors: { 'docker.io': { endpoint: [`http://127.0.0.1:${dead}`, f.url] } } } });
    // `busybox` is docker.io/library/busybox: never fetched from the internet here, the mirror answers first.
    const img = await store.ensure('busybox', 'IfNotPresent');
    assert.deepEqual(img.repoTags, ['docker.io/library/busybox:latest']);
    assert.ok(f.requests.length > 0 && f.requests.every((r) => new URL(`http://x${r.path}`).searchParams.get('ns') === 'docker.io'));
    assert.equal(store.get('docker.io/library/busybox:latest')?.id, img.id);
  });

  it('reaches an HTTPS mirror with a self-signed certificate only with insecure_skip_verify', async () => {
    const certDir = mkdtempSync(join(tmpdir(), 'skiff-tls-'));
    dirs.push(certDir);
    const f = await front({ tls: selfSignedCert(certDir) });
    const mirrorOnly = { mirrors: { 'registry.invalid': { endpoint: [f.url] } } };
    let err: unknown;
    await assert.rejects(newStore({ registries: mirrorOnly }).ensure('registry.invalid/library/busybox:latest', 'IfNotPresent'), (e: unknown) => { err = e; return true; });
    assert.ok(err instanceof ImageError && err.reason === 'ErrImagePull');
    assert.match(err.message, /failed to do request: Get "https:\/\/127\.0\.0\.1:\d+\/v2\/library\/busybox\/manifests\/latest\?ns=registry\.invalid": self.signed certificate/);
    const store = newStore({ registries: { ...mirrorOnly, configs: { [f.host]: { tls: { insecure_skip_verify: true } } } } });
    const img = await store.ensure('registry.invalid/library/busybox:latest', 'IfNotPresent');
    assert.deepEqual(img.repoTags, ['registry.invalid/library/busybox:latest']);
  });
});

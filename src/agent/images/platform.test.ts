import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostPlatform, pickPlatform, platformMatches } from './platform.js';
import { manifestKind, MediaType, toOciManifest, type Descriptor } from './manifest.js';

const dg = (c: string): string => `sha256:${c.repeat(64)}`;

describe('platform selection', () => {
  it('maps process.arch to OCI names', () => {
    const p = hostPlatform();
    assert.equal(p.os, 'linux');
    if (process.arch === 'x64') assert.equal(p.architecture, 'amd64');
    if (process.arch === 'arm64') assert.equal(p.architecture, 'arm64');
  });

  it('picks the first entry for this platform and skips entries without one (attestations)', () => {
    const ms: Descriptor[] = [
      { mediaType: MediaType.ociManifest, digest: dg('1'), size: 1 },
      { mediaType: MediaType.ociManifest, digest: dg('2'), size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { mediaType: MediaType.ociManifest, digest: dg('3'), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: MediaType.ociManifest, digest: dg('4'), size: 1, platform: { os: 'unknown', architecture: 'unknown' } },
    ];
    assert.equal(pickPlatform(ms, { os: 'linux', architecture: 'amd64' })?.digest, dg('3'));
    assert.equal(pickPlatform(ms, { os: 'linux', architecture: 'arm64', variant: 'v8' })?.digest, dg('2'));
    assert.equal(pickPlatform(ms, { os: 'linux', architecture: 's390x' }), undefined);
  });

  it('lets arm v7 hosts run v6 images but not v8', () => {
    assert.equal(platformMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, { os: 'linux', architecture: 'arm', variant: 'v7' }), true);
    assert.equal(platformMatches({ os: 'linux', architecture: 'arm', variant: 'v8' }, { os: 'linux', architecture: 'arm', variant: 'v7' }), false);
    assert.equal(platformMatches({ os: 'windows', architecture: 'amd64' }, { os: 'linux', architecture: 'amd64' }), false);
  });
});

describe('manifests', () => {
  it('rewrites Docker media types to OCI and keeps digests', () => {
    const m = toOciManifest({
      schemaVersion: 2,
      mediaType: MediaType.dockerManifest,
      config: { mediaType: MediaType.dockerConfig, digest: dg('c'), size: 10 },
      layers: [{ mediaType: MediaType.dockerLayerGzip, digest: dg('a'), size: 5 }, { mediaType: MediaType.dockerLayerTar, digest: dg('b'), size: 6 }],
    });
    assert.deepEqual(m, {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: dg('c'), size: 10 },
      layers: [{ mediaType: MediaType.ociLayerGzip, digest: dg('a'), size: 5 }, { mediaType: MediaType.ociLayerTar, digest: dg('b'), size: 6 }],
    });
  });

  it('refuses layers umoci cannot apply', () => {
    assert.throws(() => toOciManifest({ schemaVersion: 2, config: { mediaType: MediaType.dockerConfig, digest: dg('c'), size: 1 }, layers: [{ mediaType: MediaType.dockerForeignLayerGzip, digest: dg('a'), size: 1 }] }), /unsupported layer media type/);
  });

  it('tells indexes from manifests by media type, or by shape when the type is vague', () => {
    assert.equal(manifestKind(MediaType.dockerManifestList, {}), 'index');
    assert.equal(manifestKind(`${MediaType.ociManifest}; charset=utf-8`, {}), 'manifest');
    assert.equal(manifestKind('application/json', { manifests: [] }), 'index');
    assert.equal(manifestKind('application/json', { config: {}, layers: [] }), 'manifest');
    assert.equal(manifestKind('application/json', { schemaVersion: 1, fsLayers: [] }), 'schema1');
    assert.equal(manifestKind('text/html', 'x'), 'unknown');
  });
});

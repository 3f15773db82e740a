import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endpointsFor, isLoopbackHost, loadRegistriesConfig, type RegistriesConfig } from './registries-config.js';

describe('endpointsFor', () => {
  const cfg: RegistriesConfig = {
    mirrors: {
      'docker.io': { endpoint: ['http://127.0.0.1:5000', 'https://mirror.example.com/v2', 'https://other.example.com/prefix'] },
      'quay.io': { endpoint: ['https://q.example.com'], rewrite: { '^coreos/(.*)': 'mirrored/$1' } },
      '*': { endpoint: ['https://catchall.example.com'] },
    },
    configs: {
      '127.0.0.1:5000': { tls: { insecure_skip_verify: true }, auth: { username: 'u', password: 'p' } },
      'registry-1.docker.io': { auth: { auth: 'dTpw' } },
    },
  };

  it('tries the mirrors in order, then the registry itself', () => {
    const eps = endpointsFor(cfg, 'docker.io', 'library/busybox');
    assert.deepEqual(eps.map((e) => [e.base, e.mirror]), [
      ['http://127.0.0.1:5000/v2', true],
      ['https://mirror.example.com/v2', true],
      ['https://other.example.com/prefix/v2', true],
      ['https://registry-1.docker.io/v2', false],
    ]);
    assert.ok(eps.every((e) => e.registry === 'docker.io' && e.path === 'library/busybox'));
  });

  it('attaches the credentials and TLS settings configured for each endpoint host', () => {
    const [local, , , hub] = endpointsFor(cfg, 'docker.io', 'library/busybox');
    assert.deepEqual(local?.auth, { username: 'u', password: 'p' });
    assert.equal(local?.tls?.insecure_skip_verify, true);
    assert.deepEqual(hub?.auth, { auth: 'dTpw' });
  });

  it('applies a mirror\'s rewrite rules to the repository path', () => {
    const [m, self] = endpointsFor(cfg, 'quay.io', 'coreos/etcd');
    assert.equal(m?.path, 'mirrored/etcd');
    assert.equal(self?.path, 'coreos/etcd');
  });

  it('uses the * mirror for registries without their own, and plain HTTP for loopback registries', () => {
    assert.deepEqual(endpointsFor(cfg, 'ghcr.io', 'a/b').map((e) => e.base), ['https://catchall.example.com/v2', 'https://ghcr.io/v2']);
    assert.deepEqual(endpointsFor({}, '127.0.0.1:5000', 'x').map((e) => e.base), ['http://127.0.0.1:5000/v2']);
    assert.deepEqual(endpointsFor({}, 'localhost:5000', 'x').map((e) => e.base), ['http://localhost:5000/v2']);
    assert.deepEqual(endpointsFor({}, 'registry.k8s.io', 'pause').map((e) => e.base), ['https://registry.k8s.io/v2']);
  });

  it('does not try the registry twice when a mirror is the registry itself', () => {
    const eps = endpointsFor({ mirrors: { '127.0.0.1:5000': { endpoint: ['http://127.0.0.1:5000'] } } }, '127.0.0.1:5000', 'x');
    assert.equal(eps.length, 1);
  });
});

describe('isLoopbackHost', () => {
  for (const [h, want] of [['localhost', true], ['localhost:5000', true], ['127.0.0.1:5000', true], ['127.1.2.3', true], ['[::1]:5000', true], ['10.0.0.1:5000', false], ['localhost.example.com', false]] as const) {
    it(`${h} → ${want}`, () => assert.equal(isLoopbackHost(h), want));
  }
});

describe('loadRegistriesConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-regcfg-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the k3s shape', () => {
    const f = join(dir, 'ok.yaml');
    writeFileSync(f, 'mirrors:\n  docker.io:\n    endpoint: ["http://127.0.0.1:5000"]\nconfigs:\n  "127.0.0.1:5000":\n    tls: { insecure_skip_verify: true }\n');
    const cfg = loadRegistriesConfig(f);
    assert.deepEqual(cfg.mirrors?.['docker.io']?.endpoint, ['http://127.0.0.1:5000']);
    assert.equal(cfg.configs?.['127.0.0.1:5000']?.tls?.insecure_skip_verify, true);
  });

  it('treats a missing or empty file as no configuration', () => {
    assert.deepEqual(loadRegistriesConfig(join(dir, 'missing.yaml')), {});
    writeFileSync(join(dir, 'empty.yaml'), '');
    assert.deepEqual(loadRegistriesConfig(join(dir, 'empty.yaml')), {});
  });

  it('rejects endpoints that are not URL lists', () => {
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'mirrors:\n  docker.io:\n    endpoint: "http://x"\n');
    assert.throws(() => loadRegistriesConfig(f), /mirrors."docker.io".endpoint must be a list of URLs/);
    writeFileSync(f, 'mirrors:\n  docker.io:\n    endpoint: ["not a url"]\n');
    assert.throws(() => loadRegistriesConfig(f), /"not a url" is not a URL/);
    writeFileSync(f, '- a\n- b\n');
    assert.throws(() => loadRegistriesConfig(f), /expected a mapping/);
  });
});

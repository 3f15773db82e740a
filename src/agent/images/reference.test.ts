import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { familiarName, parseReference } from './reference.js';
import { ImageError } from './types.js';

const d64 = 'a'.repeat(64);

describe('parseReference: normalisation as kubelet/containerd', () => {
  const cases: [input: string, canonical: string, parts: { domain: string; path: string; tag?: string; digest?: string }][] = [
    ['busybox', 'docker.io/library/busybox:latest', { domain: 'docker.io', path: 'library/busybox', tag: 'latest' }],
    ['nginx:1.17.8', 'docker.io/library/nginx:1.17.8', { domain: 'docker.io', path: 'library/nginx', tag: '1.17.8' }],
    ['xxx/tomcat:7.0', 'docker.io/xxx/tomcat:7.0', { domain: 'docker.io', path: 'xxx/tomcat', tag: '7.0' }],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', { domain: 'docker.io', path: 'library/busybox', tag: 'latest' }],
    ['index.docker.io/library/busybox:1', 'docker.io/library/busybox:1', { domain: 'docker.io', path: 'library/busybox', tag: '1' }],
    ['127.0.0.1:5000/a/b:t', '127.0.0.1:5000/a/b:t', { domain: '127.0.0.1:5000', path: 'a/b', tag: 't' }],
    ['localhost/x', 'localhost/x:latest', { domain: 'localhost', path: 'x', tag: 'latest' }],
    ['localhost:5000/x', 'localhost:5000/x:latest', { domain: 'localhost:5000', path: 'x', tag: 'latest' }],
    ['registry.k8s.io/pause:3.9', 'registry.k8s.io/pause:3.9', { domain: 'registry.k8s.io', path: 'pause', tag: '3.9' }],
    ['a/b/c/d', 'docker.io/a/b/c/d:latest', { domain: 'docker.io', path: 'a/b/c/d', tag: 'latest' }],
    ['[::1]:5000/img:v1', '[::1]:5000/img:v1', { domain: '[::1]:5000', path: 'img', tag: 'v1' }],
    ['my-app__x/z-1:V1_2.3-rc', 'docker.io/my-app__x/z-1:V1_2.3-rc', { domain: 'docker.io', path: 'my-app__x/z-1', tag: 'V1_2.3-rc' }],
    [`busybox@sha256:${d64}`, `docker.io/library/busybox@sha256:${d64}`, { domain: 'docker.io', path: 'library/busybox', digest: `sha256:${d64}` }],
    [`busybox:1.36@sha256:${d64}`, `docker.io/library/busybox@sha256:${d64}`, { domain: 'docker.io', path: 'library/busybox', tag: '1.36', digest: `sha256:${d64}` }],
    [`Example.COM:443/app@sha256:${d64}`, `Example.COM:443/app@sha256:${d64}`, { domain: 'Example.COM:443', path: 'app', digest: `sha256:${d64}` }],
  ];
  for (const [input, canonical, parts] of cases) {
    it(`${input} → ${canonical}`, () => {
      const r = parseReference(input);
      assert.equal(r.canonical, canonical);
      assert.equal(r.domain, parts.domain);
      assert.equal(r.path, parts.path);
      assert.equal(r.name, `${parts.domain}/${parts.path}`);
      assert.equal(r.tag, parts.tag);
      assert.equal(r.digest, parts.digest);
    });
  }
});

describe('parseReference: invalid names fail with kubelet\'s InvalidImageName message', () => {
  const cases: [input: string, why: string][] = [
    ['', 'invalid reference format'],
    ['busyBOX', 'invalid reference format: repository name (library/busyBOX) must be lowercase'],
    ['xxx/Tomcat:7.0', 'invalid reference format: repository name (xxx/Tomcat) must be lowercase'],
    ['a b', 'invalid reference format'],
    ['nginx:', 'invalid reference format'],
    ['nginx:-bad', 'invalid reference format'],
    [':latest', 'invalid reference format'],
    ['nginx::1', 'invalid reference format'],
    ['registry.hub.docker.com/library//nginx:latest', 'invalid reference format'],
    ['ko://github.com/x/y', 'invalid reference format'],
    [`nginx:${'t'.repeat(129)}`, 'invalid reference format'],
    ['busybox@sha256:abc', 'invalid reference format'],
    [`busybox@sha256:${'a'.repeat(40)}`, 'invalid checksum digest length'],
    [`busybox@sha256:${'A'.repeat(64)}`, 'invalid checksum digest format'],
    [`busybox@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
    [d64, `invalid repository name (${d64}), cannot specify 64-byte hexadecimal strings`],
    [`x/${'a'.repeat(260)}`, 'repository name must not be more than 255 characters'],
  ];
  for (const [input, why] of cases) {
    it(JSON.stringify(input.length > 60 ? `${input.slice(0, 57)}...` : input), () => {
      assert.throws(() => parseReference(input), (e: unknown) => {
        assert.ok(e instanceof ImageError, `expected ImageError, got ${String(e)}`);
        assert.equal(e.reason, 'InvalidImageName');
        assert.equal(e.message, `Failed to apply default image tag "${input}": couldn't parse image name "${input}": ${why}`);
        return true;
      });
    });
  }
});

describe('familiarName', () => {
  const cases: [string, string][] = [
    ['docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/xxx/tomcat:7.0', 'xxx/tomcat:7.0'],
    ['docker.io/library/a/b:1', 'library/a/b:1'],
    ['127.0.0.1:5000/library/busybox:1', '127.0.0.1:5000/library/busybox:1'],
  ];
  for (const [input, want] of cases) it(`${input} → ${want}`, () => assert.equal(familiarName(input), want));
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { basicHeader, describeFetchError, parseWwwAuthenticate, RegistryAuthorizer } from './registry-auth.js';

describe('parseWwwAuthenticate', () => {
  it('reads a Docker Hub style bearer challenge', () => {
    const c = parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"');
    assert.deepEqual(c, [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } }]);
  });

  it('handles several challenges, unquoted values and escapes', () => {
    const c = parseWwwAuthenticate('Basic realm="Registry \\"Realm\\"", Bearer realm=https://x/token, service=svc');
    assert.equal(c.length, 2);
    assert.deepEqual(c[0], { scheme: 'basic', params: { realm: 'Registry "Realm"' } });
    assert.deepEqual(c[1], { scheme: 'bearer', params: { realm: 'https://x/token', service: 'svc' } });
  });

  it('returns nothing for an empty header', () => assert.deepEqual(parseWwwAuthenticate(''), []));
});

describe('RegistryAuthorizer', () => {
  it('fetches a token from the realm with service and scope, caches it per host and scope until it expires', async () => {
    let now = 1_000_000;
    const auth = new RegistryAuthorizer(() => now);
    const calls: { url: string; authorization?: string }[] = [];
    const fetchFn = async (url: string, init: RequestInit): Promise<Response> => {
      calls.push({ url, authorization: (init.headers as Record<string, string>)['Authorization'] });
      return new Response(JSON.stringify({ access_token: 'tok', expires_in: 60 }), { status: 200 });
    };
    const retry = await auth.answer('r.example', 'repository:a/b:pull', { username: 'u', password: 'p' }, 'Bearer realm="https://auth.example/token",service="reg"', fetchFn);
    assert.equal(retry, true);
    assert.equal(calls.length, 1);
    const u = new URL(calls[0]!.url);
    assert.equal(u.origin + u.pathname, 'https://auth.example/token');
    assert.equal(u.searchParams.get('service'), 'reg');
    assert.equal(u.searchParams.get('scope'), 'repository:a/b:pull');
    assert.equal(calls[0]!.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
    assert.equal(auth.header('r.example', 'repository:a/b:pull', undefined), 'Bearer tok');
    assert.equal(auth.header('r.example', 'repository:other:pull', undefined), undefined);
    now += 61_000;
    assert.equal(auth.header('r.example', 'repository:a/b:pull', undefined), undefined, 'expired');
  });

  it('reports a failing token endpoint in containerd\'s words', async () => {
    const auth = new RegistryAuthorizer();
    const fetchFn = async (): Promise<Response> => new Response('{}', { status: 401, statusText: 'Unauthorized' });
    await assert.rejects(auth.answer('h', 's', undefined, 'Bearer realm="http://a/token"', fetchFn), /failed to fetch anonymous token: unexpected status from GET request to http:\/\/a\/token: 401 Unauthorized/);
  });

  it('answers a Basic challenge with configured credentials only', async () => {
    const auth = new RegistryAuthorizer();
    const never = async (): Promise<Response> => { throw new Error('no fetch expected'); };
    assert.equal(await auth.answer('h', 's', undefined, 'Basic realm="x"', never), false);
    assert.equal(await auth.answer('h', 's', { username: 'u', password: 'p' }, 'Basic realm="x"', never), true);
    assert.equal(auth.header('h', 's', { username: 'u', password: 'p' }), basicHeader({ username: 'u', password: 'p' }));
  });
});

describe('describeFetchError', () => {
  it('words a refused connection like Go', () => {
    const e = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED', address: '127.0.0.1', port: 9 }) });
    assert.equal(describeFetchError(e, 'Get', 'http://127.0.0.1:9/v2/x/manifests/1'), 'Get "http://127.0.0.1:9/v2/x/manifests/1": dial tcp 127.0.0.1:9: connect: connection refused');
  });
  it('words an unknown host like Go', () => {
    const e = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('getaddrinfo ENOTFOUND nohost.invalid'), { code: 'ENOTFOUND', hostname: 'nohost.invalid' }) });
    assert.match(describeFetchError(e, 'Get', 'https://nohost.invalid/v2/'), /dial tcp: lookup nohost.invalid: no such host$/);
  });
});

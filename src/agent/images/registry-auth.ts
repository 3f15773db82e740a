import type { RegistryAuthConfig } from './registries-config.js';

/**
 * Registry authentication as the Docker token spec and containerd's authorizer do it: a 401 with
 * `WWW-Authenticate: Bearer realm=…,service=…,scope=…` sends us to the realm for a token (anonymously, or with the
 * configured username and password as Basic credentials), which we cache per host and scope; a `Basic` challenge is
 * answered with the credentials directly.
 */

/** One challenge from a `WWW-Authenticate` header. */
export interface AuthChallenge {
  /** Lower-cased scheme: `bearer`, `basic`. */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parses a `WWW-Authenticate` header (RFC 7235): one or more challenges, each a scheme followed by
 * comma-separated `key=value` or `key="quoted \"value\""` parameters.
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const out: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const s = header;
  const skipWs = (): void => { while (i < s.length && /[\s,]/.test(s[i]!)) i++; };
  const token = (): string => { const start = i; while (i < s.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(s[i]!)) i++; return s.slice(start, i); };
  while (i < s.length) {
    skipWs();
    const word = token();
    if (!word) { i++; continue; }
    let j = i;
    while (j < s.length && s[j] === ' ') j++;
    if (s[j] === '=' && out.length > 0) {
      // A parameter of the current challenge.
      i = j + 1;
      while (s[i] === ' ') i++;
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++;
      } else {
        const start = i;
        while (i < s.length && s[i] !== ',') i++;
        value = s.slice(start, i).trim();
      }
      out[out.length - 1]!.params[word.toLowerCase()] = value;
    } else {
      out.push({ scheme: word.toLowerCase(), params: {} });
    }
  }
  return out;
}

/** The pull scope for a repository, as containerd asks for it. */
export function pullScope(path: string): string {
  return `repository:${path}:pull`;
}

interface CachedToken { readonly header: string; readonly expiresAt: number }

/** The part of `fetch` the authorizer needs, so the client can pass its TLS settings along. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** Remembers how to authorise requests per registry host: cached bearer tokens per scope, or basic credentials. */
export class RegistryAuthorizer {
  readonly #tokens = new Map<string, CachedToken>();
  readonly #basicHosts = new Set<string>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** The Authorization header to send to `host` for `scope`, when we know one. */
  header(host: string, scope: string, auth: RegistryAuthConfig | undefined): string | undefined {
    const t = this.#tokens.get(`${host} ${scope}`);
    if (t && t.expiresAt > this.#now()) return t.header;
    if (this.#basicHosts.has(host)) return basicHeader(auth);
    return undefined;
  }

  /**
   * Answers a 401: fetches a bearer token, or switches the host to basic credentials. Returns false when there is
   * nothing to retry with (no usable challenge, or Basic without credentials). Throws when the token request fails.
   */
  async answer(host: string, scope: string, auth: RegistryAuthConfig | undefined, wwwAuthenticate: string | null, fetchFn: FetchLike): Promise<boolean> {
    const challenges = parseWwwAuthenticate(wwwAuthenticate ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer?.params['realm']) {
      const token = await this.#fetchToken(bearer.params, scope, auth, fetchFn);
      this.#tokens.set(`${host} ${scope}`, token);
      return true;
    }
    if (challenges.some((c) => c.scheme === 'basic') && basicHeader(auth) && !this.#basicHosts.has(host)) {
      this.#basicHosts.add(host);
      return true;
    }
    return false;
  }

  async #fetchToken(params: Readonly<Record<string, string>>, scope: string, auth: RegistryAuthConfig | undefined, fetchFn: FetchLike): Promise<CachedToken> {
    const realm = params['realm']!;
    const url = new URL(realm);
    if (params['service']) url.searchParams.set('service', params['service']);
    // The challenge's scope is what the registry wants for this request; ours is the fallback.
    for (const s of (params['scope'] ?? scope).split(' ')) if (s) url.searchParams.append('scope', s);
    const basic = basicHeader(auth);
    const anonymous = basic === undefined;
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (basic) headers['Authorization'] = basic;
    const what = anonymous ? 'anonymous token' : 'token';
    let res: Response;
    try {
      res = await fetchFn(url.toString(), { headers, signal: AbortSignal.timeout(30_000) });
    } catch (e) {
      throw new Error(`failed to fetch ${what}: ${describeFetchError(e, 'GET', url.toString())}`);
    }
    const text = await res.text();
    if (!res.ok) throw new Error(`failed to fetch ${what}: unexpected status from GET request to ${url.origin}${url.pathname}: ${res.status} ${res.statusText}`);
    let body: { token?: string; access_token?: string; expires_in?: number };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`failed to fetch ${what}: the token endpoint ${url.origin}${url.pathname} did not answer JSON`);
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new Error(`failed to fetch ${what}: the token endpoint ${url.origin}${url.pathname} returned no token`);
    // The spec's default lifetime is 60 s; keep a margin so a token does not expire mid-request.
    const seconds = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    return { header: `Bearer ${token}`, expiresAt: this.#now() + Math.max(1, seconds - 5) * 1000 };
  }
}

/** `Basic base64(user:pass)` from the configured credentials, or undefined when there are none. */
export function basicHeader(auth: RegistryAuthConfig | undefined): string | undefined {
  if (!auth) return undefined;
  if (auth.auth) return `Basic ${auth.auth}`;
  if (auth.username !== undefined) {
    const password = auth.password ?? auth.identity_token ?? '';
    return `Basic ${Buffer.from(`${auth.username}:${password}`).toString('base64')}`;
  }
  return undefined;
}

/**
 * A network failure in Go's words, as containerd reports it: `Get "URL": dial tcp 127.0.0.1:1: connect: connection
 * refused`. Node's fetch only says "fetch failed"; the reason is in `cause`.
 */
export function describeFetchError(e: unknown, method: string, url: string): string {
  const err = e as Error & { cause?: NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return `${method} "${url}": context deadline exceeded`;
  const c = err?.cause;
  const u = new URL(url);
  const target = c?.address !== undefined ? `${c.address}:${c.port ?? u.port}` : u.host;
  let why: string;
  switch (c?.code) {
    case 'ECONNREFUSED': why = `dial tcp ${target}: connect: connection refused`; break;
    case 'ENOTFOUND': case 'EAI_AGAIN': why = `dial tcp: lookup ${c.hostname ?? u.hostname}: no such host`; break;
    case 'ETIMEDOUT': case 'UND_ERR_CONNECT_TIMEOUT': why = `dial tcp ${target}: i/o timeout`; break;
    case 'ECONNRESET': case 'UND_ERR_SOCKET': why = `read tcp ${target}: read: connection reset by peer`; break;
    case 'EHOSTUNREACH': why = `dial tcp ${target}: connect: no route to host`; break;
    case 'ENETUNREACH': why = `dial tcp ${target}: connect: network is unreachable`; break;
    default: why = c?.message ?? err?.message ?? String(e);
  }
  return `${method} "${url}": ${why}`;
}

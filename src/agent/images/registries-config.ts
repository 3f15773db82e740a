import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/**
 * Registry configuration in the shape of k3s's `registries.yaml`: mirrors per registry host (tried in order, then
 * the registry itself) and per-host TLS and credentials.
 *
 * ```yaml
 * mirrors:
 *   docker.io:
 *     endpoint: ["http://127.0.0.1:5000"]
 * configs:
 *   "127.0.0.1:5000":
 *     tls: { insecure_skip_verify: true }
 *     auth: { username: u, password: p }
 * ```
 */

/** Credentials for one registry host (k3s `configs.<host>.auth`). */
export interface RegistryAuthConfig {
  readonly username?: string;
  readonly password?: string;
  /** base64 of `username:password`, as in a Docker config.json. */
  readonly auth?: string;
  /** A refresh token; sent as the password of the token request. */
  readonly identity_token?: string;
}

/** TLS settings for one registry host (k3s `configs.<host>.tls`). */
export interface RegistryTlsConfig {
  readonly insecure_skip_verify?: boolean;
  readonly ca_file?: string;
  readonly cert_file?: string;
  readonly key_file?: string;
}

/** The whole registries.yaml document. */
export interface RegistriesConfig {
  readonly mirrors?: Readonly<Record<string, {
    readonly endpoint?: readonly string[];
    /** Regular expression → replacement applied to the repository path when pulling through this mirror. */
    readonly rewrite?: Readonly<Record<string, string>>;
  }>>;
  readonly configs?: Readonly<Record<string, { readonly auth?: RegistryAuthConfig; readonly tls?: RegistryTlsConfig }>>;
}

/** One place to try for a registry: a mirror or the registry itself. */
export interface RegistryEndpoint {
  /** URL of the API root, `…/v2`, without a trailing slash. */
  readonly base: string;
  /** `host[:port]` of the endpoint, the key for its credentials and token cache. */
  readonly host: string;
  /** True for a mirror (requests then carry `?ns=<registry>` like containerd's). */
  readonly mirror: boolean;
  /** The registry the image belongs to (`docker.io`), whichever endpoint serves it. */
  readonly registry: string;
  /** The repository path to request at this endpoint (after a mirror's rewrite rules). */
  readonly path: string;
  readonly auth?: RegistryAuthConfig;
  readonly tls?: RegistryTlsConfig;
}

/** Reads and checks a registries.yaml file; a missing or empty file is an empty configuration. */
export function loadRegistriesConfig(file: string): RegistriesConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  const doc = (parse(text) ?? {}) as unknown;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`${file}: expected a mapping with "mirrors" and/or "configs"`);
  const cfg = doc as RegistriesConfig;
  for (const [host, m] of Object.entries(cfg.mirrors ?? {})) {
    if (m.endpoint !== undefined && (!Array.isArray(m.endpoint) || m.endpoint.some((e) => typeof e !== 'string'))) {
      throw new Error(`${file}: mirrors."${host}".endpoint must be a list of URLs`);
    }
    for (const e of m.endpoint ?? []) {
      try { new URL(e); } catch { throw new Error(`${file}: mirrors."${host}".endpoint: "${e}" is not a URL`); }
    }
  }
  return cfg;
}

/** Loopback registries default to plain HTTP, as containerd does for localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** The API root for an endpoint URL: its path when it ends in /v2, else path + /v2 (containerd's default). */
function apiBase(u: URL): string {
  let path = u.pathname.replace(/\/+$/, '');
  if (!path.endsWith('/v2')) path += '/v2';
  return `${u.protocol}//${u.host}${path}`;
}

function configFor(cfg: RegistriesConfig, ...keys: string[]): { auth?: RegistryAuthConfig; tls?: RegistryTlsConfig } {
  for (const k of [...keys, '*']) {
    const c = cfg.configs?.[k];
    if (c) return c;
  }
  return {};
}

function rewritePath(path: string, rules: Readonly<Record<string, string>> | undefined): string {
  for (const [pattern, replacement] of Object.entries(rules ?? {})) {
    const re = new RegExp(pattern);
    if (re.test(path)) return path.replace(re, replacement);
  }
  return path;
}

/**
 * Where to pull `domain/path` from, in order: the mirrors configured for `domain` (or for `*` when `domain` has
 * none), then the registry itself (`https://registry-1.docker.io` for docker.io; plain HTTP for loopback hosts).
 */
export function endpointsFor(cfg: RegistriesConfig, domain: string, path: string): RegistryEndpoint[] {
  const out: RegistryEndpoint[] = [];
  const mirror = cfg.mirrors?.[domain] ?? cfg.mirrors?.['*'];
  for (const e of mirror?.endpoint ?? []) {
    const u = new URL(e);
    const c = configFor(cfg, u.host);
    out.push({ base: apiBase(u), host: u.host, mirror: true, registry: domain, path: rewritePath(path, mirror?.rewrite), ...c });
  }
  const host = domain === 'docker.io' ? 'registry-1.docker.io' : domain;
  const scheme = isLoopbackHost(host) ? 'http' : 'https';
  const base = `${scheme}://${host}/v2`;
  // A mirror entry may point at the registry itself; do not try the same place twice.
  if (!out.some((e) => e.base === base)) out.push({ base, host, mirror: false, registry: domain, path, ...configFor(cfg, host, domain) });
  return out;
}

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import type { Logger } from '../../util/log.js';
import { silentLogger } from '../../util/log.js';
import { manifestAccept } from './manifest.js';
import type { ImageReference } from './reference.js';
import { endpointsFor, type RegistriesConfig, type RegistryEndpoint, type RegistryTlsConfig } from './registries-config.js';
import { describeFetchError, pullScope, RegistryAuthorizer } from './registry-auth.js';

/**
 * A client of the OCI distribution API (`/v2/<name>/manifests/<ref>`, `/v2/<name>/blobs/<digest>`) over Node's
 * fetch: mirrors then the registry, token and basic auth, digest checks on every manifest. Blobs are handed back
 * as streams; the content store verifies them while writing.
 */

/** Manifests bigger than this are refused, so a broken or hostile server cannot fill our memory. */
const maxManifestBytes = 4 * 1024 * 1024;

/** A manifest or index as fetched and verified. */
export interface FetchedManifest {
  /** The endpoint that answered; later requests for this image go there too. */
  readonly endpoint: RegistryEndpoint;
  /** `sha256:<hex>` of `body`. */
  readonly digest: string;
  /** The Content-Type the registry sent (without parameters). */
  readonly mediaType: string;
  readonly body: Buffer;
}

/** A failure talking to a registry; `message` is in containerd's words, `notFound` tells 404 apart. */
export class RegistryError extends Error {
  constructor(message: string, readonly notFound = false) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** Options of RegistryClient. */
export interface RegistryClientOptions {
  /** Mirrors, TLS and credentials (registries.yaml); default none. */
  readonly registries?: RegistriesConfig;
  readonly log?: Logger;
  /** Timeout of one manifest or token request, and of waiting for a blob's response headers (default 30 s). */
  readonly timeoutMs?: number;
}

/** `sha256:<hex>` of a buffer. */
export function sha256Digest(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** The registry's own error texts from a JSON error body (`manifest unknown: manifest unknown`), or ''. */
function registryErrors(text: string): string {
  try {
    const doc = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    return (doc.errors ?? [])
      .map((e) => [e.code?.toLowerCase().replace(/_/g, ' '), e.message].filter(Boolean).join(': '))
      .filter(Boolean)
      .join('; ');
  } catch {
    return '';
  }
}

/** Pulls manifests and blobs from the endpoints a reference resolves to. */
export class RegistryClient {
  readonly #registries: RegistriesConfig;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #auth = new RegistryAuthorizer();
  readonly #dispatchers = new Map<string, Agent>();

  constructor(o: RegistryClientOptions = {}) {
    this.#registries = o.registries ?? {};
    this.#log = o.log ?? silentLogger;
    this.#timeoutMs = o.timeoutMs ?? 30_000;
  }

  /** Closes pooled connections of custom-TLS endpoints. */
  async close(): Promise<void> {
    await Promise.all([...this.#dispatchers.values()].map((d) => d.close()));
    this.#dispatchers.clear();
  }

  /**
   * Fetches the manifest (or index) `ref` names, trying each endpoint in order as containerd does: a 404 moves
   * on quietly, other failures are remembered and the first one is reported when no endpoint has it.
   */
  async resolve(ref: ImageReference): Promise<FetchedManifest> {
    const reference = ref.digest ?? ref.tag ?? 'latest';
    let firstError: RegistryError | undefined;
    let notFoundDetail = '';
    for (const ep of endpointsFor(this.#registries, ref.domain, ref.path)) {
      try {
        return await this.fetchManifest(ep, reference, ref.digest);
      } catch (e) {
        if (!(e instanceof RegistryError)) throw e;
        this.#log.debug('trying next host', { host: ep.host, ref: ref.canonical, error: e.message });
        if (e.notFound) notFoundDetail ||= e.message;
        else firstError ??= e;
      }
    }
    throw firstError ?? new RegistryError(`${ref.canonical}: not found${notFoundDetail ? `: ${notFoundDetail}` : ''}`, true);
  }

  /**
   * GETs `/v2/<path>/manifests/<reference>` at one endpoint and verifies it: the body's sha256 must equal the
   * `Docker-Content-Digest` header when one is sent, and `expectDigest` when pulling by digest.
   */
  async fetchManifest(ep: RegistryEndpoint, reference: string, expectDigest?: string): Promise<FetchedManifest> {
    const url = this.#url(ep, `manifests/${reference}`);
    const res = await this.#request(ep, url, { Accept: manifestAccept }, true);
    const body = await readLimited(res, maxManifestBytes, url);
    const digest = sha256Digest(body);
    const header = res.headers.get('docker-content-digest');
    if (header && header !== digest) {
      throw new RegistryError(`manifest digest mismatch for ${ep.path}:${reference}: the registry sent Docker-Content-Digest ${header} but the content is ${digest}`);
    }
    if (expectDigest && expectDigest !== digest) {
      throw new RegistryError(`manifest digest mismatch for ${ep.path}@${expectDigest}: content is ${digest}`);
    }
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    return { endpoint: ep, digest, mediaType, body };
  }

  /** GETs a blob at the endpoint that served its manifest; the caller streams and verifies `body`. */
  async fetchBlob(ep: RegistryEndpoint, digest: string): Promise<Response> {
    return this.#request(ep, this.#url(ep, `blobs/${digest}`), {}, false);
  }

  #url(ep: RegistryEndpoint, rest: string): string {
    const u = new URL(`${ep.base}/${ep.path}/${rest}`);
    if (ep.mirror) u.searchParams.set('ns', ep.registry);
    return u.toString();
  }

  /** One GET with auth retry; returns a 2xx response or throws a RegistryError worded like containerd's. */
  async #request(ep: RegistryEndpoint, url: string, headers: Record<string, string>, bounded: boolean): Promise<Response> {
    const scope = pullScope(ep.path);
    const fetchFn = (u: string, init: RequestInit): Promise<Response> => this.#fetch(ep, u, init);
    for (let attempt = 0; ; attempt++) {
      const h: Record<string, string> = { ...headers, 'User-Agent': 'skiff/0.1' };
      const authz = this.#auth.header(ep.host, scope, ep.auth);
      if (authz) h['Authorization'] = authz;
      let res: Response;
      // Manifests get a whole-request timeout (the signal also bounds reading the body). A blob only gets one until
      // its headers arrive: its body may take long, and the puller abandons a body that stops moving instead.
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(Object.assign(new Error('timeout'), { name: 'TimeoutError' })), this.#timeoutMs);
      try {
        res = await fetchFn(url, { headers: h, redirect: 'follow', signal: bounded ? AbortSignal.timeout(this.#timeoutMs) : ac.signal });
      } catch (e) {
        throw new RegistryError(`failed to do request: ${describeFetchError(e, 'Get', url)}`);
      } finally {
        clearTimeout(timer);
      }
      if (res.ok) return res;
      const text = await res.text().catch(() => '');
      if (res.status === 401 && attempt === 0) {
        let retry: boolean;
        try {
          retry = await this.#auth.answer(ep.host, scope, ep.auth, res.headers.get('www-authenticate'), fetchFn);
        } catch (e) {
          throw new RegistryError((e as Error).message);
        }
        if (retry) continue;
      }
      const detail = registryErrors(text);
      if (res.status === 404) throw new RegistryError(detail, true);
      if (res.status === 401 || res.status === 403) {
        throw new RegistryError(`pull access denied, repository does not exist or may require authorization: ${detail ? `server message: ${detail}` : `${res.status} ${res.statusText}`}`);
      }
      throw new RegistryError(`unexpected status from GET request to ${url}: ${res.status} ${res.statusText}${detail ? `: ${detail}` : ''}`);
    }
  }

  #fetch(ep: RegistryEndpoint, url: string, init: RequestInit): Promise<Response> {
    const dispatcher = this.#dispatcherFor(ep.host, ep.tls);
    // Node's fetch takes an undici dispatcher for per-host TLS; the types of the bundled copy differ only nominally.
    return fetch(url, dispatcher ? ({ ...init, dispatcher } as RequestInit) : init);
  }

  #dispatcherFor(host: string, tls: RegistryTlsConfig | undefined): Agent | undefined {
    if (!tls || (!tls.insecure_skip_verify && !tls.ca_file && !tls.cert_file)) return undefined;
    let d = this.#dispatchers.get(host);
    if (!d) {
      d = new Agent({
        connect: {
          rejectUnauthorized: !tls.insecure_skip_verify,
          ...(tls.ca_file ? { ca: readFileSync(tls.ca_file) } : {}),
          ...(tls.cert_file ? { cert: readFileSync(tls.cert_file) } : {}),
          ...(tls.key_file ? { key: readFileSync(tls.key_file) } : {}),
        },
      });
      this.#dispatchers.set(host, d);
    }
    return d;
  }
}

async function readLimited(res: Response, limit: number, url: string): Promise<Buffer> {
  const len = Number(res.headers.get('content-length') ?? '0');
  if (len > limit) {
    await res.body?.cancel();
    throw new RegistryError(`manifest at ${url} is ${len} bytes, more than the ${limit} allowed`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body ?? []) {
      total += (chunk as Uint8Array).length;
      if (total > limit) throw new RegistryError(`manifest at ${url} is more than the ${limit} bytes allowed`);
      chunks.push(Buffer.from(chunk as Uint8Array));
    }
  } catch (e) {
    if (e instanceof RegistryError) throw e;
    throw new RegistryError(`failed to read manifest: ${describeFetchError(e, 'Get', url)}`);
  }
  return Buffer.concat(chunks);
}

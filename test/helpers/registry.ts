import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { skopeo } from './test-images.js';

/**
 * A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on a free loopback port with its own
 * storage directory, no auth. Plus small HTTP fronts to put before it: one that asks for bearer tokens, one that
 * corrupts blobs, both counting requests. Everything is stopped and removed by `stop()`/`close()`; call them from
 * `after()` so a failing test cleans up too.
 */

/** A running registry. */
export interface TestRegistry {
  /** `127.0.0.1:<port>`: the registry part of image names. */
  readonly host: string;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /**
   * Copies `oci:<layout>:<tag>` to `<host>/<dest>` (dest = `name:tag`) with skopeo; `v2s2` stores Docker media types
   * instead of OCI ones.
   */
  push(layout: string, tag: string, dest: string, format?: 'oci' | 'v2s2'): Promise<void>;
  /**
   * Puts a multi-platform index (OCI, or a Docker manifest list with `docker`) at `name:tag`, whose entries are
   * manifests already pushed to `name` under the given tags, each declared for the given platform. Returns its digest.
   */
  pushIndex(name: string, tag: string, entries: readonly { readonly tag: string; readonly architecture: string; readonly os?: string; readonly variant?: string }[], docker?: boolean): Promise<string>;
  /** Digest of the manifest at `name:tag` (as the registry reports it). */
  manifestDigest(name: string, tag: string): Promise<string>;
  /** Kills the registry (it can be started again on the same port and storage with `restart`). */
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** Kills the registry and removes its storage. */
  stop(): Promise<void>;
}

const accept = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** A free TCP port on 127.0.0.1 (there is a small race until someone binds it; callers retry). */
export async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((res, rej) => { srv.once('error', rej); srv.listen(0, '127.0.0.1', () => res()); });
  const addr = srv.address();
  await new Promise<void>((res) => srv.close(() => res()));
  if (typeof addr !== 'object' || addr === null) throw new Error('no port');
  return addr.port;
}

/** Resolves once GET /v2/ answers 200, or rejects after `ms`, or when the process exits first. */
async function waitReady(url: string, proc: ChildProcess, ms: number, output: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`docker-registry exited (${proc.exitCode ?? proc.signalCode}): ${output()}`);
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch { /* not listening yet */ }
    await sleep(25);
  }
  throw new Error(`docker-registry at ${url} not ready after ${ms} ms: ${output()}`);
}

async function killProc(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((res) => proc.once('exit', () => res()));
  proc.kill('SIGKILL');
  await exited;
}

/** Starts `docker-registry serve` on a free port with a fresh storage directory. */
export async function startRegistry(): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-registry-'));
  let proc: ChildProcess | undefined;
  let port = 0;
  let output = '';
  const launch = async (): Promise<void> => {
    writeFileSync(join(dir, 'config.yml'), [
      'version: 0.1',
      'log: { level: error, accesslog: { disabled: true }, fields: { service: registry } }',
      `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }`,
      `http: { addr: "127.0.0.1:${port}", headers: { X-Content-Type-Options: [nosniff] } }`,
      '',
    ].join('\n'));
    output = '';
    proc = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const p = proc;
    p.stdout?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000); });
    p.stderr?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000); });
    const spawnError = new Promise<never>((_, rej) => p.once('error', (e) => rej(new Error(`docker-registry: ${e.message} (install the Debian package "docker-registry")`))));
    await Promise.race([waitReady(`http://127.0.0.1:${port}`, p, 10_000, () => output), spawnError]);
  };
  try {
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      try {
        await launch();
        break;
      } catch (e) {
        await killProc(proc);
        // Someone took the port between freePort() and the registry's bind: try another.
        if (attempt >= 3 || !/address already in use/.test(String((e as Error).message))) throw e;
      }
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  // If the test process dies without running after(), do not leave a registry or its storage behind.
  const onExit = (): void => {
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;

  const head = async (name: string, ref: string): Promise<{ digest: string; size: number; mediaType: string }> => {
    const res = await fetch(`${url}/v2/${name}/manifests/${ref}`, { method: 'HEAD', headers: { Accept: accept } });
    if (!res.ok) throw new Error(`HEAD ${name}:${ref}: ${res.status}`);
    return { digest: res.headers.get('docker-content-digest') ?? '', size: Number(res.headers.get('content-length')), mediaType: (res.headers.get('content-type') ?? '').split(';')[0]! };
  };

  return {
    host,
    url,
    async push(layout, tag, dest, format = 'oci') {
      await skopeo(['copy', '--quiet', '--dest-tls-verify=false', ...(format === 'v2s2' ? ['--format', 'v2s2'] : []), `oci:${layout}:${tag}`, `docker://${host}/${dest}`]);
    },
    async pushIndex(name, tag, entries, docker = false) {
      const manifests = [];
      for (const e of entries) {
        const m = await head(name, e.tag);
        manifests.push({ mediaType: m.mediaType, digest: m.digest, size: m.size, platform: { architecture: e.architecture, os: e.os ?? 'linux', ...(e.variant ? { variant: e.variant } : {}) } });
      }
      const mediaType = docker ? 'application/vnd.docker.distribution.manifest.list.v2+json' : 'application/vnd.oci.image.index.v1+json';
      const body = JSON.stringify({ schemaVersion: 2, mediaType, manifests });
      const res = await fetch(`${url}/v2/${name}/manifests/${tag}`, { method: 'PUT', headers: { 'Content-Type': mediaType }, body });
      const text = await res.text();
      if (res.status !== 201) throw new Error(`PUT index ${name}:${tag}: ${res.status} ${text}`);
      return res.headers.get('docker-content-digest') ?? '';
    },
    async manifestDigest(name, tag) {
      return (await head(name, tag)).digest;
    },
    async kill() {
      await killProc(proc);
    },
    async restart() {
      await killProc(proc);
      await launch();
    },
    async stop() {
      process.removeListener('exit', onExit);
      await killProc(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One request a front saw. */
export interface FrontRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly authorization?: string;
}

/** An HTTP server in front of a registry. */
export interface RegistryFront {
  /** `127.0.0.1:<port>`, to use as the registry part of image names. */
  readonly host: string;
  /** `http://` or `https://` and the host. */
  readonly url: string;
  /** Every request, in order (token requests included). */
  readonly requests: FrontRequest[];
  close(): Promise<void>;
}

/** How a front behaves. */
export interface FrontOptions {
  /**
   * Require `Authorization: Bearer <token>` on /v2/ requests, answering 401 with a Bearer challenge whose realm is
   * the front's `/token` endpoint. With `username`, the token endpoint itself requires those basic credentials.
   */
  readonly bearer?: { readonly token: string; readonly service?: string; readonly username?: string; readonly password?: string };
  /** Flip one byte in the body of every blob response whose digest this returns true for (same length, wrong digest). */
  readonly corruptBlob?: (digest: string) => boolean;
  /** Require these basic credentials on /v2/ requests (401 with a Basic challenge otherwise). */
  readonly basic?: { readonly username: string; readonly password: string };
  /** Answer blob GETs with a 307 redirect to the registry itself (another origin), as registries on S3 do. */
  readonly redirectBlobs?: boolean;
  /** Serve HTTPS with this PEM key and certificate instead of plain HTTP. */
  readonly tls?: { readonly key: string; readonly cert: string };
}

/** Starts an HTTP front proxying to `target` (a registry URL) on a free loopback port. */
export async function startFront(target: string, o: FrontOptions = {}): Promise<RegistryFront> {
  const requests: FrontRequest[] = [];
  let self = '';
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? '/';
    const record = (status: number): void => {
      requests.push({ method: req.method ?? 'GET', path, status, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    };
    if (o.bearer && path.startsWith('/token')) {
      if (o.bearer.username !== undefined) {
        const want = `Basic ${Buffer.from(`${o.bearer.username}:${o.bearer.password ?? ''}`).toString('base64')}`;
        if (req.headers.authorization !== want) {
          record(401);
          res.writeHead(401, { 'Content-Type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
          return;
        }
      }
      record(200);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: o.bearer.token, expires_in: 300 }));
      return;
    }
    if (o.bearer && path.startsWith('/v2/') && req.headers.authorization !== `Bearer ${o.bearer.token}`) {
      const name = /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(path)?.[1];
      const scope = name ? `,scope="repository:${name}:pull"` : '';
      record(401);
      res.writeHead(401, {
        'Content-Type': 'application/json',
        'WWW-Authenticate': `Bearer realm="${self}/token",service="${o.bearer.service ?? 'skiff-test'}"${scope}`,
      }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    if (o.basic && path.startsWith('/v2/') && req.headers.authorization !== `Basic ${Buffer.from(`${o.basic.username}:${o.basic.password}`).toString('base64')}`) {
      record(401);
      res.writeHead(401, { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Basic realm="skiff-test"' })
        .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    if (o.redirectBlobs && req.method === 'GET' && /\/blobs\/sha256:/.test(path)) {
      record(307);
      res.writeHead(307, { Location: `${target}${path}` }).end();
      return;
    }
    const upstream = httpRequest(`${target}${path}`, { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (up) => {
      const digest = /\/blobs\/(sha256:[a-f0-9]{64})/.exec(path)?.[1];
      record(up.statusCode ?? 0);
      if (digest && o.corruptBlob?.(digest) && up.statusCode === 200 && req.method === 'GET') {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const body = Buffer.concat(chunks);
          if (body.length > 0) body[Math.floor(body.length / 2)]! ^= 0xff;
          res.writeHead(200, up.headers).end(body);
        });
        return;
      }
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (e) => {
      record(502);
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(String(e));
    });
    req.pipe(upstream);
  };
  const server: Server = o.tls ? createHttpsServer({ key: o.tls.key, cert: o.tls.cert }, handler) : createHttpServer(handler);
  await new Promise<void>((res, rej) => { server.once('error', rej); server.listen(0, '127.0.0.1', () => res()); });
  const addr = server.address();
  if (typeof addr !== 'object' || addr === null) throw new Error('front has no address');
  const host = `127.0.0.1:${addr.port}`;
  self = `${o.tls ? 'https' : 'http'}://${host}`;
  return {
    host,
    url: self,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}

/** A throw-away self-signed certificate for 127.0.0.1 (openssl), for HTTPS fronts. */
export function selfSignedCert(dir: string): { key: string; cert: string } {
  const key = join(dir, 'tls.key');
  const cert = join(dir, 'tls.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

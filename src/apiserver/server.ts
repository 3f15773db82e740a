import https from 'node:https';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { AddressInfo } from 'node:net';
import type { Store } from '../store/store.js';
import { EndpointsReconciler } from './endpoints-reconciler.js';
import { WatchCache } from '../store/watch-cache.js';
import type { ResourceDefinition } from '../api/resource.js';
import { builtinResources } from '../api/kinds/index.js';
import { ApiError, internalError, notFoundPath, serviceUnavailable, unauthorized } from '../api/status.js';
import type { KubeObject } from '../api/types.js';
import { realClock, type Clock } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/log.js';
import { decode } from './registry/codec.js';
import { RestStore, type Admission } from './registry/rest-store.js';
import { parseRequestPath, type ResourceRequest } from './request-info.js';
import { handleResource } from './handlers/resources.js';
import type { KubeletClientTLS } from './handlers/pod-node.js';
import { proxyPodStream, refuseUpgrade } from './handlers/pod-stream-proxy.js';
import type { Duplex } from 'node:stream';
import { decodeBody, readBody, sendError, sendJSON } from './http.js';
import {
  aggregatedDiscovery, aggregatedType, apiGroupDoc, apiGroupList, apiResourceList, apiVersions, wantsAggregated,
} from './discovery.js';
import { OpenAPIDocuments } from './openapi.js';
import { serveOpenAPIV2 } from './openapi-v2/index.js';
import { identityFromSubject, type CertIdentity } from './pki.js';
import { ServiceAllocator } from './admission/service-ips.js';
import { Compactor } from './compactor.js';

/** The Kubernetes version skiff reports: minor 32 makes the kubectl dispatcher run its 1.32 client. */
export const serverVersion = {
  major: '1', minor: '32', gitVersion: 'v1.32.0+skiff', gitCommit: 'skiff', gitTreeState: 'clean',
  buildDate: '2026-11-01T00:00:00Z', goVersion: 'node', compiler: 'skiff', platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
};

export interface ApiServerOptions {
  readonly store: Store;
  readonly log?: Logger;
  readonly clock?: Clock;
  /** Serving certificate, key and the CA that signs client certificates. Omit all three for plain HTTP (tests of the wire only). */
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca: string };
  /** Bearer tokens and who they authenticate as. */
  readonly tokens?: ReadonlyMap<string, CertIdentity>;
  readonly resources?: readonly ResourceDefinition[];
  /** Service ClusterIP range (default 10.43.0.0/16). */
  readonly serviceCIDR?: string;
  /** Compact history every this many ms (default 5 minutes; 0 disables). */
  readonly compactIntervalMs?: number;
  /** Events each watch cache keeps for resuming watches (default 10,000). */
  readonly watchCacheSize?: number;
  /** The address other machines and pods reach this server at (the `kubernetes` Service's endpoint). */
  readonly advertiseAddress?: string;
  /** The client certificate for calling node agents (pods/log), and the CA their serving certificates chain to. */
  readonly kubeletClient?: KubeletClientTLS;
  /** Paths served outside the API that authenticate by themselves (a node joining with a token, the CA for it). */
  readonly extraRoutes?: ReadonlyMap<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>>;
  /** Whether a client certificate of `user` issued at `notBefore` (ms) was revoked (a deleted node's). */
  readonly certificateRevoked?: (user: string, groups: readonly string[], notBefore: number) => boolean;
  /** Refuses a resource request with a reason, or allows it (undefined). */
  readonly authorize?: Authorizer;
}

/** What an authorizer sees of a request. */
export interface AuthorizationRequest {
  readonly user: RequestUser;
  readonly verb: string;
  readonly info: ResourceRequest;
  /** The stored object a write on a named object would change, when there is one. */
  readonly existing: () => Promise<unknown>;
  /** The pods of a namespace, as this server's cache holds them. */
  readonly pods: (namespace: string) => readonly Pod[];
  /** The request's body, decoded (for a create: the object to be created); a malformed one answers 400. */
  readonly body: () => Promise<unknown>;
}

export type Authorizer = (r: AuthorizationRequest) => Promise<string | undefined>;

/** Who made a request. */
export interface RequestUser {
  readonly name: string;
  readonly groups: readonly string[];
}

/** Who each client-certificate connection authenticated as, and when its certificate was issued. */
const peerUsers = new WeakMap<object, { user: RequestUser; notBefore: number } | null>();

const publicPaths = new Set(['/version', '/healthz', '/livez', '/readyz']);

/**
 * The Kubernetes API server: authenticates, routes and answers requests from the real kubectl and
 * client libraries, serving reads from per-resource watch caches and writing through the store.
 */
export class ApiServer {
  readonly #opts: ApiServerOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #resources: readonly ResourceDefinition[];
  readonly #caches = new Map<string, WatchCache<KubeObject>>();
  readonly #stores = new Map<string, RestStore>();
  readonly #openapi: OpenAPIDocuments;
  readonly #compactor: Compactor;
  #server: http.Server | undefined;
  #allocator: ServiceAllocator | undefined;
  #endpoints: EndpointsReconciler | undefined;
  #storeCheck: { at: number; ok: Promise<boolean> } | undefined;
  #ready = false;
  #address = '';

  constructor(opts: ApiServerOptions) {
    this.#opts = opts;
    this.#log = opts.log ?? silentLogger;
    this.#clock = opts.clock ?? realClock;
    this.#resources = opts.resources ?? builtinResources;
    this.#openapi = new OpenAPIDocuments(this.#resources);
    this.#compactor = new Compactor(opts.store, this.#clock, this.#log, opts.compactIntervalMs);
    for (const def of this.#resources) {
      let cache = this.#caches.get(def.storagePrefix);
      if (!cache) {
        cache = new WatchCache<KubeObject>(opts.store, def.storagePrefix, decode, { log: this.#log, historySize: opts.watchCacheSize });
        this.#caches.set(def.storagePrefix, cache);
      }
    }
    const nsCache = this.#caches.get('/registry/namespaces/');
    const namespace = (name: string): KubeObject | undefined => nsCache?.get(`/registry/namespaces/${name}`)?.obj;
    const admissions = new Map<string, Admission>();
    const svcCache = this.#caches.get('/registry/services/specs/');
    if (svcCache) {
      this.#allocator = new ServiceAllocator(svcCache, opts.serviceCIDR);
      admissions.set('/registry/services/specs/', this.#allocator);
    }
    for (const def of this.#resources) {
      this.#stores.set(`${def.group}/${def.version}/${def.plural}`, new RestStore(def, {
        store: opts.store, cache: this.#caches.get(def.storagePrefix)!, clock: this.#clock, log: this.#log, namespace,
        admission: admissions.get(def.storagePrefix),
      }));
    }
  }

  /** The RestStore serving a resource, for in-process bootstrapping. */
  restStore(group: string, version: string, plural: string): RestStore | undefined {
    return this.#stores.get(`${group}/${version}/${plural}`);
  }

  /** Fills the caches, creates the system namespaces, then listens. Resolves when requests can be served. */
  async start(port: number, host = '0.0.0.0'): Promise<void> {
    await Promise.all([...this.#caches.values()].map((c) => c.start()));
    const handler = (req: IncomingMessage, res: ServerResponse): void => { void this.#handle(req, res); };
    const tls = this.#opts.tls;
    this.#server = tls
      ? https.createServer({ cert: tls.cert, key: tls.key, ca: [tls.ca], requestCert: true, rejectUnauthorized: false, keepAliveTimeout: 65_000 }, handler)
      : http.createServer({ keepAliveTimeout: 65_000 }, handler);
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => { void this.#upgrade(req, socket, head); });
    // Watches are long-lived: no per-request timeout.
    this.#server.requestTimeout = 0;
    this.#server.headersTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      this.#server!.once('error', reject);
      this.#server!.listen(port, host, () => { this.#server!.off('error', reject); resolve(); });
    });
    const addr = this.#server.address() as AddressInfo;
    this.#address = `${addr.address}:${addr.port}`;
    await this.#bootstrap(addr.port);
    this.#compactor.start();
    this.#ready = true;
  }

  /** The port actually bound (useful with port 0). */
  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? 0;
  }

  /** Creates an object unless it exists already (bootstrapping is idempotent across restarts). */
  async #ensure(plural: string, obj: KubeObject): Promise<void> {
    const rest = this.restStore('', 'v1', plural)!;
    if (this.#caches.get(rest.def.storagePrefix)!.get(rest.key(obj.metadata.namespace, obj.metadata.name!))) return;
    try {
      await rest.createDecoded(obj, { dryRun: false, fieldManager: 'skiff', fieldValidation: 'Strict', warnings: [] });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 409)) throw e;
    }
  }

  /** The system namespaces, and the `kubernetes` Service pointing at this server, as a cluster has them. */
  async #bootstrap(port: number): Promise<void> {
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      await this.#ensure('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    }
    if (!this.#opts.advertiseAddress) return;
    const labels = { component: 'apiserver', provider: 'kubernetes' };
    await this.#ensure('services', {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'kubernetes', namespace: 'default', labels },
      spec: { type: 'ClusterIP', clusterIP: this.#allocator?.firstIP, ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: port }], sessionAffinity: 'None' },
    });
    this.#endpoints = new EndpointsReconciler({ store: this.#opts.store, endpoints: this.restStore('', 'v1', 'endpoints')!, ip: this.#opts.advertiseAddress, port, log: this.#log });
    await this.#endpoints.start();
  }

  async close(): Promise<void> {
    this.#ready = false;
    await this.#endpoints?.stop();
    this.#compactor.stop();
    for (const c of this.#caches.values()) c.stop();
    if (this.#server) {
      const s = this.#server;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  #authenticate(req: IncomingMessage): RequestUser | undefined {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) {
      const id = this.#opts.tokens?.get(auth.slice(7).trim());
      if (id) return { name: id.user, groups: [...id.groups, 'system:authenticated'] };
      return undefined;
    }
    const socket = req.socket as TLSSocket;
    if (socket.encrypted && socket.authorized) {
      // The certificate is fixed for the life of the connection; decoding it per request cost more than the request.
      let peer = peerUsers.get(socket);
      if (peer === undefined) {
        const cert = socket.getPeerCertificate();
        const id = cert?.subject ? identityFromSubject(cert.subject as unknown as Record<string, string | string[]>) : undefined;
        peer = id ? { user: { name: id.user, groups: [...id.groups, 'system:authenticated'] }, notBefore: Date.parse(cert.valid_from) } : null;
        peerUsers.set(socket, peer);
      }
      // Checked on every request: a revoked node must not go on over a connection it opened before.
      if (peer && !this.#opts.certificateRevoked?.(peer.user.name, peer.user.groups, peer.notBefore)) return peer.user;
    }
    if (!this.#opts.tls) return { name: 'system:anonymous', groups: ['system:unauthenticated'] };
    return undefined;
  }

  /** Upgrade requests: `pods/{name}/exec` (and its kin) relayed to the pod's node; anything else refused. */
  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://skiff');
    socket.on('error', () => socket.destroy());
    try {
      const user = this.#authenticate(req);
      if (!user) throw unauthorized();
      const info = parseRequestPath(url.pathname);
      if (info.kind !== 'resource' || info.group !== '' || info.resource !== 'pods' || !info.namespace || !info.name || !info.subresource) throw notFoundPath();
      // Streams are asked for with GET (WebSocket) or POST (SPDY); either way they create a session.
      if (this.#opts.authorize) await this.#authorize(req, url, user, info, 'create');
      await proxyPodStream(req, socket, head, this.#stores.get('/v1/pods')!, this.#stores.get('/v1/nodes')!, this.#opts.kubeletClient,
        info.namespace, info.name, info.subresource, url.searchParams);
    } catch (e) {
      const err = e instanceof ApiError ? e : internalError((e as Error).message);
      if (!(e instanceof ApiError)) this.#log.error('upgrade failed', { path: url.pathname, err: e as Error });
      refuseUpgrade(socket, err);
    }
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = this.#clock.now();
    const url = new URL(req.url ?? '/', 'https://skiff');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    try {
      const extra = this.#opts.extraRoutes?.get(path);
      if (extra) return await extra(req, res);
      const user = this.#authenticate(req);
      if (!user && !(req.method === 'GET' && publicPaths.has(path))) {
        req.resume();
        throw unauthorized();
      }
      await this.#route(req, res, path, url, user);
    } catch (e) {
      if (e instanceof ApiError) {
        sendError(res, e);
      } else {
        this.#log.error('request failed', { method: req.method, path, err: e as Error });
        sendError(res, internalError((e as Error).message));
      }
    } finally {
      this.#log.debug('request', { method: req.method, path: url.pathname, code: res.statusCode, ms: this.#clock.now() - started });
    }
  }

  async #route(req: IncomingMessage, res: ServerResponse, path: string, url: URL, user: RequestUser | undefined): Promise<void> {
    const method = req.method ?? 'GET';
    switch (path) {
      case '/version': return sendJSON(res, 200, serverVersion);
      case '/healthz': case '/livez': case '/readyz':
        if (!this.#ready) throw serviceUnavailable('not ready');
        // Ready includes the store, as kube-apiserver's etcd check: a server cut off from its datastore should
        // lose its clients to one that is not (the agents' load balancers follow /readyz).
        if (path === '/readyz' && !(await this.#storeReachable())) {
          res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
          res.end('[-]etcd failed: reason withheld\nreadyz check failed\n');
          return;
        }
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
        res.end('ok');
        return;
      case '/api': case '/apis': {
        if (method !== 'GET') throw notFoundPath();
        const agg = wantsAggregated(req.headers.accept);
        if (agg) return sendJSON(res, 200, aggregatedDiscovery(this.#resources, path === '/api', agg), { 'Content-Type': aggregatedType(agg) });
        return sendJSON(res, 200, path === '/api' ? apiVersions(this.#address) : apiGroupList(this.#resources));
      }
      case '/openapi/v3': return sendJSON(res, 200, this.#openapi.root());
      case '/openapi/v2': return serveOpenAPIV2(req, res, this.#resources);
    }
    if (path.startsWith('/openapi/v3/')) {
      const doc = this.#openapi.document(path.slice('/openapi/v3/'.length));
      if (!doc) throw notFoundPath();
      const cache = url.searchParams.get('hash') === doc.hash ? { 'Cache-Control': 'public, immutable', Etag: `"${doc.hash}"` } : { 'Cache-Control': 'no-cache, private', Etag: `"${doc.hash}"` };
      return sendJSON(res, 200, doc.body, cache);
    }
    const parts = path.split('/').filter(Boolean);
    if (parts[0] === 'apis' && parts.length === 2) {
      const doc = apiGroupDoc(this.#resources, parts[1]!);
      if (!doc) throw notFoundPath();
      return sendJSON(res, 200, doc);
    }
    if ((parts[0] === 'api' && parts.length === 2) || (parts[0] === 'apis' && parts.length === 3)) {
      const doc = parts[0] === 'api' ? apiResourceList(this.#resources, '', parts[1]!) : apiResourceList(this.#resources, parts[1]!, parts[2]!);
      if (!doc) throw notFoundPath();
      return sendJSON(res, 200, doc);
    }
    const info = parseRequestPath(path);
    if (info.kind !== 'resource') throw notFoundPath();
    if (user && this.#opts.authorize) await this.#authorize(req, url, user, info);
    await handleResource(req, res, info, url, {
      clock: this.#clock,
      store: (g, v, r) => this.#stores.get(`${g}/${v}/${r}`),
      ...(this.#opts.kubeletClient ? { kubeletClient: this.#opts.kubeletClient } : {}),
    });
  }

  /** Whether the store answered a read of its revision within 2 s; one check serves every probe within a second. */
  #storeReachable(): Promise<boolean> {
    const now = this.#clock.now();
    if (this.#storeCheck && now - this.#storeCheck.at < 1000) return this.#storeCheck.ok;
    const ok = Promise.race([
      this.#opts.store.currentRev().then(() => true, () => false),
      new Promise<boolean>((resolve) => this.#clock.setTimeout(() => resolve(false), 2000)),
    ]);
    this.#storeCheck = { at: now, ok };
    return ok;
  }

  /** Asks the authorizer; a refusal is upstream's 403 wording with the authorizer's reason. */
  async #authorize(req: IncomingMessage, url: URL, user: RequestUser, info: ResourceRequest, verbOverride?: string): Promise<void> {
    const method = req.method ?? 'GET';
    const watch = info.legacyWatch || url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const verb = verbOverride ?? (method === 'GET' ? (info.name ? 'get' : watch ? 'watch' : 'list')
      : method === 'POST' ? 'create' : method === 'PUT' ? 'update' : method === 'PATCH' ? 'patch'
        : method === 'DELETE' ? (info.name ? 'delete' : 'deletecollection') : method.toLowerCase());
    const store = this.#stores.get(`${info.group}/${info.version}/${info.resource}`);
    const reason = await this.#opts.authorize!({
      user, verb, info,
      existing: async () => (store && info.name ? store.get(info.namespace, info.name).catch(() => undefined) : undefined),
      pods: (namespace) => (this.#caches.get('/registry/pods/')?.list(`/registry/pods/${namespace}/`) ?? []).map((e) => e.obj as Pod),
      body: async () => decodeBody(await readBody(req), req.headers['content-type']),
    });
    if (reason === undefined) return;
    req.resume();
    const resource = info.subresource ? `${info.resource}/${info.subresource}` : info.resource;
    const target = `${info.resource}${info.group ? `.${info.group}` : ''}${info.name ? ` "${info.name}"` : ''}`;
    const scope = info.namespace ? ` in the namespace "${info.namespace}"` : info.name ? '' : ' at the cluster scope';
    throw new ApiError(403, 'Forbidden', `${target} is forbidden: User "${user.name}" cannot ${verb} resource "${resource}" in API group "${info.group}"${scope}: ${reason}`,
      { ...(info.name ? { name: info.name } : {}), group: info.group, kind: info.resource });
  }
}

/** Upstream's compaction cadence, exported for the CLI's flags. */
export { Compactor };

import type { IncomingMessage, ServerResponse } from 'node:http';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Node, Secret } from 'kubernetes-types/core/v1.js';
import { ApiError, badRequest, unauthorized } from '../api/status.js';
import type { RestClient } from '../client/rest-client.js';
import type { KubeObject } from '../api/types.js';
import { isDNS1123Subdomain } from '../api/validation/names.js';
import { Informer } from '../client/informer.js';
import { bootstrapSecretName, checkBootstrapToken } from '../api/bootstrap-token.js';
import type { Logger } from '../util/log.js';
import { readBody, sendError, sendJSON } from './http.js';
import type { ClusterCA } from './pki.js';

/** What a joining node asks for. */
export interface JoinRequest {
  readonly nodeName: string;
  /** Addresses its streaming port is reached at (the serving certificate's SANs). */
  readonly addresses: readonly string[];
}

/** What it gets: the cluster CA, its client identity and its streaming port's serving certificate. */
export interface JoinResponse {
  readonly ca: string;
  readonly client: { readonly cert: string; readonly key: string };
  readonly serving: { readonly cert: string; readonly key: string };
}

export const JOIN_PATH = '/skiff/v1/join';
/** The group of credentials issued by joining: only those are revoked with their Node (the server's own agent re-registers as kubelet does). */
export const JOINED_NODES_GROUP = 'skiff:joined-nodes';
export const CACERTS_PATH = '/cacerts';

/**
 * Revoked node credentials: deleting a Node revokes every certificate issued to it before that moment,
 * as a node's removal should (kubelet credentials outliving their Node are a known upstream gap). Kept
 * in a file of the server's, so a restart does not bring revoked nodes back.
 */
export class NodeRevocations {
  readonly #revokedAt = new Map<string, number>();
  readonly #file: string;

  constructor(file: string) {
    this.#file = file;
    if (existsSync(file)) {
      for (const [node, at] of Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>)) this.#revokedAt.set(node, at);
    }
  }

  revoke(node: string, at: number): void {
    // Certificates carry whole seconds: one issued in this same second after the deletion stays valid.
    this.#revokedAt.set(node, Math.floor(at / 1000) * 1000);
    writeFileSync(this.#file, JSON.stringify(Object.fromEntries(this.#revokedAt)), { mode: 0o600 });
  }

  /** For the API server's authentication: a joined node's certificate issued before its Node was deleted. */
  revoked(user: string, groups: readonly string[], notBefore: number): boolean {
    if (!user.startsWith('system:node:') || !groups.includes(JOINED_NODES_GROUP)) return false;
    const at = this.#revokedAt.get(user.slice('system:node:'.length));
    return at !== undefined && notBefore < at;
  }
}

/**
 * Joins nodes (`skiff agent --token`): checks the bootstrap token against its Secret, refuses a name an
 * existing Node holds, and issues the node's credentials from the cluster CA. Its own calls go through
 * the API like any client's; it watches Nodes to revoke the credentials of deleted ones.
 */
export class NodeJoinService {
  readonly #nodes: Informer<Node & KubeObject>;

  constructor(private readonly o: { ca: ClusterCA; client: RestClient; revocations: NodeRevocations; log: Logger; now?: () => Date }) {
    this.#nodes = new Informer<Node & KubeObject>(o.client, { path: '/api/v1/nodes', log: o.log });
    this.#nodes.addHandlers({
      delete: (n) => {
        const name = n.metadata.name ?? '';
        o.log.info('node deleted: its credentials are revoked', { node: name });
        o.revocations.revoke(name, Date.now());
      },
    });
  }

  start(): Promise<void> { return this.#nodes.start(); }
  stop(): void { this.#nodes.stop(); }

  /** The extra routes for the API server. */
  routes(): Map<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> {
    return new Map([
      [CACERTS_PATH, async (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(this.o.ca.pair.cert);
      }],
      [JOIN_PATH, (req, res) => this.#join(req, res).catch((e: unknown) => {
        const err = e instanceof ApiError ? e : new ApiError(500, 'InternalError', (e as Error).message);
        if (!(e instanceof ApiError)) this.o.log.error('join failed', { err: e as Error });
        sendError(res, err);
      })],
    ]);
  }

  async #join(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') throw new ApiError(405, 'MethodNotAllowed', `${JOIN_PATH} takes POST`);
    const auth = req.headers.authorization ?? '';
    const m = /^Bearer ([a-z0-9]{6})\.([a-z0-9]{16})$/.exec(auth.trim());
    if (!m) throw unauthorized();
    const [, id, secret] = m as unknown as [string, string, string];
    const stored = await this.o.client.request<Secret>('GET', `/api/v1/namespaces/kube-system/secrets/${bootstrapSecretName(id)}`);
    const problem = checkBootstrapToken(stored.status === 200 ? stored.body : undefined, { id, secret }, this.o.now?.() ?? new Date());
    if (problem) throw new ApiError(401, 'Unauthorized', problem);
    let body: JoinRequest;
    try {
      body = JSON.parse((await readBody(req, 64 * 1024)).toString()) as JoinRequest;
    } catch {
      throw badRequest('the join request is not JSON');
    }
    const name = String(body.nodeName ?? '');
    if (isDNS1123Subdomain(name).length > 0) throw badRequest(`node name "${name}" is not a valid DNS-1123 subdomain`);
    const existing = await this.o.client.request<Node>('GET', `/api/v1/nodes/${name}`);
    if (existing.status === 200) {
      throw new ApiError(409, 'AlreadyExists', `node "${name}" already exists in the cluster: delete it first (kubectl delete node ${name}) to join again under that name, or choose another --node-name`);
    }
    const addresses = (Array.isArray(body.addresses) ? body.addresses : []).map(String);
    const ips = [...new Set(['127.0.0.1', ...addresses.filter((a) => isIP(a))])];
    const client = await this.o.ca.issue({ user: `system:node:${name}`, groups: ['system:nodes', JOINED_NODES_GROUP] }, { client: true }, { notBefore: new Date() });
    const serving = await this.o.ca.issue({ user: `system:node:${name}`, groups: ['system:nodes'] }, { server: { dns: [name, 'localhost'], ips } });
    this.o.log.info('node joined', { node: name, token: id });
    sendJSON(res, 200, { ca: this.o.ca.pair.cert, client, serving } satisfies JoinResponse);
  }
}

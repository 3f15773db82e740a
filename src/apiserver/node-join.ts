import type { IncomingMessage, ServerResponse } from 'node:http';
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
import { JOINED_NODES_GROUP, type NodeRevocations } from './node-revocations.js';

export { JOINED_NODES_GROUP, NodeRevocations } from './node-revocations.js';

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
export const CACERTS_PATH = '/cacerts';

/**
 * Joins nodes (`skiff agent --token`): checks the bootstrap token against its Secret, refuses a name an
 * existing Node holds, and issues the node's credentials from the cluster CA. Its own calls go through
 * the API like any client's; it watches Nodes to revoke the credentials of deleted ones (every server does, and
 * records them in the cluster: see node-revocations.ts).
 */
export class NodeJoinService {
  readonly #nodes: Informer<Node & KubeObject>;

  constructor(private readonly o: { ca: ClusterCA; client: RestClient; revocations: NodeRevocations; log: Logger; now?: () => Date }) {
    this.#nodes = new Informer<Node & KubeObject>(o.client, { path: '/api/v1/nodes', log: o.log });
    this.#nodes.addHandlers({
      delete: (n) => {
        const name = n.metadata.name ?? '';
        o.log.info('node deleted: its credentials are revoked', { node: name, uid: n.metadata.uid });
        o.revocations.revoke(name, Date.now(), n.metadata.uid);
      },
    });
  }

  /** Resolves once the cluster's revocations and its Nodes are read. */
  async start(): Promise<void> {
    await this.o.revocations.start(this.o.client);
    await this.#nodes.start();
  }

  stop(): void {
    this.#nodes.stop();
    this.o.revocations.stop();
  }

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

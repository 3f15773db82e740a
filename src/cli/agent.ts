import { parseArgs } from 'node:util';
import { hostname } from 'node:os';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { request } from 'node:https';
import type { Node } from 'kubernetes-types/core/v1.js';
import type { Status } from 'kubernetes-types/meta/v1.js';
import { RestClient } from '../client/rest-client.js';
import type { ClusterAccess } from '../client/kubeconfig.js';
import { caHash, parseJoinToken } from '../api/bootstrap-token.js';
import { CACERTS_PATH, JOIN_PATH, type JoinRequest, type JoinResponse } from '../apiserver/node-join.js';
import { createLogger, type Logger } from '../util/log.js';
import { agentPreflight, buildAgent, importDroppedImages, killAll } from './agent-setup.js';
import { parseByteQuantity, parseDuration } from './server.js';
import { ServerBalancer } from '../client/server-balancer.js';
import { loadKnownServers, ServerDiscovery } from '../client/server-discovery.js';
import { parseServerList } from './server-urls.js';

const help = `skiff agent — join a cluster as a node and run its pods

Usage:
  skiff agent --server https://HOST:6443[,https://HOST2:6443…] --token TOKEN [flags]

Flags:
  --server URL[,URL…]       the cluster's API server(s); the agent learns the others from the cluster and fails over between them
  --token TOKEN             a join token (the server's <data-dir>/token, or \`skiff token create\`)
  --token-file FILE         read the token from a file
  --node-name NAME          this node's name (default: the hostname)
  --node-ip IP              the address other nodes and the server reach this node at (default: the one it reaches the server from)
  --data-dir DIR            the agent's state: credentials, images, containers (default /var/lib/skiff-agent)
  --root-dir DIR            volumes and pod directories (default /var/lib/kubelet)
  --pod-log-dir DIR         container logs (default /var/log/pods)
  --kubelet-port N          the port for logs, exec and port-forward (default 10250, 0 picks one)
  --max-pods N              pods this node accepts (default 110)
  --node-label KEY=VALUE    a label of this node (repeatable)
  --container-log-max-size Q, --container-log-max-files N   log rotation (default 10Mi, 5)
  --node-status-update-frequency DUR   how often the node's Lease is renewed and its status posted (default 10s)

Credentials obtained by joining are kept in <data-dir>/credentials: later starts need no token. The agent
reaches the API through a load balancer on 127.0.0.1 that follows the healthy servers (kept in <data-dir>/servers.json).
`;

interface Credentials extends JoinResponse { readonly server: string; readonly nodeName: string }

/** The server did not answer at all (down, or the network not up yet): worth waiting for, or trying another. */
class ServerUnreachableError extends Error {}

/**
 * Retries `fn` while the server cannot be reached (it may be starting, or the network not up yet), as
 * k3s's agent waits for its server; any other failure (a refused token, a wrong CA) is final.
 */
async function untilReachable<T>(fn: () => Promise<T>, log: Logger): Promise<T> {
  let lastLog = 0;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof ServerUnreachableError)) throw e;
      if (Date.now() - lastLog > 10_000) {
        log.warn('waiting for the server', { err: e as Error });
        lastLog = Date.now();
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** GETs a URL of the server without trusting it yet; resolves with the body and our local address. */
function fetchUntrusted(url: string): Promise<{ body: string; localAddress: string }> {
  return new Promise((resolveFetch, reject) => {
    const req = request(url, { rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      // Read now: the socket is detached from the response once it ends.
      const localAddress = res.socket?.localAddress ?? '';
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => {
        // A server answering 5xx is starting or without its store: as good as unreachable for now.
        if (res.statusCode !== 200) reject(new ((res.statusCode ?? 0) >= 500 ? ServerUnreachableError : Error)(`${url}: HTTP ${res.statusCode}`));
        else resolveFetch({ body, localAddress });
      });
    });
    req.on('timeout', () => req.destroy(new ServerUnreachableError(`${url}: no answer within 10 s`)));
    req.on('error', (e) => reject(e instanceof ServerUnreachableError ? e : new ServerUnreachableError(`cannot reach the server at ${url}: ${e.message}`)));
    req.end();
  });
}

function postJoin(server: string, ca: string, bearer: string, body: JoinRequest): Promise<JoinResponse> {
  return new Promise((resolveJoin, reject) => {
    const req = request(`${server}${JOIN_PATH}`, {
      method: 'POST', ca, headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' }, timeout: 30_000,
    }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => {
        let parsed: unknown;
        try { parsed = JSON.parse(text); } catch { parsed = undefined; }
        if (res.statusCode === 200 && parsed) return resolveJoin(parsed as JoinResponse);
        const why = (parsed as Status | undefined)?.message ?? `HTTP ${res.statusCode} ${text}`;
        if ((res.statusCode ?? 0) >= 500) reject(new ServerUnreachableError(`the server at ${server} cannot join nodes now: ${why}`));
        else reject(new Error(`the server refused to join this node: ${why}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer to the join request within 30 s')));
    req.on('error', (e) => reject(new ServerUnreachableError(`cannot join through ${server}: ${e.message}`)));
    req.end(JSON.stringify(body));
  });
}

/**
 * Joins with a token: the token's hash pins the cluster CA (k3s's secure token), so the server is
 * checked before it is trusted with anything; then the server issues this node's credentials.
 */
async function joinCluster(server: string, token: string, nodeName: string, nodeIP: string | undefined, log: Logger): Promise<{ creds: Credentials; localAddress: string }> {
  const t = parseJoinToken(token);
  const { body: caPem, localAddress } = await fetchUntrusted(`${server}${CACERTS_PATH}`);
  if (caHash(caPem) !== t.caHash) {
    throw new Error(`the server at ${server} does not hold the CA this token names (hash ${caHash(caPem).slice(0, 12)}…, token ${t.caHash.slice(0, 12)}…): wrong server, or the token is from another cluster`);
  }
  const addresses = [...new Set([nodeIP ?? localAddress].filter(Boolean))];
  const r = await postJoin(server, caPem, `${t.id}.${t.secret}`, { nodeName, addresses });
  log.info('joined the cluster', { server, node: nodeName });
  return { creds: { ...r, server, nodeName }, localAddress };
}

/** Registers this node's Node (without a pod CIDR) and waits for node IPAM to give it one. */
async function podCIDROf(client: RestClient, nodeName: string, log: Logger, timeoutMs = 120_000): Promise<string> {
  const got = await client.request<Node>('GET', `/api/v1/nodes/${nodeName}`);
  if (got.status === 404) {
    const created = await client.request('POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName, labels: { 'kubernetes.io/hostname': nodeName } } } });
    if (created.status !== 201 && created.status !== 409) throw new Error(`cannot register node ${nodeName}: ${(created.body as Status | undefined)?.message ?? `HTTP ${created.status}`}`);
  } else if (got.status !== 200) {
    throw new Error(`cannot read node ${nodeName}: ${(got.body as Status | undefined)?.message ?? `HTTP ${got.status}`}`);
  }
  const deadline = Date.now() + timeoutMs;
  let said = false;
  for (;;) {
    const n = await client.request<Node>('GET', `/api/v1/nodes/${nodeName}`);
    const cidr = n.status === 200 ? n.body.spec?.podCIDR : undefined;
    if (cidr) return cidr;
    if (!said) {
      log.info('waiting for the cluster to give this node a pod CIDR (node IPAM in the controller manager)');
      said = true;
    }
    if (Date.now() > deadline) throw new Error(`node ${nodeName} got no pod CIDR within ${timeoutMs / 1000} s: is the server's controller manager (nodeipam) running?`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Calls `revoked` once the server has refused this node's credentials three times in a row (401):
 * its Node was deleted. Anything else (the server away, errors) is not a verdict.
 */
function watchCredentials(client: RestClient, nodeName: string, revoked: () => void, everyMs = 5000): void {
  let refusals = 0;
  const check = async (): Promise<void> => {
    const r = await client.request('GET', `/api/v1/nodes/${nodeName}`).catch(() => undefined);
    refusals = r?.status === 401 ? refusals + 1 : 0;
    if (refusals >= 3) return revoked();
    setTimeout(() => void check(), everyMs).unref();
  };
  setTimeout(() => void check(), everyMs).unref();
}

/** `skiff agent`: a node of its own, joined to a server elsewhere. */
export async function runAgent(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      server: { type: 'string', multiple: true, default: [] }, token: { type: 'string' }, 'token-file': { type: 'string' }, 'node-name': { type: 'string' }, 'node-ip': { type: 'string' },
      'data-dir': { type: 'string', default: '/var/lib/skiff-agent' }, 'root-dir': { type: 'string', default: '/var/lib/kubelet' },
      'pod-log-dir': { type: 'string', default: '/var/log/pods' }, 'kubelet-port': { type: 'string', default: '10250' },
      'max-pods': { type: 'string', default: '110' }, 'node-label': { type: 'string', multiple: true, default: [] },
      'container-log-max-size': { type: 'string', default: '10Mi' }, 'container-log-max-files': { type: 'string', default: '5' },
      'container-log-monitor-interval': { type: 'string', default: '10s' },
      'node-status-update-frequency': { type: 'string', default: '10s' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const log = createLogger('agent');
  const dataDir = resolve(values['data-dir']!);
  const credsFile = join(dataDir, 'credentials', 'node.json');
  const nodeName = (values['node-name'] ?? hostname()).toLowerCase();
  const kubeletPort = Number(values['kubelet-port']);
  if (!Number.isInteger(kubeletPort) || kubeletPort < 0 || kubeletPort > 65535) throw new Error(`--kubelet-port: "${values['kubelet-port']}" is not a port`);
  const maxPods = Number(values['max-pods']);
  if (!Number.isInteger(maxPods) || maxPods < 1) throw new Error(`--max-pods: "${values['max-pods']}" is not a positive integer`);
  const labels: Record<string, string> = {};
  for (const l of values['node-label'] ?? []) {
    const i = l.indexOf('=');
    if (i <= 0) throw new Error(`--node-label: "${l}" is not KEY=VALUE`);
    labels[l.slice(0, i)] = l.slice(i + 1);
  }
  const problems = await agentPreflight();
  if (problems.length > 0) throw new Error(`the node agent cannot run on this machine:\n${problems.map((p) => `  - ${p}`).join('\n')}`);

  const configured = parseServerList(values.server ?? []);
  const serversFile = join(dataDir, 'servers.json');
  let creds: Credentials | undefined = existsSync(credsFile) ? JSON.parse(readFileSync(credsFile, 'utf8')) as Credentials : undefined;
  // A data dir belongs to one node of one cluster: the servers asked for must include one it has known.
  const previous = creds ? [creds.server, ...loadKnownServers(serversFile)] : [];
  const known = [...new Set([...configured, ...previous])];
  if (creds && (creds.nodeName !== nodeName || (configured.length > 0 && !configured.some((u) => previous.includes(u))))) {
    throw new Error(`${credsFile} holds the credentials of node "${creds.nodeName}" at ${creds.server}: use another --data-dir for another node or cluster`);
  }
  let nodeIP = values['node-ip'];
  if (!creds) {
    if (configured.length === 0) throw new Error('--server is required to join a cluster');
    const token = values.token ?? (values['token-file'] ? readFileSync(values['token-file'], 'utf8').trim() : undefined);
    if (!token) throw new Error('--token (or --token-file) is required to join a cluster');
    const joined = await untilReachable(() => firstAnswer(configured, (server) => joinCluster(server, token, nodeName, nodeIP, log)), log);
    creds = joined.creds;
    nodeIP ??= joined.localAddress;
    mkdirSync(join(dataDir, 'credentials'), { recursive: true, mode: 0o700 });
    writeFileSync(credsFile, JSON.stringify(creds), { mode: 0o600 });
  } else if (!nodeIP) {
    nodeIP = (await untilReachable(() => firstAnswer(known, (server) => fetchUntrusted(`${server}/version`)), log)).localAddress;
  }
  // Every API call of this agent goes through the balancer, so losing a server moves them all to another.
  const balancer = new ServerBalancer({ servers: known.length > 0 ? known : [creds.server], ca: creds.ca, log: log.with({ component: 'server-balancer' }) });
  const access: ClusterAccess = { server: await balancer.start(), ca: creds.ca, cert: creds.client.cert, key: creds.client.key, namespace: 'default', insecureSkipTLSVerify: false };
  const client = new RestClient(access, { userAgent: `skiff-agent/v1.32.0 (${nodeName})` });
  const discovery = new ServerDiscovery({ client, balancer, configured, file: serversFile, log });
  try {
    if ((await client.request('GET', `/api/v1/nodes/${nodeName}`)).status === 401) {
      // Revoked while this agent was down (its Node was deleted): whatever it left running is no longer the cluster's.
      await killAll(dataDir, log);
      rmSync(join(dataDir, 'credentials'), { recursive: true, force: true });
      throw new Error(`node ${nodeName} was removed from the cluster while this agent was away (its credentials are revoked); its pods are stopped. Join again with --token.`);
    }
    await discovery.start();
    const podCIDR = await podCIDROf(client, nodeName, log);
    const { agent, client: agentClient, images, streaming } = await buildAgent({
      access, nodeName, dataDir, rootDir: resolve(values['root-dir']!), podLogDir: resolve(values['pod-log-dir']!), podCIDR,
      address: nodeIP!, maxPods, labels, registriesFile: join(dataDir, 'registries.yaml'),
      kubeletPort, kubeletTLS: { ...creds.serving, ca: creds.ca },
      containerLogMaxSize: parseByteQuantity(values['container-log-max-size']!, '--container-log-max-size'),
      containerLogMaxFiles: Number(values['container-log-max-files']),
      containerLogMonitorIntervalMs: parseDuration(values['container-log-monitor-interval']!, '--container-log-monitor-interval'),
      heartbeatMs: parseDuration(values['node-status-update-frequency']!, '--node-status-update-frequency'),
    }, log);
    await importDroppedImages(join(dataDir, 'images-import'), images, log);
    await agent.start();
    log.info('node ready', { node: nodeName, servers: balancer.servers, podCIDR, address: nodeIP });
    process.stdout.write(`skiff agent ready — node ${nodeName} (${nodeIP}, pods ${podCIDR}) in the cluster at ${balancer.servers.join(', ')}\n`);
    const why = await new Promise<'signal' | 'revoked'>((resolveStop) => {
      process.once('SIGINT', () => resolveStop('signal'));
      process.once('SIGTERM', () => resolveStop('signal'));
      watchCredentials(client, nodeName, () => resolveStop('revoked'));
    });
    await agent.stop();
    await streaming?.close();
    agentClient.close();
    if (why === 'revoked') {
      // The Node was deleted while this agent was away or running: its pods are no longer the cluster's.
      log.error('this node\'s credentials were revoked (its Node object was deleted): stopping its pods; join again with a token to come back', { node: nodeName });
      await killAll(dataDir, log);
      rmSync(join(dataDir, 'credentials'), { recursive: true, force: true });
      process.stderr.write(`skiff agent: node ${nodeName} was removed from the cluster (its credentials are revoked); its pods are stopped. Join again with --token.\n`);
      return 1;
    }
  } finally {
    discovery.stop();
    client.close();
    balancer.close();
  }
  return 0;
}

/** The first server's answer to `fn`, trying them in order; the last failure when none answers. */
async function firstAnswer<T>(servers: readonly string[], fn: (server: string) => Promise<T>): Promise<T> {
  let last: unknown;
  for (const s of servers) {
    try {
      return await fn(s);
    } catch (e) {
      last = e;
      // Only unreachable servers are worth skipping; a refusal (a bad token, another cluster's CA) is the answer.
      if (!(e instanceof ServerUnreachableError)) throw e;
    }
  }
  throw last;
}

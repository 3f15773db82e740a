import { connect } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { ApiError, badRequest } from '../../api/status.js';
import type { RestStore } from '../registry/rest-store.js';
import { containerFor, nodeEndpoint, type KubeletClientTLS } from './pod-node.js';

/** Answers an upgrade request with a Status instead (kubectl prints its message). */
export function refuseUpgrade(socket: Duplex, e: ApiError): void {
  const body = JSON.stringify(e.status);
  socket.end(`HTTP/1.1 ${e.code} ${e.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-cache, private\r\nConnection: close\r\n\r\n${body}`);
}

/** The handshake headers that go on to the agent unchanged (WebSocket's, and SPDY's protocol versions, each kept). */
const passed = new Set(['upgrade', 'connection', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'x-stream-protocol-version']);

/** The agent's path (kubelet's) for a pod's streaming subresource. */
function agentPath(pod: Pod, namespace: string, name: string, subresource: string, q: URLSearchParams): string {
  const at = `${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
  if (subresource === 'portforward') return `/portForward/${at}`;
  const container = containerFor(pod, name, q.get('container'));
  const query = new URLSearchParams();
  if (subresource === 'exec') for (const c of q.getAll('command')) query.append('command', c);
  for (const b of ['stdin', 'stdout', 'stderr', 'tty']) if (q.get(b) === 'true' || q.get(b) === '1') query.set(b, 'true');
  return `/${subresource}/${at}/${encodeURIComponent(container)}?${query}`;
}

/**
 * `pods/{name}/exec`, `/attach` and `/portforward` upgrades: checks the pod (and container) as upstream
 * does, then relays the handshake and every byte after it to the agent of the pod's node, as
 * kube-apiserver's upgrade-aware proxy does. The session — WebSocket `v5.channel.k8s.io`, SPDY/3.1
 * (kubectl 1.27–1.29 and the fallback of later ones), or port-forward's SPDY tunnelled in a WebSocket
 * — then runs end to end between kubectl and the agent.
 */
export async function proxyPodStream(
  req: IncomingMessage, socket: Duplex, head: Buffer, pods: RestStore, nodes: RestStore, tls: KubeletClientTLS | undefined,
  namespace: string, name: string, subresource: string, q: URLSearchParams,
): Promise<void> {
  if (subresource !== 'exec' && subresource !== 'attach' && subresource !== 'portforward') throw badRequest(`pods/${subresource} cannot be upgraded to a stream`);
  if (subresource === 'exec' && q.getAll('command').length === 0) throw badRequest('you must specify at least one command for the container');
  const pod = await pods.get(namespace, name) as Pod;
  const path = agentPath(pod, namespace, name, subresource, q);
  const nodeName = pod.spec?.nodeName;
  if (!nodeName) throw badRequest(`pod ${name} does not have a host assigned`);
  const phase = pod.status?.phase;
  if (subresource !== 'portforward' && (phase === 'Succeeded' || phase === 'Failed')) {
    throw badRequest(`cannot ${subresource === 'exec' ? 'exec into' : 'attach to'} a container in a completed pod; current phase is ${phase}`);
  }
  if (!tls) throw badRequest('this server has no client certificate for node agents');
  const upgrade = (req.headers.upgrade ?? '').toLowerCase();
  if (upgrade !== 'websocket' && upgrade !== 'spdy/3.1') throw badRequest(`unable to upgrade connection: unsupported protocol "${req.headers.upgrade ?? ''}"`);
  const { address, port } = await nodeEndpoint(nodes, nodeName);
  const host = address.includes(':') ? `[${address}]` : address;
  // No Nagle: interactive sessions and SPDY control frames are small writes that must not wait for ACKs.
  const upstream = connect({ host: address, port, cert: tls.cert, key: tls.key, ca: tls.ca });
  upstream.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    upstream.once('secureConnect', resolve);
    upstream.once('error', (e) => reject(new ApiError(500, 'InternalError', `error dialing backend: ${e.message}`)));
  });
  const headers: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (passed.has(req.rawHeaders[i]!.toLowerCase())) headers.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  }
  upstream.write(`${req.method === 'POST' ? 'POST' : 'GET'} ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n${headers.join('\r\n')}\r\n\r\n`);
  if (head.length > 0) upstream.write(head);
  socket.pipe(upstream).pipe(socket);
  const end = (): void => { socket.destroy(); upstream.destroy(); };
  socket.once('close', end);
  upstream.once('close', end);
  socket.on('error', end);
  upstream.on('error', end);
}

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

/** The headers of a WebSocket handshake that go on to the agent unchanged. */
const passed = ['upgrade', 'connection', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol'];

/**
 * `pods/{name}/exec` with `Upgrade: websocket`: checks the pod and container as upstream does, then
 * relays the handshake and every byte after it to the agent of the pod's node (as kube-apiserver's
 * upgrade-aware proxy does), so the WebSocket session runs end to end between kubectl and the agent.
 * SPDY (kubectl's fallback, and all that kubectl 1.27–1.29 speak) is refused after the same checks, so
 * a failed WebSocket attempt still ends with the right error.
 */
export async function proxyPodStream(
  req: IncomingMessage, socket: Duplex, head: Buffer, pods: RestStore, nodes: RestStore, tls: KubeletClientTLS | undefined,
  namespace: string, name: string, subresource: string, q: URLSearchParams,
): Promise<void> {
  if (subresource !== 'exec') throw badRequest(`pods/${subresource} is not supported by this server yet`);
  const pod = await pods.get(namespace, name) as Pod;
  const container = containerFor(pod, name, q.get('container'));
  const nodeName = pod.spec?.nodeName;
  if (!nodeName) throw badRequest(`pod ${name} does not have a host assigned`);
  if (!tls) throw badRequest('this server has no client certificate for node agents');
  const { address, port } = await nodeEndpoint(nodes, nodeName);
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    throw badRequest('unable to upgrade connection: this server speaks WebSocket (v5.channel.k8s.io) only, not SPDY; use kubectl 1.30 or later');
  }
  const query = new URLSearchParams();
  for (const c of q.getAll('command')) query.append('command', c);
  for (const b of ['stdin', 'stdout', 'stderr', 'tty']) if (q.get(b) === 'true' || q.get(b) === '1') query.set(b, 'true');
  const path = `/exec/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/${encodeURIComponent(container)}?${query}`;
  const host = address.includes(':') ? `[${address}]` : address;
  const upstream = connect({ host: address, port, cert: tls.cert, key: tls.key, ca: tls.ca });
  await new Promise<void>((resolve, reject) => {
    upstream.once('secureConnect', resolve);
    upstream.once('error', (e) => reject(new ApiError(500, 'InternalError', `error dialing backend: ${e.message}`)));
  });
  const headers = passed.filter((h) => req.headers[h] !== undefined).map((h) => `${h}: ${String(req.headers[h])}`);
  upstream.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n${headers.join('\r\n')}\r\n\r\n`);
  if (head.length > 0) upstream.write(head);
  socket.pipe(upstream).pipe(socket);
  const end = (): void => { socket.destroy(); upstream.destroy(); };
  socket.once('close', end);
  upstream.once('close', end);
  socket.on('error', end);
  upstream.on('error', end);
}

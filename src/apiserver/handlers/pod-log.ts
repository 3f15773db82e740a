import { request } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { containerFor, nodeEndpoint, type KubeletClientTLS } from './pod-node.js';
import { ApiError, badRequest, internalError, type StatusReason } from '../../api/status.js';
import type { RestStore } from '../registry/rest-store.js';

/** The query parameters of pods/log that kubelet understands, checked as upstream validates PodLogOptions. */
function kubeletQuery(q: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams();
  const num = (name: string, min: number, what: string): void => {
    const v = q.get(name);
    if (v === null || v === '') return;
    if (!/^-?\d+$/.test(v) || Number(v) < min) throw badRequest(`PodLogOptions is invalid: ${name}: Invalid value: ${v}: ${what}`);
    out.set(name, v);
  };
  num('tailLines', 0, 'must be greater than or equal to 0');
  num('limitBytes', 1, 'must be greater than 0');
  num('sinceSeconds', 1, 'must be greater than 0');
  const sinceTime = q.get('sinceTime');
  if (sinceTime) {
    if (out.has('sinceSeconds')) throw badRequest('PodLogOptions is invalid: sinceSeconds: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified');
    if (Number.isNaN(Date.parse(sinceTime))) throw badRequest(`PodLogOptions is invalid: sinceTime: Invalid value: "${sinceTime}": must be an RFC 3339 time`);
    out.set('sinceTime', sinceTime);
  }
  for (const b of ['follow', 'previous', 'timestamps']) if (q.get(b) === 'true' || q.get(b) === '1') out.set(b, 'true');
  return out;
}

const reasons: Record<number, StatusReason> = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 503: 'ServiceUnavailable' };

/**
 * GET pods/{name}/log: finds the pod's node and streams the container's log from that node's agent
 * (kubelet's /containerLogs), passing errors on as a Status whose message is the agent's, as upstream's
 * location streamer does. A pod on no node yet has no log: the answer is empty.
 */
export async function servePodLog(
  req: IncomingMessage, res: ServerResponse, pods: RestStore, nodes: RestStore, tls: KubeletClientTLS | undefined,
  namespace: string, name: string, q: URLSearchParams,
): Promise<void> {
  const pod = await pods.get(namespace, name) as Pod;
  const container = containerFor(pod, name, q.get('container'));
  const query = kubeletQuery(q);
  const nodeName = pod.spec?.nodeName;
  if (!nodeName) {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end();
    return;
  }
  if (!tls) throw badRequest('this server has no client certificate for node agents');
  const { address, port } = await nodeEndpoint(nodes, nodeName);
  const path = `/containerLogs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/${encodeURIComponent(container)}${query.size > 0 ? `?${query}` : ''}`;
  const host = address.includes(':') ? `[${address}]` : address;
  const upstream = await new Promise<IncomingMessage>((resolve, reject) => {
    const r = request({ host: address, port, path, method: 'GET', cert: tls.cert, key: tls.key, ca: tls.ca, headers: { Host: `${host}:${port}` } }, resolve);
    r.on('error', (e) => reject(internalError(`Get "https://${host}:${port}${path}": ${e.message}`)));
    req.once('close', () => r.destroy());
    r.end();
  });
  if (upstream.statusCode !== 200) {
    let body = '';
    for await (const chunk of upstream) body += String(chunk);
    const code = upstream.statusCode ?? 500;
    throw new ApiError(code, reasons[code] ?? 'InternalError', body.trim() || `the node answered ${code}`);
  }
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  res.once('close', () => upstream.destroy());
  upstream.on('data', (d: Buffer) => res.write(d));
  await new Promise<void>((resolve) => { upstream.once('end', resolve); upstream.once('close', resolve); upstream.once('error', () => resolve()); });
  res.end();
}

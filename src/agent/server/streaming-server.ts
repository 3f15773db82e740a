import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { sendFailure, serveExec } from './remote-command.js';
import type { ExecProcess } from '../runtime/runtime.js';
import { streamCriLog, type LogOptions } from '../logs/cri-log.js';
import type { LogTarget } from '../logs/log-target.js';
import { silentLogger, type Logger } from '../../util/log.js';

export interface StreamingServerOptions {
  /** The agent's serving certificate and the cluster CA its callers' certificates must chain to. */
  readonly tls: { readonly cert: string; readonly key: string; readonly ca: string };
  /** Common names of the client certificates let in: the API server's kubelet client. */
  readonly allowedClients: readonly string[];
  readonly logTarget: (namespace: string, pod: string, container: string, previous: boolean) => Promise<LogTarget>;
  readonly containerRunning: (containerId: string) => Promise<boolean>;
  /** The running container `kubectl exec` means, or kubelet's reason it cannot. */
  readonly execTarget?: (namespace: string, pod: string, container: string) => Promise<{ kind: 'ok'; containerId: string } | { kind: 'error'; message: string }>;
  readonly execStream?: (containerId: string, cmd: readonly string[], o: { stdin: boolean }) => ExecProcess;
  readonly log?: Logger;
}

class HttpError extends Error {
  constructor(readonly code: number, message: string) { super(message); }
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw new HttpError(400, `invalid ${name}: "${v}" is not an integer`);
  return Number(v);
}

/** kubelet's query parameters for /containerLogs, as the API server passes them on. */
function logOptions(q: URLSearchParams): LogOptions & { previous: boolean } {
  const bool = (n: string): boolean => q.get(n) === 'true' || q.get(n) === '1';
  const sinceSeconds = intParam(q, 'sinceSeconds');
  const sinceTime = q.get('sinceTime');
  let since: number | undefined;
  if (sinceSeconds !== undefined) since = Date.now() - sinceSeconds * 1000;
  if (sinceTime) {
    since = Date.parse(sinceTime);
    if (Number.isNaN(since)) throw new HttpError(400, `invalid sinceTime: "${sinceTime}" is not an RFC 3339 time`);
  }
  const tailLines = intParam(q, 'tailLines');
  const limitBytes = intParam(q, 'limitBytes');
  return {
    follow: bool('follow'), previous: bool('previous'), timestamps: bool('timestamps'),
    ...(tailLines !== undefined && tailLines >= 0 ? { tailLines } : {}),
    ...(limitBytes !== undefined ? { limitBytes } : {}),
    ...(since !== undefined ? { since } : {}),
  };
}

/**
 * The agent's HTTPS endpoint for what the API server proxies to the node (kubelet's port 10250):
 * container logs today. Only callers with a client certificate from the cluster CA and an allowed name
 * get in.
 */
export class StreamingServer {
  readonly #o: StreamingServerOptions;
  readonly #log: Logger;
  #server: Server | undefined;
  /** WebSocket sessions speak only `v5.channel.k8s.io` (kubectl 1.30 and later offer nothing else). */
  readonly #wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('v5.channel.k8s.io') ? 'v5.channel.k8s.io' : false) });

  constructor(o: StreamingServerOptions) {
    this.#o = o;
    this.#log = (o.log ?? silentLogger).with({ component: 'streaming-server' });
  }

  /** Listens; resolves with the port (useful with 0). */
  async start(port: number, host: string): Promise<number> {
    const server = createServer({ cert: this.#o.tls.cert, key: this.#o.tls.key, ca: this.#o.tls.ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      this.#handle(req, res).catch((e: unknown) => {
        const code = e instanceof HttpError ? e.code : 500;
        if (code === 500) this.#log.error('request failed', { path: req.url, err: e as Error });
        if (!res.headersSent) res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end((e as Error).message);
      });
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.#upgrade(req, socket, head).catch((e: unknown) => {
        this.#log.error('stream failed', { path: req.url, err: e as Error });
        socket.destroy();
      });
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(); });
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const s = this.#server;
    if (!s) return;
    s.closeAllConnections();
    for (const c of this.#wss.clients) c.terminate();
    await new Promise<void>((r) => s.close(() => r()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const cn = (req.socket as TLSSocket).getPeerCertificate()?.subject?.CN;
    if (!cn || !this.#o.allowedClients.includes(String(cn))) throw new HttpError(403, `Forbidden (user=${cn ?? 'anonymous'}, verb=${req.method?.toLowerCase()}, resource=nodes, subresource=proxy)`);
    const url = new URL(req.url ?? '/', 'https://agent');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (parts[0] === 'containerLogs' && parts.length === 4 && req.method === 'GET') return this.#logs(res, parts[1]!, parts[2]!, parts[3]!, url.searchParams);
    throw new HttpError(404, `404 page not found`);
  }

  /** `/exec/{ns}/{pod}/{container}?command=…&stdin=…`: a WebSocket `v5.channel.k8s.io` session. */
  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const refuse = (code: number, message: string): void => {
      socket.end(`HTTP/1.1 ${code} ${code === 403 ? 'Forbidden' : code === 404 ? 'Not Found' : 'Bad Request'}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\nConnection: close\r\n\r\n${message}`);
    };
    const cn = (req.socket as TLSSocket).getPeerCertificate()?.subject?.CN;
    if (!cn || !this.#o.allowedClients.includes(String(cn))) return refuse(403, `Forbidden (user=${cn ?? 'anonymous'}, verb=create, resource=nodes, subresource=proxy)`);
    const url = new URL(req.url ?? '/', 'https://agent');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] !== 'exec' || parts.length !== 4 || !this.#o.execTarget || !this.#o.execStream) return refuse(404, '404 page not found');
    const q = url.searchParams;
    const cmd = q.getAll('command');
    const stdin = q.get('stdin') === 'true' || q.get('stdin') === '1';
    const tty = q.get('tty') === 'true' || q.get('tty') === '1';
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      // kubectl may send stdin at once: hold it until the command runs and listens.
      ws.pause();
      void (async () => {
        if (cmd.length === 0) return sendFailure(ws, 'you must specify at least one command for the container');
        if (tty) return sendFailure(ws, 'a terminal (-t) is not supported by this node yet; run without -t');
        const target = await this.#o.execTarget!(parts[1]!, parts[2]!, parts[3]!);
        if (target.kind === 'error') return sendFailure(ws, target.message);
        serveExec(ws, this.#o.execStream!(target.containerId, cmd, { stdin }), cmd);
        ws.resume();
      })().catch((e: Error) => sendFailure(ws, e.message));
    });
  }

  async #logs(res: ServerResponse, ns: string, pod: string, container: string, q: URLSearchParams): Promise<void> {
    const o = logOptions(q);
    const target = await this.#o.logTarget(ns, pod, container, o.previous);
    if (target.kind === 'error') throw new HttpError(target.code, target.message);
    const ac = new AbortController();
    res.once('close', () => ac.abort());
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
    await streamCriLog(target.path, o, (s) => res.write(s), {
      signal: ac.signal, running: () => this.#o.containerRunning(target.containerId),
    });
    res.end();
  }
}

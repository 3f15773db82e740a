import { createServer, type Server } from 'node:https';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { REMOTE_COMMAND_SPDY, sendFailure, serveSpdyCommand, serveWebSocketCommand, type RemoteCommandRequest } from './remote-command.js';
import { servePortForward, type PortForwardTarget } from './port-forward.js';
import { PORT_FORWARD_TUNNEL, PORT_FORWARD_V1, offered, spdyUpgrade } from './upgrade.js';
import { SpdySession } from '../../util/spdy/session.js';
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
  readonly execStream?: (containerId: string, cmd: readonly string[], o: { stdin: boolean; tty: boolean }) => ExecProcess;
  /** A session with the container's own stdio (`kubectl attach`). */
  readonly attachStream?: (containerId: string, o: { stdin: boolean; tty: boolean }) => ExecProcess;
  /** The pod `kubectl port-forward` means and how to connect inside it, or kubelet's reason why not. */
  readonly portForwardTarget?: (namespace: string, pod: string) => Promise<({ kind: 'ok' } & PortForwardTarget) | { kind: 'error'; message: string }>;
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
 * container logs, exec, attach and port-forward. Only callers with a client certificate from the cluster CA and an allowed name
 * get in.
 */
export class StreamingServer {
  readonly #o: StreamingServerOptions;
  readonly #log: Logger;
  #server: Server | undefined;
  /** WebSocket sessions speak `v5.channel.k8s.io` (kubectl 1.30 and later offer nothing else) or tunnel port-forward's SPDY. */
  readonly #wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('v5.channel.k8s.io') ? 'v5.channel.k8s.io' : false) });
  /**
   * Port-forward's tunnel. `SPDY/3.1+portforward.k8s.io` is not an RFC 7230 token, so `ws` refuses it as a
   * subprotocol; this server is handed the handshake without the header and names the protocol in its
   * answer itself, as kubelet's Go WebSocket library accepts it.
   */
  readonly #tunnelWss = new WebSocketServer({ noServer: true });

  constructor(o: StreamingServerOptions) {
    this.#o = o;
    this.#log = (o.log ?? silentLogger).with({ component: 'streaming-server' });
    this.#tunnelWss.on('headers', (headers: string[]) => { headers.push(`Sec-WebSocket-Protocol: ${PORT_FORWARD_TUNNEL}`); });
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
    for (const c of [...this.#wss.clients, ...this.#tunnelWss.clients]) c.terminate();
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

  /**
   * The streaming paths kubelet serves, each as a WebSocket session or (kubectl 1.27–1.29, and the
   * fallback of later ones) a SPDY/3.1 connection: `/exec/{ns}/{pod}/{container}?command=…`,
   * `/attach/{ns}/{pod}/{container}` and `/portForward/{ns}/{pod}` (SPDY, or SPDY tunnelled in a
   * WebSocket as kubectl 1.31 and later do).
   */
  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const refuse = (code: number, message: string): void => {
      socket.end(`HTTP/1.1 ${code} ${STATUS_CODES[code] ?? 'Error'}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\nConnection: close\r\n\r\n${message}`);
    };
    const cn = (req.socket as TLSSocket).getPeerCertificate()?.subject?.CN;
    if (!cn || !this.#o.allowedClients.includes(String(cn))) return refuse(403, `Forbidden (user=${cn ?? 'anonymous'}, verb=create, resource=nodes, subresource=proxy)`);
    const url = new URL(req.url ?? '/', 'https://agent');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const websocket = (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
    if (parts[0] === 'portForward' && parts.length === 3 && this.#o.portForwardTarget) {
      const target = await this.#o.portForwardTarget(parts[1]!, parts[2]!);
      if (target.kind === 'error') return refuse(404, target.message);
      const start = (session: SpdySession): void => session.onStream(servePortForward(session, target, this.#log));
      if (websocket) {
        if (!offered(req, PORT_FORWARD_TUNNEL)) return refuse(400, `port-forward over WebSocket needs the ${PORT_FORWARD_TUNNEL} protocol`);
        delete req.headers['sec-websocket-protocol'];
        this.#tunnelWss.handleUpgrade(req, socket, head, (ws) => start(new SpdySession(createWebSocketStream(ws), this.#log)));
        return;
      }
      const session = spdyUpgrade(req, socket, head, [PORT_FORWARD_V1], this.#log);
      if (typeof session === 'string') return refuse(400, session);
      start(session);
      return;
    }
    if ((parts[0] === 'exec' || parts[0] === 'attach') && parts.length === 4 && this.#o.execTarget) {
      const q = url.searchParams;
      const flag = (n: string): boolean => q.get(n) === 'true' || q.get(n) === '1';
      const session: RemoteCommandRequest = {
        kind: parts[0], cmd: q.getAll('command'), stdin: flag('stdin'), stdout: flag('stdout'), stderr: flag('stderr'), tty: flag('tty'),
      };
      // As kubelet: a container that cannot be exec'd into is refused before the upgrade, so
      // kubectl reports "unable to upgrade connection: <reason>".
      let open: () => ExecProcess;
      try {
        open = await this.#remoteCommand(parts[1]!, parts[2]!, parts[3]!, session);
      } catch (e) {
        const message = (e as Error).message;
        if (!websocket) return refuse(500, message);
        // A WebSocket client reads this from the error channel, worded as kube-apiserver's translator to kubelet's SPDY.
        this.#wss.handleUpgrade(req, socket, head, (ws) => sendFailure(ws, `Internal error occurred: unable to upgrade connection: ${message}`));
        return;
      }
      if (websocket) {
        if (!offered(req, 'v5.channel.k8s.io')) return refuse(400, 'this node speaks v5.channel.k8s.io over WebSocket');
        this.#wss.handleUpgrade(req, socket, head, (ws) => serveWebSocketCommand(ws, open, session));
        return;
      }
      const conn = spdyUpgrade(req, socket, head, REMOTE_COMMAND_SPDY, this.#log);
      if (typeof conn === 'string') return refuse(400, conn);
      serveSpdyCommand(conn, open, session, this.#log);
      return;
    }
    refuse(404, '404 page not found');
  }

  /** Starts the process an exec or attach session drives; throws kubelet's reason when there is none to start. */
  async #remoteCommand(ns: string, pod: string, container: string, r: RemoteCommandRequest): Promise<() => ExecProcess> {
    if (r.kind === 'exec' && r.cmd.length === 0) throw new Error('you must specify at least one command for the container');
    const target = await this.#o.execTarget!(ns, pod, container);
    if (target.kind === 'error') throw new Error(target.message);
    if (r.kind === 'attach') {
      const attach = this.#o.attachStream;
      if (!attach) throw new Error('attach is not supported by this node');
      return () => attach(target.containerId, { stdin: r.stdin, tty: r.tty });
    }
    const exec = this.#o.execStream;
    if (!exec) throw new Error('exec is not supported by this node');
    return () => exec(target.containerId, r.cmd, { stdin: r.stdin, tty: r.tty });
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

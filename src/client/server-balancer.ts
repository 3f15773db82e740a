import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';
import { request } from 'node:https';
import type { Logger } from '../util/log.js';

export interface ServerBalancerOptions {
  /** API server URLs (`https://host:port`), most preferred first. */
  readonly servers: readonly string[];
  /** The CA the servers' certificates chain to: health checks verify it. */
  readonly ca: string;
  readonly listenHost?: string;
  /** 0 (default) picks a free port. */
  readonly listenPort?: number;
  /** How often every server's /readyz is checked (default 2 s); a failed check takes it out of rotation. */
  readonly healthIntervalMs?: number;
  /** Deadline of one connection attempt or health check (default 2 s). */
  readonly timeoutMs?: number;
  /** Failed checks or connection attempts in a row that take a server out of rotation (default 3; a refused connection at once). */
  readonly failureThreshold?: number;
  readonly log: Logger;
}

interface Backend {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  healthy: boolean;
  /** Failures in a row since the last success. */
  failures: number;
  readonly conns: Set<Socket>;
}

/** Errors that mean nothing listens there (the process is gone), not merely a slow or lossy path. */
const definitive = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * A client-side load balancer for several API servers (k3s's agent has one): a TCP proxy on loopback that
 * sends every connection to one server, the active one, while it passes its health checks, and moves to the
 * next healthy one when it fails — a refused connection, or a few failures in a row (one slow answer right
 * after a failover must not bounce everyone again) — closing the connections to the failed server, so open
 * watches end and their informers reconnect through the balancer to a server that answers. TLS passes through untouched:
 * clients still verify the server's certificate (servers include 127.0.0.1 among their names) and present
 * their own.
 */
export class ServerBalancer {
  readonly #o: ServerBalancerOptions;
  #backends: Backend[] = [];
  #active: Backend | undefined;
  #server: Server | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Client connections still waiting for a server. */
  readonly #pending = new Set<Socket>();
  #closed = false;

  constructor(o: ServerBalancerOptions) {
    if (o.servers.length === 0) throw new Error('the load balancer needs at least one server');
    this.#o = o;
    this.setServers(o.servers);
  }

  /** Listens; resolves with the URL clients should use instead of the servers'. */
  async start(): Promise<string> {
    const server = createServer({ pauseOnConnect: true, noDelay: true }, (s) => void this.#accept(s));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#o.listenPort ?? 0, this.#o.listenHost ?? '127.0.0.1', () => { server.off('error', reject); resolve(); });
    });
    await this.#checkAll();
    this.#timer = setInterval(() => void this.#checkAll(), this.#o.healthIntervalMs ?? 2000);
    this.#timer.unref();
    return this.url;
  }

  get url(): string {
    const a = this.#server!.address() as AddressInfo;
    return `https://${a.address}:${a.port}`;
  }

  /** The servers in rotation, most preferred first. */
  get servers(): string[] {
    return this.#backends.map((b) => b.url);
  }

  /** The server new connections go to. */
  get active(): string | undefined {
    return this.#active?.url;
  }

  /**
   * Replaces the server list (as learned from the cluster), keeping what is known of servers that stay.
   * Connections to servers that left are closed.
   */
  setServers(urls: readonly string[]): void {
    const next: Backend[] = [];
    for (const url of new Set(urls)) {
      const old = this.#backends.find((b) => b.url === url);
      if (old) { next.push(old); continue; }
      const u = new URL(url);
      next.push({ url, host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 443), healthy: true, failures: 0, conns: new Set() });
    }
    for (const b of this.#backends) if (!next.includes(b)) this.#drop(b);
    this.#backends = next;
    if (this.#active && !next.includes(this.#active)) this.#active = undefined;
    this.#active ??= next.find((b) => b.healthy) ?? next[0];
  }

  #drop(b: Backend): void {
    for (const c of b.conns) c.destroy();
    b.conns.clear();
  }

  /** Tries the active server, then every other one in order, healthy ones first. */
  #candidates(): Backend[] {
    const rest = this.#backends.filter((b) => b !== this.#active);
    return [...(this.#active ? [this.#active] : []), ...rest.filter((b) => b.healthy), ...rest.filter((b) => !b.healthy)];
  }

  async #accept(client: Socket): Promise<void> {
    client.on('error', () => client.destroy());
    this.#pending.add(client);
    try {
      for (const b of this.#candidates()) {
        if (client.destroyed || this.#closed) return;
        const dialed = await this.#dial(b);
        if ('error' in dialed) {
          this.#fail(b, `connection failed: ${dialed.error}`, definitive.has(dialed.error));
          continue;
        }
        const upstream = dialed.socket;
        // The list may have changed, or the balancer closed, while we dialled.
        // (A connection accepted proves the port open, not the server healthy: only checks clear failures.)
        if (client.destroyed || this.#closed || !this.#backends.includes(b)) { upstream.destroy(); continue; }
        if (this.#active !== b && !this.#active?.healthy) this.#activate(b);
        b.conns.add(client);
        const done = (): void => { b.conns.delete(client); client.destroy(); upstream.destroy(); };
        upstream.on('error', done).on('close', done);
        client.on('close', done);
        client.pipe(upstream).pipe(client);
        client.resume();
        return;
      }
      if (!client.destroyed) this.#o.log.warn('no API server reachable for a connection', { servers: this.servers });
      client.destroy();
    } finally {
      this.#pending.delete(client);
    }
  }

  #dial(b: Backend): Promise<{ socket: Socket } | { error: string }> {
    return new Promise((resolve) => {
      const s = connect({ host: b.host, port: b.port, noDelay: true });
      const fail = (e?: NodeJS.ErrnoException): void => { s.destroy(); resolve({ error: e?.code ?? 'ETIMEDOUT' }); };
      s.setTimeout(this.#o.timeoutMs ?? 2000, () => fail());
      s.once('error', fail);
      s.once('connect', () => { s.setTimeout(0); s.off('error', fail); resolve({ socket: s }); });
    });
  }

  /** A failure of `b`: out of rotation once definitive, or after enough in a row. */
  #fail(b: Backend, why: string, isDefinitive: boolean): void {
    b.failures++;
    if (isDefinitive || b.failures >= (this.#o.failureThreshold ?? 3)) this.#markDown(b, why);
  }

  #markDown(b: Backend, why: string): void {
    if (b.healthy) this.#o.log.warn('API server out of rotation', { server: b.url, why });
    b.healthy = false;
    if (b === this.#active) {
      const next = this.#backends.find((x) => x.healthy);
      if (next) this.#activate(next);
    }
  }

  #activate(b: Backend): void {
    const from = this.#active;
    this.#active = b;
    this.#o.log.info('API server connections now go to', { server: b.url, from: from?.url });
    // Clients holding connections to a failed server may not notice for minutes (a watch on a dead machine
    // just goes quiet): end them so they reconnect here.
    if (from && !from.healthy) this.#drop(from);
  }

  async #checkAll(): Promise<void> {
    await Promise.all(this.#backends.map(async (b) => {
      const ok = await this.#check(b);
      if (this.#closed) return;
      if (!ok) { this.#fail(b, 'health check failed', false); return; }
      b.failures = 0;
      if (!b.healthy) {
        b.healthy = true;
        this.#o.log.info('API server back in rotation', { server: b.url });
        if (!this.#active?.healthy) this.#activate(b);
      }
    }));
  }

  #check(b: Backend): Promise<boolean> {
    return new Promise((resolve) => {
      const req = request({ host: b.host, port: b.port, path: '/readyz', ca: this.#o.ca, agent: false, timeout: this.#o.timeoutMs ?? 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const b of this.#backends) this.#drop(b);
    for (const c of this.#pending) c.destroy();
    this.#server?.close();
  }
}

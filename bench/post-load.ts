import { connect as plainConnect, type Socket } from 'node:net';
import { connect } from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { ClusterAccess } from '../src/client/kubeconfig.js';

/**
 * A load generator for POSTs that takes as little of the machine as it can, since it shares the cores with the
 * server it measures (upstream measures kube-apiserver with its clients on other machines). Requests are whole
 * HTTP/1.1 messages encoded before the clock starts, sent one at a time on each of a few kept-alive TLS
 * connections (with the kubeconfig's client certificate, checking the server's; plain TCP for an http:// server);
 * answers are counted and framed by their Content-Length, never parsed. Node's https client spent 0.13 ms of
 * CPU per create here, this 0.04.
 */
export class PostLoad {
  readonly #sockets: Socket[];
  readonly #host: string;

  private constructor(sockets: Socket[], host: string) {
    this.#sockets = sockets;
    this.#host = host;
  }

  static async open(access: ClusterAccess, connections: number): Promise<PostLoad> {
    const url = new URL(access.server);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`PostLoad: ${access.server} is not an http(s) server`);
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const one = (): Promise<Socket> => new Promise((resolve, reject) => {
      const ready = (): void => { s.off('error', reject); resolve(s); };
      const s = url.protocol === 'https:'
        ? connect({ host, port, ca: access.ca, cert: access.cert, key: access.key, rejectUnauthorized: !access.insecureSkipTLSVerify }, ready)
        : plainConnect({ host, port }, ready);
      s.once('error', reject);
      s.setNoDelay(true);
    });
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < connections; i++) sockets.push(await one());
    } catch (e) {
      for (const s of sockets) s.destroy();
      throw e;
    }
    return new PostLoad(sockets, url.host);
  }

  /** Whole POST requests of `bodies` (JSON) to `path`, ready to send. */
  encode(path: string, bodies: readonly string[], token?: string): Buffer[] {
    const auth = token ? `Authorization: Bearer ${token}\r\n` : '';
    return bodies.map((b) => {
      const body = Buffer.from(b, 'utf8');
      const head = `POST ${path} HTTP/1.1\r\nHost: ${this.#host}\r\nUser-Agent: skiff-bench\r\n${auth}` +
        `Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
      return Buffer.concat([Buffer.from(head, 'latin1'), body]);
    });
  }

  /**
   * Sends every request, each connection taking the next when its answer is in; resolves with the count of each
   * status code. Each request's latency is pushed to `latencies` (ms).
   */
  run(requests: readonly Buffer[], latencies: number[]): Promise<Map<number, number>> {
    const statuses = new Map<number, number>();
    let next = 0;
    const drive = (s: Socket): Promise<void> => new Promise((resolve, reject) => {
      let pending: Buffer | undefined;
      let sentAt = 0;
      const send = (): void => {
        const i = next++;
        if (i >= requests.length) { finish(); resolve(); return; }
        sentAt = performance.now();
        s.write(requests[i]!);
      };
      const fail = (e: Error): void => { finish(); reject(e); };
      const onData = (d: Buffer): void => {
        pending = pending ? Buffer.concat([pending, d]) : d;
        for (;;) {
          const end: number = pending.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = pending.toString('latin1', 0, end);
          const length = /\r\ncontent-length: *(\d+)/i.exec(head);
          if (!length) { fail(new Error(`PostLoad: an answer without Content-Length: ${head.split('\r\n')[0]}`)); return; }
          const total: number = end + 4 + Number(length[1]);
          if (pending.length < total) return;
          const status = Number(head.slice(9, 12));
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          latencies.push(performance.now() - sentAt);
          pending = pending.length > total ? pending.subarray(total) : undefined;
          send();
          if (!pending) return;
        }
      };
      const onClose = (): void => fail(new Error('PostLoad: the server closed a connection'));
      const finish = (): void => { s.off('data', onData); s.off('error', fail); s.off('close', onClose); };
      s.on('data', onData);
      s.on('error', fail);
      s.on('close', onClose);
      send();
    });
    return Promise.all(this.#sockets.map(drive)).then(() => statuses);
  }

  close(): void {
    for (const s of this.#sockets) s.destroy();
  }
}

import http from 'node:http';
import https from 'node:https';
import type { Status } from 'kubernetes-types/meta/v1.js';
import type { ClusterAccess } from './kubeconfig.js';

/** A response from the API server: the status code and the decoded JSON body (or raw text). */
export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly headers: http.IncomingHttpHeaders;
}

/** A non-2xx answer, carrying the server's `metav1.Status`. */
export class ApiRequestError extends Error {
  constructor(readonly code: number, readonly status: Status | undefined, readonly method: string, readonly path: string) {
    super(`${method} ${path}: ${code} ${status?.reason ?? ''}: ${status?.message ?? ''}`.trim());
    this.name = 'ApiRequestError';
  }
  get reason(): string | undefined { return this.status?.reason; }
}

export interface RequestOptions {
  readonly body?: unknown;
  readonly contentType?: string;
  readonly accept?: string;
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal;
  /** Leave the body as text, without JSON decoding. */
  readonly raw?: boolean;
  /** Read and drop the body, keeping only its length (benchmarks of large responses). */
  readonly discard?: boolean;
}

/** One event of a watch stream. */
export interface WatchLine<T = unknown> {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: T;
}

/**
 * The one HTTP(S) client every skiff component uses to talk to the API server — controllers, scheduler
 * and agents alike, in process or not — with keep-alive connections and the cluster CA pinned.
 */
export class RestClient {
  readonly #base: URL;
  readonly #agent: http.Agent;
  readonly #token: string | undefined;
  readonly #mod: typeof http | typeof https;
  readonly userAgent: string;

  constructor(access: ClusterAccess, opts: { userAgent?: string; maxSockets?: number } = {}) {
    this.#base = new URL(access.server);
    const isHttps = this.#base.protocol === 'https:';
    this.#mod = isHttps ? https : http;
    this.#agent = isHttps
      ? new https.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 64, ca: access.ca, cert: access.cert, key: access.key, rejectUnauthorized: !access.insecureSkipTLSVerify })
      : new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 64 });
    this.#token = access.token;
    this.userAgent = opts.userAgent ?? 'skiff/v1.32.0';
  }

  #open(method: string, path: string, o: RequestOptions, onResponse: (res: http.IncomingMessage) => void, onError: (e: Error) => void): http.ClientRequest {
    const headers: Record<string, string> = { 'User-Agent': this.userAgent, Accept: o.accept ?? 'application/json', ...(o.headers ?? {}) };
    if (this.#token) headers['Authorization'] = `Bearer ${this.#token}`;
    let payload: string | Buffer | undefined;
    if (o.body !== undefined) {
      payload = typeof o.body === 'string' || Buffer.isBuffer(o.body) ? o.body : JSON.stringify(o.body);
      headers['Content-Type'] = o.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const req = this.#mod.request({
      protocol: this.#base.protocol, hostname: this.#base.hostname, port: this.#base.port, path, method, headers, agent: this.#agent, signal: o.signal,
    }, onResponse);
    req.on('error', onError);
    req.end(payload);
    return req;
  }

  /** Sends a request and reads the whole response; never throws on HTTP status. */
  request<T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<ApiResponse<T>> {
    return new Promise((resolve, reject) => {
      this.#open(method, path, o, (res) => {
        const chunks: Buffer[] = [];
        let length = 0;
        res.on('data', (c: Buffer) => { length += c.length; if (!o.discard) chunks.push(c); });
        res.on('end', () => {
          if (o.discard) { resolve({ status: res.statusCode ?? 0, body: length as T, headers: res.headers }); return; }
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          if (!o.raw && (res.headers['content-type'] ?? '').includes('json') && text.length > 0) {
            try { body = JSON.parse(text); } catch { body = text; }
          }
          resolve({ status: res.statusCode ?? 0, body: body as T, headers: res.headers });
        });
        res.on('error', reject);
      }, reject);
    });
  }

  /** Like `request`, but a non-2xx answer rejects with an ApiRequestError. */
  async call<T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const r = await this.request<T>(method, path, o);
    if (r.status < 200 || r.status >= 300) throw new ApiRequestError(r.status, (typeof r.body === 'object' ? r.body : undefined) as Status | undefined, method, path);
    return r.body;
  }

  /**
   * Opens a watch (`path` should carry `watch=true` and a resourceVersion) and calls `onEvent` for each
   * line; resolves when the server ends the stream or `signal` aborts it.
   */
  watch<T = unknown>(path: string, onEvent: (e: WatchLine<T>) => void, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#open('GET', path, { signal }, (res) => {
        if ((res.statusCode ?? 0) >= 300) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let st: Status | undefined;
            try { st = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Status; } catch { /* not a Status */ }
            reject(new ApiRequestError(res.statusCode ?? 0, st, 'GET', path));
          });
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.trim()) onEvent(JSON.parse(line) as WatchLine<T>);
          }
        });
        res.on('end', () => resolve());
        res.on('error', (e) => (signal?.aborted ? resolve() : reject(e)));
        res.on('close', () => resolve());
      }, (e) => (signal?.aborted ? resolve() : reject(e)));
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { ApiError, badRequest, tooLarge, unsupportedMediaType } from '../api/status.js';
import { cachedJson } from '../util/json-cache.js';
import { decodeKubernetesProtobuf, KUBERNETES_PROTOBUF_CONTENT_TYPE } from './protobuf/decode.js';

/** Request bodies above this are refused with 413, as upstream's 3 MiB limit. */
export const maxBodyBytes = 3 * 1024 * 1024;

const bodies = new WeakMap<IncomingMessage, Promise<Buffer>>();

/**
 * Reads the whole request body; 413 once it passes `limit` bytes (the rest is not read). Read once per request:
 * the authorizer may look at it before the handler does.
 */
export function readBody(req: IncomingMessage, limit = maxBodyBytes): Promise<Buffer> {
  let body = bodies.get(req);
  if (body === undefined) {
    body = readBodyOnce(req, limit);
    bodies.set(req, body);
  }
  return body;
}

function readBodyOnce(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) {
    req.resume();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => { if (!failed) resolve(Buffer.concat(chunks)); });
    req.on('error', (e) => { if (!failed) { failed = true; reject(e); } });
  });
}

/** The media type of a Content-Type header without parameters, lower case. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Parses a JSON or YAML request body into a value; malformed input is a 400 with the parser's reason. */
export function decodeBody(body: Buffer, contentType: string | undefined, accepted: readonly string[] = ['application/json', 'application/yaml', KUBERNETES_PROTOBUF_CONTENT_TYPE]): unknown {
  const type = mediaType(contentType) || 'application/json';
  if (!accepted.includes(type)) throw unsupportedMediaType(type, accepted);
  if (type === KUBERNETES_PROTOBUF_CONTENT_TYPE) {
    // kubectl's generator commands (create namespace/deployment/configmap/...) send protobuf and never retry with JSON.
    try {
      return decodeKubernetesProtobuf(body);
    } catch (e) {
      const msg = (e as Error).message;
      throw /unsupported/.test(msg) ? new ApiError(415, 'UnsupportedMediaType', msg) : badRequest(msg);
    }
  }
  const text = body.toString('utf8');
  if (text.trim() === '') throw badRequest('the body of the request was empty');
  if (type.endsWith('json')) {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
    }
  }
  try {
    return parseYaml(text);
  } catch (e) {
    throw badRequest(`error converting YAML to JSON: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** How the client wants the response encoded. */
export interface Negotiated {
  /** A server-side Table (`as=Table;g=meta.k8s.io;v=v1|v1beta1`). */
  readonly table: boolean;
  readonly tableVersion: 'v1' | 'v1beta1';
  readonly yaml: boolean;
}

/** Reads the Accept header: Table if offered (kubectl get), YAML if asked for, else JSON. */
export function negotiate(accept: string | undefined): Negotiated {
  const entries = (accept ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const e of entries) {
    const [type, ...params] = e.split(';').map((s) => s.trim());
    const p = new Map(params.map((x) => x.split('=').map((y) => y.trim()) as [string, string]));
    if ((type === 'application/json' || type === 'application/yaml') && p.get('as') === 'Table' && p.get('g') === 'meta.k8s.io') {
      const v = p.get('v');
      if (v === 'v1' || v === 'v1beta1') return { table: true, tableVersion: v, yaml: false };
    }
    if (type === 'application/json' || type === '*/*' || type === 'application/*') return { table: false, tableVersion: 'v1', yaml: false };
    if (type === 'application/yaml') return { table: false, tableVersion: 'v1', yaml: true };
  }
  return { table: false, tableVersion: 'v1', yaml: false };
}

/** Sends a JSON body (a pre-serialised string is sent as is). */
export function sendJSON(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : typeof body === 'object' && body !== null ? cachedJson(body) : JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Sends a body in the negotiated encoding: JSON, or YAML when the client asked for it. */
export function sendObject(res: ServerResponse, code: number, body: unknown, neg: Negotiated, headers: Record<string, string> = {}): void {
  if (!neg.yaml) return sendJSON(res, code, body, headers);
  const text = toYaml(typeof body === 'string' ? JSON.parse(body) : body);
  res.writeHead(code, { 'Content-Type': 'application/yaml', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Answers with the `metav1.Status` of an ApiError. */
export function sendError(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJSON(res, err.code, err.status, err.headers);
}

/** Adds a `Warning: 299 - "..."` header, as upstream does for field validation in Warn mode. */
export function addWarning(res: ServerResponse, message: string): void {
  const prev = res.getHeader('Warning');
  const value = `299 - ${JSON.stringify(message)}`;
  const list = prev === undefined ? [] : Array.isArray(prev) ? prev : [String(prev)];
  res.setHeader('Warning', [...list, value]);
}

export { ApiError };

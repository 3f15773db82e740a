import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResourceDefinition } from '../../api/resource.js';
import { notFoundPath } from '../../api/status.js';
import { encodeDocument } from './gnostic.js';
import { buildSwagger, type Json } from './swagger.js';

/** What client-go asks for (`openAPIV2mimePb`). */
export const OPENAPI_V2_PROTOBUF_REQUEST = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';
/**
 * What the protobuf is answered as, whichever of the two spellings was asked for, as kube-openapi's
 * handler does: `@` is not a token character, so Go's mime.ParseMediaType (client-go reading the
 * response) fails on a Content-Type spelled like the request.
 */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

/**
 * OpenAPI v2 (Swagger 2.0) as kubectl before 1.29 reads it for `create/apply/replace -f` validation
 * and `kubectl explain`: JSON, or gnostic protobuf. Built on first use and kept.
 */
export class OpenAPIV2Document {
  readonly #resources: readonly ResourceDefinition[];
  #doc: Json | undefined;
  #json: string | undefined;
  #protobuf: Buffer | undefined;
  #etag: string | undefined;

  constructor(resources: readonly ResourceDefinition[]) {
    this.#resources = resources;
  }

  /** The Swagger document as an object (do not modify). */
  document(): Json {
    return (this.#doc ??= buildSwagger(this.#resources));
  }

  json(): string {
    return (this.#json ??= JSON.stringify(this.document()));
  }

  protobuf(): Buffer {
    return (this.#protobuf ??= encodeDocument(this.document()));
  }

  /** A strong validator of the document (both encodings carry the same content), as upstream: a hash of the JSON, quoted. */
  etag(): string {
    return (this.#etag ??= `"${createHash('sha512').update(this.json()).digest('hex').toUpperCase()}"`);
  }
}

const documents = new WeakMap<readonly ResourceDefinition[], OpenAPIV2Document>();

/** The document of a resource list, shared by every request against the same list. */
export function openAPIV2For(resources: readonly ResourceDefinition[]): OpenAPIV2Document {
  let doc = documents.get(resources);
  if (!doc) documents.set(resources, (doc = new OpenAPIV2Document(resources)));
  return doc;
}

/** Whether `accept` asks for the gnostic protobuf (either spelling, non-zero quality). */
export function wantsOpenAPIV2Protobuf(accept: string | undefined): boolean {
  for (const part of (accept ?? '').split(',')) {
    const [type, ...params] = part.split(';').map((x) => x.trim());
    const q = params.find((p) => p.startsWith('q='));
    if (q && Number(q.slice(2)) === 0) continue;
    const t = type?.toLowerCase();
    if (t === OPENAPI_V2_PROTOBUF || t === OPENAPI_V2_PROTOBUF_REQUEST) return true;
  }
  return false;
}

/** Answers `GET /openapi/v2`: protobuf when asked for, JSON otherwise; 304 on a matching If-None-Match. */
export function serveOpenAPIV2(req: IncomingMessage, res: ServerResponse, resources: readonly ResourceDefinition[]): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw notFoundPath();
  const doc = openAPIV2For(resources);
  const pb = wantsOpenAPIV2Protobuf(req.headers.accept);
  const body = pb ? doc.protobuf() : Buffer.from(doc.json());
  const headers = { 'Content-Type': pb ? OPENAPI_V2_PROTOBUF : 'application/json', ETag: doc.etag(), 'Cache-Control': 'no-cache, private', Vary: 'Accept' };
  const inm = req.headers['if-none-match'];
  if (inm && inm.split(',').some((t) => t.trim() === doc.etag() || t.trim() === '*')) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}

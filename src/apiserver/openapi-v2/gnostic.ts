/**
 * Encodes a Swagger 2.0 JSON document as gnostic's `openapi.v2.Document` protobuf, the form
 * client-go's `OpenAPISchema()` asks for. Maps become repeated `Named*` pairs in document order;
 * vendor extensions and other free-form values become `Any { yaml }`, which is what kube-openapi
 * (`VendorExtensionToMap`) and kubectl (`x-kubernetes-group-version-kind`) unmarshal.
 */
import protobuf from 'protobufjs';
import { stringify as toYaml } from 'yaml';
import { GOOGLE_ANY_PROTO, OPENAPI_V2_PROTO } from './proto.js';
import type { Json } from './swagger.js';

let cachedRoot: protobuf.Root | undefined;

/** The `openapi.v2` protobuf types (parsed once, field names kept snake_case as in gnostic). */
export function openapiV2Root(): protobuf.Root {
  if (!cachedRoot) {
    const r = new protobuf.Root();
    protobuf.parse(GOOGLE_ANY_PROTO, r, { keepCase: true });
    protobuf.parse(OPENAPI_V2_PROTO, r, { keepCase: true });
    r.resolveAll();
    cachedRoot = r;
  }
  return cachedRoot;
}

type Msg = Record<string, unknown>;

const asObject = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const asStrings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

/** A value as gnostic stores free-form YAML. */
function any(value: unknown): Msg {
  return { yaml: toYaml(value, { lineWidth: 0 }) };
}

/** The `x-*` keys of an object as `NamedAny` pairs. */
function vendorExtensions(o: Json): Msg[] {
  return Object.entries(o).filter(([k]) => k.startsWith('x-')).map(([name, value]) => ({ name, value: any(value) }));
}

function schema(s: Json): Msg {
  const out: Msg = {};
  if (typeof s['$ref'] === 'string') out['_ref'] = s['$ref'];
  if (typeof s['format'] === 'string') out['format'] = s['format'];
  if (typeof s['title'] === 'string') out['title'] = s['title'];
  if (typeof s['description'] === 'string') out['description'] = s['description'];
  if (s['default'] !== undefined) out['default'] = any(s['default']);
  if (Array.isArray(s['required'])) out['required'] = asStrings(s['required']);
  if (Array.isArray(s['enum'])) out['enum'] = (s['enum'] as unknown[]).map(any);
  const ap = s['additionalProperties'];
  if (typeof ap === 'boolean') out['additional_properties'] = { boolean: ap };
  else if (ap !== undefined) out['additional_properties'] = { schema: schema(asObject(ap)) };
  if (typeof s['type'] === 'string') out['type'] = { value: [s['type']] };
  else if (Array.isArray(s['type'])) out['type'] = { value: asStrings(s['type']) };
  if (s['items'] !== undefined) out['items'] = { schema: (Array.isArray(s['items']) ? s['items'] : [s['items']]).map((i) => schema(asObject(i))) };
  if (Array.isArray(s['allOf'])) out['all_of'] = (s['allOf'] as unknown[]).map((i) => schema(asObject(i)));
  if (s['properties'] !== undefined) {
    out['properties'] = { additional_properties: Object.entries(asObject(s['properties'])).map(([name, v]) => ({ name, value: schema(asObject(v)) })) };
  }
  if (s['readOnly'] === true) out['read_only'] = true;
  const ext = vendorExtensions(s);
  if (ext.length > 0) out['vendor_extension'] = ext;
  return out;
}

function parameter(p: Json): Msg {
  if (p['in'] === 'body') {
    return { parameter: { body_parameter: {
      description: p['description'] ?? '', name: p['name'] ?? '', in: 'body', required: p['required'] === true,
      schema: schema(asObject(p['schema'])), vendor_extension: vendorExtensions(p),
    } } };
  }
  const common = {
    required: p['required'] === true, in: p['in'], description: p['description'] ?? '', name: p['name'] ?? '',
    type: p['type'] ?? '', format: p['format'] ?? '', unique_items: p['uniqueItems'] === true, vendor_extension: vendorExtensions(p),
  };
  switch (p['in']) {
    case 'query': return { parameter: { non_body_parameter: { query_parameter_sub_schema: common } } };
    case 'path': return { parameter: { non_body_parameter: { path_parameter_sub_schema: common } } };
    default: throw new Error(`openapi v2: parameter ${String(p['name'])} in ${String(p['in'])} is not supported`);
  }
}

const parameters = (v: unknown): Msg[] => (Array.isArray(v) ? v.map((p) => parameter(asObject(p))) : []);

function operation(o: Json): Msg {
  const responses = Object.entries(asObject(o['responses'])).map(([code, r]) => {
    const resp = asObject(r);
    const value: Msg = { description: resp['description'] ?? '', vendor_extension: vendorExtensions(resp) };
    if (resp['schema'] !== undefined) value['schema'] = { schema: schema(asObject(resp['schema'])) };
    return { name: code, value: { response: value } };
  });
  return {
    tags: asStrings(o['tags']),
    summary: o['summary'] ?? '',
    description: o['description'] ?? '',
    operation_id: o['operationId'] ?? '',
    produces: asStrings(o['produces']),
    consumes: asStrings(o['consumes']),
    parameters: parameters(o['parameters']),
    responses: { response_code: responses },
    schemes: asStrings(o['schemes']),
    deprecated: o['deprecated'] === true,
    vendor_extension: vendorExtensions(o),
  };
}

const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'] as const;

function pathItem(p: Json): Msg {
  const out: Msg = { parameters: parameters(p['parameters']), vendor_extension: vendorExtensions(p) };
  for (const m of methods) if (p[m] !== undefined) out[m] = operation(asObject(p[m]));
  return out;
}

/** The gnostic message object of a Swagger 2.0 document (plain object, protobufjs field names). */
export function documentMessage(doc: Json): Msg {
  const info = asObject(doc['info']);
  return {
    swagger: doc['swagger'] ?? '2.0',
    info: { title: info['title'] ?? '', version: info['version'] ?? '', description: info['description'] ?? '', vendor_extension: vendorExtensions(info) },
    host: doc['host'] ?? '',
    base_path: doc['basePath'] ?? '',
    schemes: asStrings(doc['schemes']),
    consumes: asStrings(doc['consumes']),
    produces: asStrings(doc['produces']),
    paths: { path: Object.entries(asObject(doc['paths'])).map(([name, v]) => ({ name, value: pathItem(asObject(v)) })) },
    definitions: { additional_properties: Object.entries(asObject(doc['definitions'])).map(([name, v]) => ({ name, value: schema(asObject(v)) })) },
    vendor_extension: vendorExtensions(doc),
  };
}

/** `doc` encoded as `openapi.v2.Document`. */
export function encodeDocument(doc: Json): Buffer {
  const Document = openapiV2Root().lookupType('openapi.v2.Document');
  const message = documentMessage(doc);
  const err = Document.verify(message);
  if (err) throw new Error(`openapi v2 protobuf: ${err}`);
  return Buffer.from(Document.encode(Document.fromObject(message)).finish());
}

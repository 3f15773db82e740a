/**
 * Decodes `application/vnd.kubernetes.protobuf` request bodies (what `kubectl create <generator>`
 * sends) into the object's JSON form, as kube-apiserver would read it.
 *
 * Body layout: the 4 magic bytes "k8s\0", then a runtime.Unknown message whose typeMeta names the
 * kind and whose raw bytes are the typed object (k8s.io/api generated.proto field numbers).
 */
import protobuf from 'protobufjs';
import { INLINE_FIELDS, KINDS, POINTER_FIELDS, PROTO_FILES } from './schema.js';

export const KUBERNETES_PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';

const MAGIC = [0x6b, 0x38, 0x73, 0x00] as const;

const TIME = '.k8s.io.apimachinery.pkg.apis.meta.v1.Time';
const INT_OR_STRING = '.k8s.io.apimachinery.pkg.util.intstr.IntOrString';
const QUANTITY = '.k8s.io.apimachinery.pkg.api.resource.Quantity';

let cachedRoot: protobuf.Root | undefined;

function root(): protobuf.Root {
  if (!cachedRoot) {
    const r = new protobuf.Root();
    for (const source of PROTO_FILES) protobuf.parse(source, r, { keepCase: true });
    r.resolveAll();
    cachedRoot = r;
  }
  return cachedRoot;
}

/** A decoded protobufjs message: own properties are the fields that were on the wire. */
type Decoded = protobuf.Message<Record<string, unknown>> & Record<string, unknown> & { $unknowns?: Uint8Array[] };

function decodeWith(type: protobuf.Type, bytes: Uint8Array): Decoded {
  const reader = protobuf.Reader.create(bytes);
  // Keep unknown fields (in $unknowns) so fields outside the subset are reported, not silently lost.
  reader.discardUnknown = false;
  return type.decode(reader) as Decoded;
}

function has(msg: object, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(msg, name);
}

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'toNumber' in v && typeof (v as { toNumber: unknown }).toNumber === 'function') {
    return (v as { toNumber(): number }).toNumber();
  }
  return Number(v);
}

function isZeroScalar(v: unknown): boolean {
  if (v === '' || v === false || v === 0) return true;
  if (v instanceof Uint8Array) return v.length === 0;
  if (v && typeof v === 'object' && 'isZero' in v && typeof (v as { isZero: unknown }).isZero === 'function') {
    return (v as { isZero(): boolean }).isZero();
  }
  return false;
}

function scalarToJson(field: protobuf.Field, v: unknown): unknown {
  switch (field.type) {
    case 'bytes':
      return Buffer.from(v as Uint8Array).toString('base64');
    case 'int64': case 'uint64': case 'sint64': case 'fixed64': case 'sfixed64':
      return toNumber(v);
    default:
      return v;
  }
}

/** RFC 3339 with second precision, UTC, as metav1.Time marshals to JSON. */
function timeToJson(msg: Decoded): string | undefined {
  const seconds = has(msg, 'seconds') ? toNumber(msg['seconds']) : 0;
  const nanos = has(msg, 'nanos') ? toNumber(msg['nanos']) : 0;
  if (seconds === 0 && nanos === 0) return undefined; // zero time: omitted (JSON null)
  const d = new Date(seconds * 1000);
  if (Number.isNaN(d.getTime())) throw new Error(`invalid Kubernetes protobuf body: timestamp ${seconds} out of range`);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Whether unknown wire data (tag + value, as protobufjs keeps it) holds only zero values: Go writes
 * every non-pointer field, so a newer client may send empty fields this subset does not list.
 * Length-delimited values are read as nested messages; anything that is not one counts as data.
 */
function unknownIsEmpty(raw: Uint8Array, depth = 0): boolean {
  if (depth > 32) return false;
  try {
    const r = protobuf.Reader.create(raw);
    while (r.pos < r.len) {
      const tag = r.uint32();
      const wireType = tag & 7;
      if (tag >>> 3 === 0) return false;
      switch (wireType) {
        case 0: if (!isZeroScalar(r.uint64())) return false; break;
        case 1: if (!isZeroScalar(r.fixed64())) return false; break;
        case 5: if (r.fixed32() !== 0) return false; break;
        case 2: {
          const b = r.bytes();
          if (b.length > 0 && !unknownIsEmpty(b, depth + 1)) return false;
          break;
        }
        default: return false;
      }
    }
    return true;
  } catch {
    return false;
  }
}

function unknownFieldNumber(raw: Uint8Array): number {
  try {
    return protobuf.Reader.create(raw).uint32() >>> 3;
  } catch {
    return 0;
  }
}

interface Ctx {
  /** JSON paths of fields this subset does not know that carry data. */
  readonly unsupported: string[];
}

function joinPath(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function specialToJson(typeName: string, msg: Decoded, pointer: boolean): unknown {
  switch (typeName) {
    case TIME:
      return timeToJson(msg);
    case INT_OR_STRING: {
      const isString = has(msg, 'type') && toNumber(msg['type']) === 1;
      const v = isString ? (has(msg, 'strVal') ? String(msg['strVal']) : '') : (has(msg, 'intVal') ? toNumber(msg['intVal']) : 0);
      return !pointer && (v === 0 || v === '') ? undefined : v;
    }
    case QUANTITY: {
      const s = has(msg, 'string') ? String(msg['string']) : '';
      if (s === '') return pointer ? '0' : undefined;
      return s;
    }
    default:
      return undefined;
  }
}

function isSpecial(field: protobuf.Field): boolean {
  const t = field.resolvedType;
  if (!(t instanceof protobuf.Type)) return false;
  const name = t.fullName;
  return name === TIME || name === INT_OR_STRING || name === QUANTITY;
}

function valueToJson(field: protobuf.Field, v: unknown, path: string, ctx: Ctx, pointer: boolean): unknown {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type) {
    // A map entry without a value decodes as null: the value is the empty message.
    const msg = (v ?? {}) as Decoded;
    // Map and list items count as pointers: a zero IntOrString/Quantity there is kept ("0").
    if (isSpecial(field)) return specialToJson(t.fullName, msg, pointer);
    return messageToJson(t, msg, path, ctx);
  }
  if (t instanceof protobuf.Enum) return v; // no enums in the Kubernetes schema; kept for completeness
  return scalarToJson(field, v);
}

function messageToJson(type: protobuf.Type, msg: Decoded, path: string, ctx: Ctx): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const raw of msg.$unknowns ?? []) {
    if (!unknownIsEmpty(raw)) {
      ctx.unsupported.push(`${path || '<root>'} (${type.name} field ${unknownFieldNumber(raw)})`);
    }
  }
  for (const field of type.fieldsArray) {
    const name = field.name;
    const key = `${type.name}.${name}`;
    const childPath = joinPath(path, name);
    if (field.map) {
      const m = msg[name] as Record<string, unknown> | undefined;
      if (!m || Object.keys(m).length === 0) continue;
      const obj: Record<string, unknown> = {};
      for (const k of Object.keys(m).sort()) obj[k] = valueToJson(field, m[k], `${childPath}[${k}]`, ctx, true);
      out[name] = obj;
      continue;
    }
    if (field.repeated) {
      const arr = msg[name] as unknown[] | undefined;
      if (!arr || arr.length === 0) continue;
      out[name] = arr.map((item, i) => valueToJson(field, item, `${childPath}[${i}]`, ctx, true));
      continue;
    }
    if (!has(msg, name)) continue;
    const v = msg[name];
    const pointer = POINTER_FIELDS.has(key);
    if (field.resolvedType instanceof protobuf.Type) {
      const j = valueToJson(field, v, childPath, ctx, pointer);
      if (j === undefined) continue;
      if (INLINE_FIELDS.has(key) && j && typeof j === 'object') Object.assign(out, j);
      else out[name] = j;
      continue;
    }
    if (!pointer && isZeroScalar(v)) continue;
    out[name] = valueToJson(field, v, childPath, ctx, pointer);
  }
  return out;
}

function describeError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Decodes a Kubernetes protobuf request body (magic "k8s\0" + runtime.Unknown) into the object's
 * JSON form: `apiVersion` and `kind` from the envelope, camelCase field names, int64 as numbers,
 * maps as objects, bytes as base64, IntOrString as number or string, Quantity as string, Time as
 * RFC 3339 (`2026-01-01T00:00:00Z`), zero times and zero non-pointer values omitted.
 *
 * Throws an Error on a bad prefix, malformed protobuf, an unsupported kind
 * (`unsupported protobuf kind <apiVersion>/<kind>: send JSON instead`) or a field outside the
 * supported subset that carries data.
 */
export function decodeKubernetesProtobuf(body: Uint8Array): Record<string, unknown> {
  if (body.length < MAGIC.length || MAGIC.some((b, i) => body[i] !== b)) {
    throw new Error('invalid Kubernetes protobuf body: missing the "k8s\\0" magic prefix');
  }
  const r = root();
  let envelope: Decoded;
  try {
    envelope = decodeWith(r.lookupType('k8s.io.apimachinery.pkg.runtime.Unknown'), body.subarray(MAGIC.length));
  } catch (e) {
    throw new Error(`invalid Kubernetes protobuf body: ${describeError(e)}`);
  }
  const typeMeta = (has(envelope, 'typeMeta') ? envelope['typeMeta'] : {}) as Decoded;
  const apiVersion = has(typeMeta, 'apiVersion') ? String(typeMeta['apiVersion']) : '';
  const kind = has(typeMeta, 'kind') ? String(typeMeta['kind']) : '';
  const encoding = has(envelope, 'contentEncoding') ? String(envelope['contentEncoding']) : '';
  if (encoding !== '') {
    throw new Error(`unsupported protobuf content encoding "${encoding}": send JSON instead`);
  }
  const contentType = has(envelope, 'contentType') ? String(envelope['contentType']) : '';
  if (contentType !== '' && contentType !== KUBERNETES_PROTOBUF_CONTENT_TYPE) {
    throw new Error(`unsupported protobuf inner content type "${contentType}": send JSON instead`);
  }
  const typeName = KINDS.get(`${apiVersion}/${kind}`);
  if (!typeName) throw new Error(`unsupported protobuf kind ${apiVersion}/${kind}: send JSON instead`);
  const type = r.lookupType(typeName);
  const rawBytes = has(envelope, 'raw') ? (envelope['raw'] as Uint8Array) : new Uint8Array(0);
  let obj: Decoded;
  try {
    obj = decodeWith(type, rawBytes);
  } catch (e) {
    throw new Error(`invalid Kubernetes protobuf body: ${apiVersion}/${kind}: ${describeError(e)}`);
  }
  const ctx: Ctx = { unsupported: [] };
  const json = messageToJson(type, obj, '', ctx);
  if (ctx.unsupported.length > 0) {
    throw new Error(`unsupported protobuf field(s) in ${apiVersion}/${kind}: ${ctx.unsupported.join(', ')}: send JSON instead`);
  }
  return { apiVersion, kind, ...json };
}

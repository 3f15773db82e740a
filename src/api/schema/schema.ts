import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ListMetadata } from './list-metadata.js';

/** An OpenAPI v3 schema object, as generated from upstream's types (see scripts/gen-openapi.ts). */
export interface Schema extends ListMetadata {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema | boolean;
  allOf?: Schema[];
  $ref?: string;
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

const schemaFile = fileURLToPath(new URL('../../../generated/k8s-schemas.json', import.meta.url));
let all: Record<string, Schema> | undefined;

/** Every component schema by OpenAPI name (`io.k8s.api.core.v1.Pod`); loaded once, on first use. */
export function schemas(): Record<string, Schema> {
  if (!all) {
    try {
      all = JSON.parse(readFileSync(schemaFile, 'utf8')) as Record<string, Schema>;
    } catch (e) {
      throw new Error(`cannot read the generated OpenAPI schemas at ${schemaFile} (run npm run build): ${(e as Error).message}`);
    }
  }
  return all;
}

/** The OpenAPI name a `$ref` points to. */
export function refName(ref: string): string {
  return ref.slice(ref.lastIndexOf('/') + 1);
}

/** What each schema resolves to: every decode, validation and field-ownership walk asks for every node it visits. */
const resolved = new WeakMap<Schema, Schema | null>();

/** Follows `$ref` and single-element `allOf` wrappers to the schema that describes the value. */
export function resolve(s: Schema | undefined): Schema | undefined {
  if (!s) return undefined;
  const known = resolved.get(s);
  if (known !== undefined) return known ?? undefined;
  let cur: Schema | undefined = s;
  for (let i = 0; cur && i < 8; i++) {
    if (cur.$ref) cur = schemas()[refName(cur.$ref)];
    else if (cur.allOf && cur.allOf.length === 1) cur = cur.allOf[0];
    else break;
  }
  resolved.set(s, cur ?? null);
  return cur;
}

/** The OpenAPI name behind a property schema, if it is a reference. */
export function typeNameOf(s: Schema | undefined): string | undefined {
  if (!s) return undefined;
  if (s.$ref) return refName(s.$ref);
  if (s.allOf?.length === 1) return typeNameOf(s.allOf[0]);
  return undefined;
}

/** The schema of a field of an object schema (unresolved, so list metadata stays visible). */
export function fieldSchema(parent: Schema | undefined, field: string): Schema | undefined {
  const p = resolve(parent);
  if (!p) return undefined;
  if (p.properties && Object.prototype.hasOwnProperty.call(p.properties, field)) return p.properties[field];
  if (p.additionalProperties && typeof p.additionalProperties === 'object') return p.additionalProperties;
  return undefined;
}

/** The item schema of a list schema. */
export function itemSchema(list: Schema | undefined): Schema | undefined {
  return resolve(list)?.items;
}

export function schemaByName(name: string): Schema | undefined {
  return schemas()[name];
}

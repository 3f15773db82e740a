/**
 * Build step: turns the declarations of the `kubernetes-types` package (generated upstream from the
 * Kubernetes OpenAPI, with every field's documentation) back into OpenAPI v3 component schemas, so the
 * server's `/openapi/v3`, `kubectl explain` and strict field validation use upstream's own field
 * descriptions instead of hand-written ones. Patch and list metadata (merge keys, list types), which
 * the declarations do not carry, come from `src/api/schema/list-metadata.ts`.
 *
 * Output: dist/generated/k8s-schemas.json, `{ "<openapi name>": <schema> }`.
 */
import ts from 'typescript';
import { readdirSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { listMetadata } from '../src/api/schema/list-metadata.js';

type Schema = Record<string, unknown>;

const require = createRequire(import.meta.url);
const pkgDir = dirname(require.resolve('kubernetes-types/package.json'));
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outFile = join(root, 'dist', 'generated', 'k8s-schemas.json');

/** Maps a declaration file (relative to the package, without .d.ts) to upstream's OpenAPI name prefix. */
function openapiPrefix(rel: string): string {
  if (rel === 'runtime') return 'io.k8s.apimachinery.pkg.runtime';
  if (rel === 'version') return 'io.k8s.apimachinery.pkg.version';
  if (rel === 'api/resource') return 'io.k8s.apimachinery.pkg.api.resource';
  if (rel.startsWith('meta/')) return `io.k8s.apimachinery.pkg.apis.meta.${rel.slice(5)}`;
  if (rel.startsWith('apiextensions/')) return `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.${rel.slice(14)}`;
  if (rel.startsWith('apiregistration/')) return `io.k8s.kube-aggregator.pkg.apis.apiregistration.${rel.slice(16)}`;
  return `io.k8s.api.${rel.replace('/', '.')}`;
}

function declarationFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...declarationFiles(p));
    else if (name.endsWith('.d.ts') && name !== 'index.d.ts') out.push(p);
  }
  return out;
}

/** The JSDoc text of a node, with the `*` margins gone, as upstream's description strings read. */
function docOf(node: ts.Node): string | undefined {
  const docs = (node as { jsDoc?: ts.JSDoc[] }).jsDoc;
  if (!docs || docs.length === 0) return undefined;
  const c = docs[docs.length - 1]!.comment;
  if (c === undefined) return undefined;
  return typeof c === 'string' ? c : c.map((p) => p.text).join('');
}

const schemas: Record<string, Schema> = {};
const files = declarationFiles(pkgDir);
const program = ts.createProgram(files, { noResolve: true });

for (const file of files) {
  const rel = relative(pkgDir, file).replace(/\.d\.ts$/, '').split('\\').join('/');
  const prefix = openapiPrefix(rel);
  const sf = program.getSourceFile(file)!;
  // Imported names resolve to the prefix of the file they come from.
  const imports = new Map<string, string>();
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) && st.importClause?.namedBindings && ts.isNamedImports(st.importClause.namedBindings)) {
      const from = (st.moduleSpecifier as ts.StringLiteral).text;
      const target = join(dirname(rel), from).split('\\').join('/');
      for (const el of st.importClause.namedBindings.elements) imports.set(el.name.text, openapiPrefix(target));
    }
  }
  const refName = (name: string): string => `${imports.get(name) ?? prefix}.${name}`;

  const typeSchema = (t: ts.TypeNode): Schema => {
    if (ts.isUnionTypeNode(t)) {
      const kinds = t.types.map((x) => x.kind).sort();
      if (kinds.includes(ts.SyntaxKind.NumberKeyword) && kinds.includes(ts.SyntaxKind.StringKeyword)) {
        return { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString' };
      }
      return typeSchema(t.types[0]!);
    }
    if (t.kind === ts.SyntaxKind.StringKeyword) return { type: 'string' };
    if (t.kind === ts.SyntaxKind.NumberKeyword) return { type: 'integer' };
    if (t.kind === ts.SyntaxKind.BooleanKeyword) return { type: 'boolean' };
    if (ts.isLiteralTypeNode(t)) return { type: 'string' };
    if (ts.isArrayTypeNode(t)) return { type: 'array', items: typeSchema(t.elementType) };
    if (ts.isTypeReferenceNode(t)) {
      const n = t.typeName.getText(sf);
      if (n === 'Array' && t.typeArguments?.[0]) return { type: 'array', items: typeSchema(t.typeArguments[0]) };
      return { $ref: `#/components/schemas/${refName(n)}` };
    }
    if (ts.isTypeLiteralNode(t)) {
      const idx = t.members.find(ts.isIndexSignatureDeclaration);
      if (idx?.type) return { type: 'object', additionalProperties: typeSchema(idx.type) };
      return { type: 'object' };
    }
    return {};
  };

  for (const st of sf.statements) {
    if (ts.isInterfaceDeclaration(st)) {
      const name = `${prefix}.${st.name.text}`;
      const properties: Record<string, Schema> = {};
      const required: string[] = [];
      let apiVersion: string | undefined;
      let kind: string | undefined;
      for (const m of st.members) {
        if (!ts.isPropertySignature(m) || !m.type) continue;
        const prop = m.name.getText(sf).replace(/^"|"$/g, '');
        let s = typeSchema(m.type);
        if (prop === 'apiVersion' && ts.isLiteralTypeNode(m.type)) apiVersion = (m.type.literal as ts.StringLiteral).text;
        if (prop === 'kind' && ts.isLiteralTypeNode(m.type)) kind = (m.type.literal as ts.StringLiteral).text;
        const d = docOf(m);
        // As upstream: a reference with a description is wrapped in allOf so the description can sit beside it.
        if (s['$ref']) s = d ? { allOf: [s], description: d } : { allOf: [s] };
        else if (d) s = { ...s, description: d };
        if (s['type'] === 'array' && (s['items'] as Schema)['$ref']) s['items'] = { allOf: [s['items']] };
        const meta = listMetadata[name]?.[prop];
        if (meta) Object.assign(s, meta);
        properties[prop] = s;
        if (!m.questionToken) required.push(prop);
      }
      const schema: Schema = { type: 'object' };
      const d = docOf(st);
      if (d) schema['description'] = d;
      if (Object.keys(properties).length > 0) schema['properties'] = properties;
      if (required.length > 0) schema['required'] = required;
      if (apiVersion && kind) {
        const [g, v] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
        schema['x-kubernetes-group-version-kind'] = [{ group: g, kind, version: v }];
      }
      schemas[name] = schema;
    } else if (ts.isTypeAliasDeclaration(st)) {
      const name = `${prefix}.${st.name.text}`;
      const s: Schema = { ...typeSchema(st.type) };
      const d = docOf(st);
      if (d) s['description'] = d;
      if (st.name.text === 'Time') s['format'] = 'date-time';
      if (st.name.text === 'MicroTime') s['format'] = 'date-time';
      schemas[name] = s;
    }
  }
}

schemas['io.k8s.apimachinery.pkg.util.intstr.IntOrString'] = {
  type: 'string',
  format: 'int-or-string',
  'x-kubernetes-int-or-string': true,
  description: 'Either an integer (int32) or a string, such as a percentage ("25%") or a named port ("http").',
};
for (const t of ['Quantity']) {
  const s = schemas[`io.k8s.apimachinery.pkg.api.resource.${t}`];
  if (s) { s['x-kubernetes-int-or-string'] = true; delete s['type']; }
}
const raw = schemas['io.k8s.apimachinery.pkg.runtime.RawExtension'];
if (raw) { delete raw['properties']; raw['x-kubernetes-preserve-unknown-fields'] = true; }
const fields = schemas['io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1'];
if (fields) fields['x-kubernetes-preserve-unknown-fields'] = true;

mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify(schemas));
process.stdout.write(`openapi: ${Object.keys(schemas).length} schemas from kubernetes-types -> ${relative(root, outFile)}\n`);

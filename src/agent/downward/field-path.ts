import type { Pod } from 'kubernetes-types/core/v1.js';

/**
 * Pod fields by path (`metadata.name`, `metadata.labels['app']` ...), rendered as upstream's
 * fieldpath package renders them for downward API volumes and environment variables.
 */

/**
 * Go's strconv.Quote (the `%q` verb): double quotes, backslash escapes for `"`, `\` and control
 * characters, `\u`/`\U` for other unprintable runes, printable Unicode kept as is.
 */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    switch (ch) {
      case '"': out += '\\"'; continue;
      case '\\': out += '\\\\'; continue;
      case '\x07': out += '\\a'; continue;
      case '\b': out += '\\b'; continue;
      case '\f': out += '\\f'; continue;
      case '\n': out += '\\n'; continue;
      case '\r': out += '\\r'; continue;
      case '\t': out += '\\t'; continue;
      case '\v': out += '\\v'; continue;
    }
    // unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
    if (ch === ' ' || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) out += ch;
    else if (cp < 0x80) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

/** A label or annotation map as `key="value"` lines, keys sorted, no trailing newline (FormatMap). */
export function formatMap(m: Readonly<Record<string, string>> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${goQuote(m?.[k] ?? '')}`)
    .join('\n');
}

/** Splits `metadata.labels['key']` into path and subscript; undefined when not subscripted. */
export function splitSubscriptedPath(fieldPath: string): { path: string; subscript: string } | undefined {
  if (!fieldPath.endsWith("']")) return undefined;
  const s = fieldPath.slice(0, -2);
  const i = s.indexOf("['");
  if (i <= 0) return undefined;
  return { path: s.slice(0, i), subscript: s.slice(i + 2) };
}

/**
 * The value of a pod metadata field as upstream's ExtractFieldPathAsString returns it: name,
 * namespace, uid, whole label/annotation maps (formatted) or one key of them. Throws upstream's
 * errors for anything else.
 */
export function podMetadataField(pod: Pod, fieldPath: string): string {
  const meta = pod.metadata ?? {};
  const sub = splitSubscriptedPath(fieldPath);
  if (sub) {
    if (sub.path === 'metadata.annotations') return meta.annotations?.[sub.subscript] ?? '';
    if (sub.path === 'metadata.labels') return meta.labels?.[sub.subscript] ?? '';
    throw new Error(`fieldPath "${fieldPath}" does not support subscript`);
  }
  switch (fieldPath) {
    case 'metadata.annotations': return formatMap(meta.annotations);
    case 'metadata.labels': return formatMap(meta.labels);
    case 'metadata.name': return meta.name ?? '';
    case 'metadata.namespace': return meta.namespace ?? '';
    case 'metadata.uid': return meta.uid ?? '';
  }
  throw new Error(`unsupported fieldPath: ${fieldPath}`);
}

import { isPlainObject } from '../types.js';

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Sets a key as an own data property, so a key named `__proto__` is data, not a prototype swap. */
function setKey(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** Applies an RFC 7386 JSON merge patch: maps merge recursively, `null` deletes, everything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else setKey(out, k, applyMergePatch(hasOwn(out, k) ? out[k] : undefined, v));
  }
  return out;
}

/** The merge patch that turns `from` into `to` (RFC 7386 "generate"); `{}` when they are equal. */
export function createMergePatch(from: unknown, to: unknown): unknown {
  if (!isPlainObject(from) || !isPlainObject(to)) return to;
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(from)) if (!hasOwn(to, k)) setKey(patch, k, null);
  for (const [k, v] of Object.entries(to)) {
    const f = hasOwn(from, k) ? from[k] : undefined;
    if (isPlainObject(f) && isPlainObject(v)) {
      const sub = createMergePatch(f, v);
      if (isPlainObject(sub) && Object.keys(sub).length > 0) setKey(patch, k, sub);
    } else if (!hasOwn(from, k) || !jsonEqual(f, v)) setKey(patch, k, v);
  }
  return patch;
}

/** Deep JSON equality, ignoring the order of object keys. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

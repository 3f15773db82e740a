import { isPlainObject } from '../types.js';

/** Applies an RFC 7386 JSON merge patch: maps merge recursively, `null` deletes, everything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/** The merge patch that turns `from` into `to` (RFC 7386 "generate"); `{}` when they are equal. */
export function createMergePatch(from: unknown, to: unknown): unknown {
  if (!isPlainObject(from) || !isPlainObject(to)) return to;
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(from)) if (!(k in to)) patch[k] = null;
  for (const [k, v] of Object.entries(to)) {
    const f = from[k];
    if (isPlainObject(f) && isPlainObject(v)) {
      const sub = createMergePatch(f, v);
      if (isPlainObject(sub) && Object.keys(sub).length > 0) patch[k] = sub;
    } else if (JSON.stringify(f) !== JSON.stringify(v)) patch[k] = v;
  }
  return patch;
}

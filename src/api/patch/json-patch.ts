import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { ApiError, badRequest } from '../status.js';

/** The Go JSON kind named when a patch body is not an array of operations. */
function goKind(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'bool';
  return 'object';
}

/**
 * Applies an RFC 6902 JSON patch (as `kubectl rollout undo` and `patch --type json` send) to a copy of
 * `doc`. A body that is not an array is a 400; an operation that does not apply is upstream's 422,
 * whose message carries no detail.
 */
export function applyJsonPatch(doc: unknown, ops: unknown): unknown {
  if (ops === null) return structuredClone(doc);
  if (!Array.isArray(ops)) throw badRequest(`json: cannot unmarshal ${goKind(ops)} into Go value of type jsonpatch.Patch`);
  for (const op of ops) {
    if (op !== null && (typeof op !== 'object' || Array.isArray(op))) {
      throw badRequest(`json: cannot unmarshal ${Array.isArray(op) ? 'array' : goKind(op)} into Go value of type jsonpatch.Operation`);
    }
  }
  try {
    return jsonpatch.applyPatch(structuredClone(doc), ops as Operation[], true, false).newDocument;
  } catch {
    throw new ApiError(422, 'Invalid', 'the server rejected our request due to an error in our request', {});
  }
}

import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { ApiError, badRequest } from '../status.js';

/** Applies an RFC 6902 JSON patch (as `kubectl rollout undo` and `patch --type json` send) to a copy of `doc`. */
export function applyJsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json patch must be a JSON array of operations');
  try {
    return jsonpatch.applyPatch(structuredClone(doc), ops as Operation[], true, false).newDocument;
  } catch (e) {
    const err = e as Error & { name?: string; operation?: Operation };
    const msg = err.operation ? `${err.operation.op} operation does not apply: ${err.message.split('\n')[0]}` : err.message.split('\n')[0];
    throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: jsonpatch ${msg}`);
  }
}

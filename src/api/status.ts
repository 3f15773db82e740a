import type { Status, StatusCause } from 'kubernetes-types/meta/v1.js';

/** The `reason` values of a failed `metav1.Status`, as kubectl prints them in "Error from server (<reason>)". */
export type StatusReason =
  | 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Invalid' | 'BadRequest' | 'Forbidden' | 'Unauthorized'
  | 'MethodNotAllowed' | 'UnsupportedMediaType' | 'NotAcceptable' | 'RequestEntityTooLarge' | 'Gone' | 'Expired'
  | 'Timeout' | 'TooManyRequests' | 'InternalError' | 'ServiceUnavailable' | 'Unknown';

/** What a resource is called in messages: `pods`, or `deployments` in group `apps` ("deployments.apps"). */
export interface ResourceName {
  readonly group: string;
  readonly resource: string;
}

function qualified(r: ResourceName): string {
  return r.group ? `${r.resource}.${r.group}` : r.resource;
}

/**
 * An error the API answers with a `metav1.Status` body. Every failure a client can see is one of these,
 * made by the constructors below so messages read exactly as upstream's.
 */
export class ApiError extends Error {
  readonly status: Status & { code: number };
  /** Extra response headers (Retry-After). */
  readonly headers: Record<string, string>;

  constructor(code: number, reason: StatusReason, message: string, details?: Status['details'], headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code, ...(details ? { details } : {}) };
    this.headers = headers;
  }

  get code(): number { return this.status.code; }
  get reason(): string { return this.status.reason ?? ''; }
}

export const notFound = (r: ResourceName, name: string): ApiError =>
  new ApiError(404, 'NotFound', `${qualified(r)} "${name}" not found`, { name, ...(r.group ? { group: r.group } : {}), kind: r.resource });

export const alreadyExists = (r: ResourceName, name: string): ApiError =>
  new ApiError(409, 'AlreadyExists', `${qualified(r)} "${name}" already exists`, { name, ...(r.group ? { group: r.group } : {}), kind: r.resource });

export const conflict = (r: ResourceName, name: string, why: string): ApiError =>
  new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(r)} "${name}": ${why}`, { name, ...(r.group ? { group: r.group } : {}), kind: r.resource });

export const modifiedConflict = (r: ResourceName, name: string): ApiError =>
  conflict(r, name, 'the object has been modified; please apply your changes to the latest version and try again');

/** One field-level problem inside a 422 Invalid. */
export interface FieldError {
  readonly type: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueDuplicate' | 'FieldValueNotSupported' | 'FieldValueForbidden' | 'FieldValueTooLong' | 'FieldValueNotFound' | 'FieldValueTypeInvalid' | 'FieldValueTooMany';
  readonly field: string;
  /** The message body after "field: ", e.g. `Required value` or `Invalid value: "x": must be ...`. */
  readonly detail: string;
}

export const invalid = (kind: string, group: string, name: string, errors: readonly FieldError[]): ApiError => {
  const parts = errors.map((e) => `${e.field}: ${e.detail}`);
  const list = parts.length === 1 ? parts[0]! : `[${parts.join(', ')}]`;
  const causes: StatusCause[] = errors.map((e) => ({ reason: e.type, message: e.detail, field: e.field }));
  return new ApiError(422, 'Invalid', `${kind} "${name}" is invalid: ${list}`, { name, ...(group ? { group } : {}), kind, causes });
};

export const badRequest = (message: string): ApiError => new ApiError(400, 'BadRequest', message);

export const forbidden = (r: ResourceName, name: string, why: string): ApiError =>
  new ApiError(403, 'Forbidden', `${qualified(r)} "${name}" is forbidden: ${why}`, { name, ...(r.group ? { group: r.group } : {}), kind: r.resource });

export const unauthorized = (): ApiError => new ApiError(401, 'Unauthorized', 'Unauthorized');

export const methodNotAllowed = (): ApiError =>
  new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');

export const unsupportedMediaType = (got: string, accepted: readonly string[]): ApiError =>
  new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format (${got || 'none'}) - accepted media types include: ${accepted.join(', ')}`);

export const notAcceptable = (accepted: readonly string[]): ApiError =>
  new ApiError(406, 'NotAcceptable', `only the following media types are accepted: ${accepted.join(', ')}`);

export const tooLarge = (limit: number): ApiError =>
  new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);

/** A resourceVersion older than the retained history (watch, or a list at an exact revision). */
export const expired = (message: string): ApiError => new ApiError(410, 'Expired', message);

export const tooLargeResourceVersion = (requested: number, current: number): ApiError =>
  new ApiError(504, 'Timeout', `Timeout: Too large resource version: ${requested}, current: ${current}`,
    { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 }, { 'Retry-After': '1' });

export const notFoundPath = (): ApiError => new ApiError(404, 'NotFound', 'the server could not find the requested resource');

export const internalError = (message: string): ApiError =>
  new ApiError(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });

export const serviceUnavailable = (message: string): ApiError => new ApiError(503, 'ServiceUnavailable', message);

/** A successful `metav1.Status`, as DELETE answers for kinds that do not return the deleted object. */
export function successStatus(details: Status['details']): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
}

import type { FieldError } from '../status.js';

/** Formats a rejected value the way upstream's field errors print it: strings quoted, numbers bare. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null || value === undefined) return 'null';
  // Go's %#v of a string map, which is how upstream prints label maps in messages.
  if (typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string')) {
    return `map[string]string{${Object.entries(value as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(', ')}}`;
  }
  return JSON.stringify(value);
}

export const required = (field: string, detail = ''): FieldError =>
  ({ type: 'FieldValueRequired', field, detail: detail ? `Required value: ${detail}` : 'Required value' });

export const invalidValue = (field: string, value: unknown, detail: string): FieldError =>
  ({ type: 'FieldValueInvalid', field, detail: `Invalid value: ${formatValue(value)}${detail ? `: ${detail}` : ''}` });

export const notSupported = (field: string, value: unknown, supported: readonly string[]): FieldError =>
  ({ type: 'FieldValueNotSupported', field, detail: `Unsupported value: ${formatValue(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}` });

export const duplicate = (field: string, value: unknown): FieldError =>
  ({ type: 'FieldValueDuplicate', field, detail: `Duplicate value: ${formatValue(value)}` });

export const forbiddenField = (field: string, detail: string): FieldError =>
  ({ type: 'FieldValueForbidden', field, detail: `Forbidden: ${detail}` });

export const notFoundField = (field: string, value: unknown): FieldError =>
  ({ type: 'FieldValueNotFound', field, detail: `Not found: ${formatValue(value)}` });

export const tooLong = (field: string, max: number): FieldError =>
  ({ type: 'FieldValueTooLong', field, detail: `Too long: may not be more than ${max} bytes` });

export const immutable = (field: string, value: unknown): FieldError =>
  invalidValue(field, value, 'field is immutable');

import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';

/** Any Kubernetes object as it travels through skiff: typed metadata, everything else open. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: Mutable<ObjectMeta>;
  [field: string]: unknown;
}

export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

/** `apps/v1`, or `v1` for the core group. */
export function apiVersionOf(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

/** A plain JSON value, for code that walks objects generically. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The same type with `readonly` dropped (kubernetes-types marks server-owned fields readonly). */
export type Mutable<T> = { -readonly [P in keyof T]: T[P] };

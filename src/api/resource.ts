import type { FieldError } from './status.js';
import type { FieldGetter } from './selectors/field-selector.js';
import type { TablePrinter } from './printers/table.js';
import type { NameValidator } from './validation/object-meta.js';
import type { GroupVersionKind, KubeObject } from './types.js';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export const allVerbs: readonly Verb[] = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** A subresource as discovery advertises it (`pods/status`, `deployments/scale`, ...). */
export interface SubresourceDefinition {
  readonly name: string;
  readonly kind: GroupVersionKind;
  readonly verbs: readonly string[];
}

/** What a DELETE of one object should do, decided by the kind. */
export type DeletePlan =
  | { readonly kind: 'now' }
  /** Mark `deletionTimestamp` now + seconds and leave removal to whoever owns the object (the node agent). */
  | { readonly kind: 'graceful'; readonly seconds: number };

/**
 * Everything the API server knows about one resource: its names (for URLs, discovery, messages),
 * where it lives in the store, and the kind's strategy hooks (defaulting, validation, printing,
 * selectable fields), the way upstream's registry strategies describe a kind.
 */
export interface ResourceDefinition<T extends KubeObject = KubeObject> {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly listKind: string;
  /** Plural, lower case: the URL segment (`pods`). */
  readonly plural: string;
  readonly singular: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly verbs: readonly Verb[];
  readonly subresources: readonly SubresourceDefinition[];
  /** Store key prefix ending in `/`, e.g. `/registry/pods/`; several versions of a kind may share one. */
  readonly storagePrefix: string;
  /** OpenAPI component name of the kind (`io.k8s.api.core.v1.Pod`). */
  readonly openapiName: string;
  /** True when `status` is written only through the status subresource. */
  readonly statusSubresource: boolean;
  /** True when `metadata.generation` counts spec changes. */
  readonly tracksGeneration: boolean;
  readonly nameRule: NameValidator;
  /** PUT may create a missing object (events, leases). */
  readonly allowCreateOnUpdate?: boolean;
  /** DELETE answers with the deleted object instead of a Status (pods do). */
  readonly returnDeletedObject?: boolean;
  /** Seconds until objects are removed by the store (events: 1 h). */
  readonly ttlSeconds?: number;
  /** API defaulting, applied to every object decoded for a write. */
  defaults?(obj: T): void;
  /** Sets server-owned fields of a new object (status phase, QoS class...). */
  prepareForCreate?(obj: T): void;
  /** Carries server-owned fields across an update of the main resource. */
  prepareForUpdate?(obj: T, old: T): void;
  validate?(obj: T): FieldError[];
  validateUpdate?(obj: T, old: T): FieldError[];
  /** How DELETE proceeds for this object with the requested grace period. */
  deletePlan?(obj: T, gracePeriodSeconds: number | undefined): DeletePlan;
  /** Selectable fields beyond `metadata.name` and `metadata.namespace`. */
  readonly fields: Readonly<Record<string, FieldGetter>>;
  readonly printer: TablePrinter<T>;
  /** For a kind served over another version's storage (events.k8s.io/v1 over core/v1). */
  readonly conversion?: {
    toStorage(obj: T): KubeObject;
    fromStorage(obj: KubeObject): T;
  };
}

/** `deployments.apps`, or `pods` for the core group: how upstream names resources in messages. */
export function qualifiedResource(def: Pick<ResourceDefinition, 'group' | 'plural'>): { group: string; resource: string } {
  return { group: def.group, resource: def.plural };
}

export function apiVersion(def: Pick<ResourceDefinition, 'group' | 'version'>): string {
  return def.group ? `${def.group}/${def.version}` : def.version;
}

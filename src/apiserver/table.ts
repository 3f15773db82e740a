import type { ResourceDefinition } from '../api/resource.js';
import type { KubeObject } from '../api/types.js';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function parseIncludeObject(v: string | null): IncludeObject {
  if (v === 'None' || v === 'Object') return v;
  return 'Metadata';
}

/** One Table row for an object: the kind's cells, and the object itself as `includeObject` asks. */
export function tableRow(def: ResourceDefinition, obj: KubeObject, storageForm: KubeObject, include: IncludeObject, now: number): Record<string, unknown> {
  const row: Record<string, unknown> = { cells: def.printer.row(storageForm, now) };
  const conditions = def.printer.conditions?.(storageForm);
  if (conditions) row['conditions'] = conditions;
  if (include === 'Object') row['object'] = obj;
  else if (include === 'Metadata') {
    const { managedFields: _mf, ...metadata } = obj.metadata;
    row['object'] = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata };
  }
  return row;
}

/**
 * A `meta.k8s.io` Table as kubectl's human output asks for (`Accept: ...;as=Table`). Column definitions
 * are left out of watch events after the first, as upstream does.
 */
export function toTable(def: ResourceDefinition, rows: Record<string, unknown>[], opts: { version: 'v1' | 'v1beta1'; resourceVersion?: string; continue?: string; remainingItemCount?: number; withColumns: boolean }): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  if (opts.resourceVersion) metadata['resourceVersion'] = opts.resourceVersion;
  if (opts.continue) metadata['continue'] = opts.continue;
  if (opts.remainingItemCount !== undefined) metadata['remainingItemCount'] = opts.remainingItemCount;
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${opts.version}`,
    metadata,
    columnDefinitions: opts.withColumns ? def.printer.columns : [],
    rows,
  };
}

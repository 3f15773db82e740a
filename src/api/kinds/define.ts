import { allVerbs, type ResourceDefinition, type SubresourceDefinition } from '../resource.js';
import { defaultPrinter } from '../printers/core.js';
import { dns1123SubdomainName } from '../validation/object-meta.js';
import type { KubeObject } from '../types.js';

type Required<T, K extends keyof T> = T & { [P in K]-?: T[P] };

/** The parts of a definition each kind must state; the rest has upstream's usual values. */
export type ResourceSpec<T extends KubeObject> = Required<Partial<ResourceDefinition<T>>, 'group' | 'version' | 'kind' | 'plural' | 'namespaced' | 'openapiName'>;

/** Fills a kind's definition with the common defaults (all verbs, subdomain names, Name/Age table). */
export function defineResource<T extends KubeObject>(spec: ResourceSpec<T>): ResourceDefinition<T> {
  return {
    listKind: `${spec.kind}List`,
    singular: spec.kind.toLowerCase(),
    shortNames: [],
    categories: [],
    verbs: allVerbs,
    subresources: [],
    storagePrefix: `/registry/${spec.plural}/`,
    statusSubresource: false,
    tracksGeneration: false,
    nameRule: dns1123SubdomainName,
    fields: {},
    printer: defaultPrinter as unknown as ResourceDefinition<T>['printer'],
    ...spec,
  };
}

/** The `status` subresource of a kind. */
export function statusSubresource(group: string, version: string, kind: string): SubresourceDefinition {
  return { name: 'status', kind: { group, version, kind }, verbs: ['get', 'patch', 'update'] };
}

import type { ResourceDefinition } from '../api/resource.js';

/** The media type kubectl needs on aggregated discovery replies (plain application/json is not accepted). */
export const aggregatedType = (v: 'v2' | 'v2beta1'): string => `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`;

/** Which aggregated discovery version the Accept header asks for, if any. */
export function wantsAggregated(accept: string | undefined): 'v2' | 'v2beta1' | undefined {
  for (const part of (accept ?? '').split(',')) {
    if (!part.includes('as=APIGroupDiscoveryList') || !part.includes('g=apidiscovery.k8s.io')) continue;
    if (/v=v2(;|$|\s)/.test(part) || part.trim().endsWith('v=v2')) return 'v2';
    if (part.includes('v=v2beta1')) return 'v2beta1';
  }
  return undefined;
}

interface GroupVersion { group: string; version: string; resources: ResourceDefinition[] }

/** Groups the served resources by group and version, core group first, in registration order. */
export function groupVersions(resources: readonly ResourceDefinition[]): GroupVersion[] {
  const out: GroupVersion[] = [];
  for (const r of resources) {
    let gv = out.find((g) => g.group === r.group && g.version === r.version);
    if (!gv) out.push((gv = { group: r.group, version: r.version, resources: [] }));
    gv.resources.push(r);
  }
  return out;
}

function aggregatedResource(r: ResourceDefinition): Record<string, unknown> {
  const out: Record<string, unknown> = {
    resource: r.plural,
    responseKind: { group: r.group, version: r.version, kind: r.kind },
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: [...r.verbs],
  };
  if (r.shortNames.length > 0) out['shortNames'] = [...r.shortNames];
  if (r.categories.length > 0) out['categories'] = [...r.categories];
  if (r.subresources.length > 0) {
    out['subresources'] = r.subresources.map((s) => ({ subresource: s.name, responseKind: s.kind, verbs: [...s.verbs] }));
  }
  return out;
}

/** The aggregated discovery document of `/api` (core) or `/apis` (named groups). */
export function aggregatedDiscovery(resources: readonly ResourceDefinition[], core: boolean, version: 'v2' | 'v2beta1'): Record<string, unknown> {
  const gvs = groupVersions(resources).filter((g) => (g.group === '') === core);
  const groups = new Map<string, GroupVersion[]>();
  for (const gv of gvs) groups.set(gv.group, [...(groups.get(gv.group) ?? []), gv]);
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `apidiscovery.k8s.io/${version}`,
    metadata: {},
    items: [...groups.entries()].map(([name, versions]) => ({
      metadata: name ? { name, creationTimestamp: null } : { creationTimestamp: null },
      versions: versions.map((v) => ({ version: v.version, resources: v.resources.map(aggregatedResource), freshness: 'Current' })),
    })),
  };
}

/** Legacy `/api`: the core group's versions. */
export function apiVersions(serverAddress: string): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function apiGroup(name: string, versions: string[]): Record<string, unknown> {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

/** Legacy `/apis`: every named group. */
export function apiGroupList(resources: readonly ResourceDefinition[]): Record<string, unknown> {
  const groups = new Map<string, string[]>();
  for (const gv of groupVersions(resources)) if (gv.group) groups.set(gv.group, [...(groups.get(gv.group) ?? []), gv.version]);
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups.entries()].map(([n, v]) => apiGroup(n, v)) };
}

/** Legacy `/apis/{group}`, or undefined for an unknown group. */
export function apiGroupDoc(resources: readonly ResourceDefinition[], group: string): Record<string, unknown> | undefined {
  const versions = groupVersions(resources).filter((g) => g.group === group).map((g) => g.version);
  if (versions.length === 0) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, versions) };
}

/** Legacy `/api/v1` or `/apis/{group}/{version}`: one entry per resource and subresource. */
export function apiResourceList(resources: readonly ResourceDefinition[], group: string, version: string): Record<string, unknown> | undefined {
  const gv = groupVersions(resources).find((g) => g.group === group && g.version === version);
  if (!gv) return undefined;
  const list: Record<string, unknown>[] = [];
  for (const r of gv.resources) {
    const e: Record<string, unknown> = { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: [...r.verbs] };
    if (r.shortNames.length > 0) e['shortNames'] = [...r.shortNames];
    if (r.categories.length > 0) e['categories'] = [...r.categories];
    list.push(e);
    for (const s of r.subresources) {
      const sub: Record<string, unknown> = { name: `${r.plural}/${s.name}`, singularName: '', namespaced: r.namespaced, kind: s.kind.kind, verbs: [...s.verbs] };
      // A subresource of another group-version names both (pods/eviction is policy/v1; kubectl drain needs the version too).
      if (s.kind.group !== r.group || s.kind.version !== r.version) {
        sub['group'] = s.kind.group;
        sub['version'] = s.kind.version;
      }
      list.push(sub);
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources: list };
}

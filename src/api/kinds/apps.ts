import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import { defineResource, statusSubresource } from './define.js';
import { defaultDeploymentSpec, defaultReplicaSetSpec } from '../defaults/apps.js';
import { dns1123SubdomainName, validateObjectMeta, validateObjectMetaUpdate } from '../validation/object-meta.js';
import { validateDeploymentSpec, validateReplicaSetSpec, validateSelectorUpdate } from '../validation/apps.js';
import { deploymentPrinter, replicaSetPrinter } from '../printers/apps.js';
import type { SubresourceDefinition } from '../resource.js';
import type { KubeObject, Mutable } from '../types.js';

const scale: SubresourceDefinition = { name: 'scale', kind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, verbs: ['get', 'patch', 'update'] };

export const deployments = defineResource<Mutable<Deployment> & KubeObject>({
  group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', namespaced: true,
  openapiName: 'io.k8s.api.apps.v1.Deployment',
  shortNames: ['deploy'],
  categories: ['all'],
  subresources: [statusSubresource('apps', 'v1', 'Deployment'), scale],
  statusSubresource: true,
  tracksGeneration: true,
  defaults(d) {
    d.spec ??= {} as Deployment['spec'] & object;
    defaultDeploymentSpec(d.spec!);
  },
  prepareForCreate(d) { d.status = {}; },
  prepareForUpdate(d, old) { d.status = old.status; },
  validate(d) {
    return [...validateObjectMeta(d.metadata, true, dns1123SubdomainName), ...validateDeploymentSpec(d.spec)];
  },
  validateUpdate(d, old) {
    return [...validateObjectMetaUpdate(d.metadata, old.metadata), ...validateDeploymentSpec(d.spec), ...validateSelectorUpdate(d.spec?.selector, old.spec?.selector)];
  },
  printer: deploymentPrinter,
});

export const replicaSets = defineResource<Mutable<ReplicaSet> & KubeObject>({
  group: 'apps', version: 'v1', kind: 'ReplicaSet', plural: 'replicasets', namespaced: true,
  openapiName: 'io.k8s.api.apps.v1.ReplicaSet',
  shortNames: ['rs'],
  categories: ['all'],
  subresources: [statusSubresource('apps', 'v1', 'ReplicaSet'), scale],
  statusSubresource: true,
  tracksGeneration: true,
  defaults(rs) {
    rs.spec ??= {} as ReplicaSet['spec'] & object;
    defaultReplicaSetSpec(rs.spec!);
  },
  prepareForCreate(rs) { rs.status = { replicas: 0 }; },
  prepareForUpdate(rs, old) { rs.status = old.status; },
  validate(rs) {
    return [...validateObjectMeta(rs.metadata, true, dns1123SubdomainName), ...validateReplicaSetSpec(rs.spec)];
  },
  validateUpdate(rs, old) {
    return [...validateObjectMetaUpdate(rs.metadata, old.metadata), ...validateReplicaSetSpec(rs.spec), ...validateSelectorUpdate(rs.spec?.selector, old.spec?.selector)];
  },
  fields: { 'status.replicas': (rs: ReplicaSet) => String(rs.status?.replicas ?? 0) },
  printer: replicaSetPrinter,
});

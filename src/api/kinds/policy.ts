import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import { defineResource, statusSubresource } from './define.js';
import { dns1123SubdomainName, validateObjectMeta, validateObjectMetaUpdate } from '../validation/object-meta.js';
import { validatePodDisruptionBudget } from '../validation/policy.js';
import { podDisruptionBudgetPrinter } from '../printers/policy.js';
import type { KubeObject, Mutable } from '../types.js';

/** What a new budget's status says until the disruption controller has looked (no disruption allowed). */
function emptyStatus(): PodDisruptionBudget['status'] {
  return { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 };
}

/**
 * policy/v1 PodDisruptionBudget: how many of the pods a selector picks must stay up (minAvailable) or
 * may be down (maxUnavailable) during voluntary disruptions. The disruption controller keeps `status`;
 * the eviction subresource of pods consults and decrements it.
 */
export const podDisruptionBudgets = defineResource<Mutable<PodDisruptionBudget> & KubeObject>({
  group: 'policy', version: 'v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', namespaced: true,
  openapiName: 'io.k8s.api.policy.v1.PodDisruptionBudget',
  shortNames: ['pdb'],
  subresources: [statusSubresource('policy', 'v1', 'PodDisruptionBudget')],
  statusSubresource: true,
  tracksGeneration: true,
  prepareForCreate(pdb) { pdb.status = emptyStatus(); },
  prepareForUpdate(pdb, old) { pdb.status = old.status ?? emptyStatus(); },
  validate(pdb) { return [...validateObjectMeta(pdb.metadata, true, dns1123SubdomainName), ...validatePodDisruptionBudget(pdb)]; },
  validateUpdate(pdb, old) { return [...validateObjectMetaUpdate(pdb.metadata, old.metadata), ...validatePodDisruptionBudget(pdb)]; },
  printer: podDisruptionBudgetPrinter,
});

import type { ResourceDefinition } from '../resource.js';
import type { KubeObject } from '../types.js';
import { pods } from './pods.js';
import { deployments, replicaSets } from './apps.js';
import { podDisruptionBudgets } from './policy.js';
import { configMaps, endpoints, events, eventsV1, leases, namespaces, nodes, secrets, serviceAccounts, services } from './core.js';

/** Every resource skiff serves, in discovery order (core first, as upstream lists them). */
export const builtinResources: readonly ResourceDefinition<KubeObject>[] = [
  configMaps, endpoints, events, namespaces, nodes, pods, secrets, serviceAccounts, services,
  deployments, replicaSets,
  leases,
  eventsV1,
  podDisruptionBudgets,
] as unknown as ResourceDefinition<KubeObject>[];

export { podDisruptionBudgets, pods, deployments, replicaSets, configMaps, endpoints, events, eventsV1, leases, namespaces, nodes, secrets, serviceAccounts, services };

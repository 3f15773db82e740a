/**
 * How lists and some structs merge, per OpenAPI type and field: the `patchStrategy`/`patchMergeKey`
 * and `listType`/`listMapKey` markers of the upstream Go types, which the `kubernetes-types`
 * declarations do not carry. Strategic merge patch and server-side apply both read these; the
 * OpenAPI documents serve them as `x-kubernetes-*` extensions, as upstream's do.
 *
 * Lists not named here are atomic: a patch or an apply replaces them whole.
 */
export interface ListMetadata {
  'x-kubernetes-patch-strategy'?: 'merge' | 'retainKeys' | 'merge,retainKeys';
  'x-kubernetes-patch-merge-key'?: string;
  'x-kubernetes-list-type'?: 'map' | 'set' | 'atomic';
  'x-kubernetes-list-map-keys'?: string[];
}

const mapBy = (key: string, ...more: string[]): ListMetadata => ({
  'x-kubernetes-patch-strategy': 'merge',
  'x-kubernetes-patch-merge-key': key,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': [key, ...more],
});
const mapRetainBy = (key: string): ListMetadata => ({ ...mapBy(key), 'x-kubernetes-patch-strategy': 'merge,retainKeys' });
const set: ListMetadata = { 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-list-type': 'set' };

const containerLists: Record<string, ListMetadata> = {
  ports: mapBy('containerPort', 'protocol'),
  env: mapBy('name'),
  volumeMounts: mapBy('mountPath'),
  volumeDevices: mapBy('devicePath'),
};

const core = 'io.k8s.api.core.v1';
const apps = 'io.k8s.api.apps.v1';
const meta = 'io.k8s.apimachinery.pkg.apis.meta.v1';

/** `listMetadata[openapiTypeName][field]`. */
export const listMetadata: Record<string, Record<string, ListMetadata>> = {
  [`${meta}.ObjectMeta`]: { finalizers: set, ownerReferences: mapBy('uid') },
  [`${core}.PodSpec`]: {
    volumes: mapRetainBy('name'),
    initContainers: mapBy('name'),
    containers: mapBy('name'),
    ephemeralContainers: mapBy('name'),
    imagePullSecrets: mapBy('name'),
    hostAliases: mapBy('ip'),
    topologySpreadConstraints: mapBy('topologyKey', 'whenUnsatisfiable'),
    resourceClaims: mapRetainBy('name'),
    schedulingGates: mapBy('name'),
  },
  [`${core}.Container`]: containerLists,
  [`${core}.EphemeralContainer`]: containerLists,
  [`${core}.PodStatus`]: { conditions: mapBy('type'), podIPs: mapBy('ip'), hostIPs: mapBy('ip'), resourceClaimStatuses: mapRetainBy('name') },
  [`${core}.NodeSpec`]: { podCIDRs: set },
  [`${core}.NodeStatus`]: { conditions: mapBy('type'), addresses: mapBy('type') },
  [`${core}.NamespaceStatus`]: { conditions: mapBy('type') },
  [`${core}.ServiceSpec`]: { ports: mapBy('port', 'protocol') },
  [`${core}.ServiceStatus`]: { conditions: mapBy('type') },
  [`${core}.ServiceAccount`]: { secrets: mapBy('name') },
  [`${apps}.DeploymentSpec`]: { strategy: { 'x-kubernetes-patch-strategy': 'retainKeys' } },
  [`${apps}.DeploymentStatus`]: { conditions: mapBy('type') },
  [`${apps}.ReplicaSetStatus`]: { conditions: mapBy('type') },
  ['io.k8s.api.policy.v1.PodDisruptionBudgetStatus']: { conditions: mapBy('type') },
};

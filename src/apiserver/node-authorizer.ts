import type { Pod } from 'kubernetes-types/core/v1.js';
import type { AuthorizationRequest } from './server.js';

const NODE_PREFIX = 'system:node:';

/** The names of the Secrets or ConfigMaps a pod uses: volumes (projected too), env and envFrom, image pull secrets. */
function usedBy(pod: Pod, kind: 'secrets' | 'configmaps'): Set<string> {
  const names = new Set<string>();
  const spec = pod.spec;
  const add = (n: string | undefined): void => { if (n) names.add(n); };
  const secrets = kind === 'secrets';
  if (secrets) for (const s of spec?.imagePullSecrets ?? []) add(s.name);
  for (const v of spec?.volumes ?? []) {
    add(secrets ? v.secret?.secretName : v.configMap?.name);
    for (const src of v.projected?.sources ?? []) add(secrets ? src.secret?.name : src.configMap?.name);
  }
  for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? []), ...(spec?.ephemeralContainers ?? [])]) {
    for (const e of c.env ?? []) add(secrets ? e.valueFrom?.secretKeyRef?.name : e.valueFrom?.configMapKeyRef?.name);
    for (const e of c.envFrom ?? []) add(secrets ? e.secretRef?.name : e.configMapRef?.name);
  }
  return names;
}
const READS = new Set(['get', 'list', 'watch']);

/** Whether a create's object is named after the node (its Node, its Lease), as upstream's NodeRestriction asks. */
async function createsOwn(r: AuthorizationRequest, node: string): Promise<boolean> {
  const obj = await r.body();
  const meta = typeof obj === 'object' && obj !== null ? (obj as { metadata?: { name?: unknown } }).metadata : undefined;
  return meta?.name === node;
}

/**
 * Node authorization (upstream's Node authorizer and NodeRestriction admission, narrowed to what an
 * agent does): a node's credentials may read the API (Secrets and ConfigMaps only as its pods use them), write its own Node and its own Lease, update
 * the status of and delete the pods bound to it, and record events. Everything else is refused, so a
 * node cannot touch another node's pods or anything of the cluster's configuration. Other users pass.
 */
export async function authorizeNode(r: AuthorizationRequest): Promise<string | undefined> {
  if (!r.user.groups.includes('system:nodes') || !r.user.name.startsWith(NODE_PREFIX)) return undefined;
  const node = r.user.name.slice(NODE_PREFIX.length);
  const { info, verb } = r;
  // A node has no business in other pods' processes or ports, whatever the verb says.
  if (info.group === '' && info.resource === 'pods' && (info.subresource === 'exec' || info.subresource === 'attach' || info.subresource === 'portforward')) {
    return `node "${node}" may not open pods/${info.subresource} sessions`;
  }
  const core = info.group === '';
  // Secrets and ConfigMaps a node may not browse: only those the pods bound to it use (upstream's graph
  // authorizer), or one node's credentials would hold every token of the cluster — join tokens included.
  if (core && (info.resource === 'secrets' || info.resource === 'configmaps') && READS.has(verb)) {
    if (verb !== 'get' || !info.name || !info.namespace) return 'can only get individual resources of this type';
    const kind = info.resource;
    const used = r.pods(info.namespace).some((p) => p.spec?.nodeName === node && usedBy(p, kind).has(info.name!));
    return used ? undefined : `no relationship found between node '${node}' and this object`;
  }
  if (READS.has(verb)) return undefined;
  if (core && info.resource === 'nodes') {
    if (verb === 'create' && !info.name) return await createsOwn(r, node) ? undefined : `node "${node}" can only create its own Node object`;
    return info.name === node ? undefined : `node "${node}" can only modify its own Node object`;
  }
  if (info.group === 'coordination.k8s.io' && info.resource === 'leases' && info.namespace === 'kube-node-lease') {
    if (verb === 'create' && !info.name) return await createsOwn(r, node) ? undefined : `node "${node}" can only create its own Lease`;
    return info.name === node ? undefined : `node "${node}" can only modify its own Lease`;
  }
  if ((core || info.group === 'events.k8s.io') && info.resource === 'events' && (verb === 'create' || verb === 'patch' || verb === 'update')) return undefined;
  if (core && info.resource === 'pods' && info.name && (info.subresource === 'status' || (!info.subresource && verb === 'delete'))) {
    const pod = await r.existing() as Pod | undefined;
    if (!pod) return undefined; // the request answers 404 itself
    if (pod.spec?.nodeName === node) return undefined;
    return `node "${node}" can only ${verb === 'delete' ? 'delete' : 'update the status of'} pods with spec.nodeName set to itself`;
  }
  return `node "${node}" may only modify its own Node, Lease and the pods bound to it`;
}

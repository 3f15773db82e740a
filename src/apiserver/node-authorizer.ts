import type { Pod } from 'kubernetes-types/core/v1.js';
import type { AuthorizationRequest } from './server.js';

const NODE_PREFIX = 'system:node:';
const READS = new Set(['get', 'list', 'watch']);

/**
 * Node authorization (upstream's Node authorizer and NodeRestriction admission, narrowed to what an
 * agent does): a node's credentials may read the API, write its own Node and its own Lease, update
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
  if (READS.has(verb)) return undefined;
  const core = info.group === '';
  if (core && info.resource === 'nodes') {
    if (info.name === node || (verb === 'create' && !info.name)) return undefined;
    return `node "${node}" can only modify its own Node object`;
  }
  if (info.group === 'coordination.k8s.io' && info.resource === 'leases' && info.namespace === 'kube-node-lease') {
    if (info.name === node || (verb === 'create' && !info.name)) return undefined;
    return `node "${node}" can only modify its own Lease`;
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

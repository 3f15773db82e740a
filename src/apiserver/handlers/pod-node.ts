/** What the API server needs to reach a pod's node agent: its client identity, the container meant, the node's endpoint. */
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { badRequest } from '../../api/status.js';
import type { RestStore } from '../registry/rest-store.js';

/** The API server's client identity towards node agents (kube-apiserver's `--kubelet-client-certificate`). */
export interface KubeletClientTLS {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** The container `kubectl logs`/`exec` means, as upstream's LogLocation picks and checks it. */
export function containerFor(pod: Pod, name: string, asked: string | null): string {
  const spec = pod.spec;
  const names = (spec?.containers ?? []).map((c) => c.name);
  if (!asked) {
    if (names.length === 1) return names[0]!;
    if (names.length === 0) throw badRequest(`a container name must be specified for pod ${name}`);
    const inits = (spec?.initContainers ?? []).map((c) => c.name);
    throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]${inits.length > 0 ? ` or one of the init containers: [${inits.join(' ')}]` : ''}`);
  }
  const all = [...names, ...(spec?.initContainers ?? []).map((c) => c.name), ...(spec?.ephemeralContainers ?? []).map((c) => c.name)];
  if (!all.includes(asked)) throw badRequest(`container ${asked} is not valid for pod ${name}`);
  return asked;
}

/** Where a node's agent serves logs and streams: its InternalIP and the port in `status.daemonEndpoints`. */
export async function nodeEndpoint(nodes: RestStore, nodeName: string): Promise<{ address: string; port: number }> {
  const node = await nodes.get(undefined, nodeName) as Node;
  const address = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? node.status?.addresses?.[0]?.address;
  const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port;
  if (!address || !port) throw badRequest(`node "${nodeName}" publishes no endpoint for logs and streams (is its agent running?)`);
  return { address, port };
}

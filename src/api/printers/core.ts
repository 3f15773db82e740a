import type { ConfigMap, Endpoints, Event, Namespace, Node, Secret, Service, ServiceAccount } from 'kubernetes-types/core/v1.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import { ageColumn, col, nameColumn, type TablePrinter } from './table.js';
import { since } from './duration.js';
import { formatLabels } from '../selectors/label-selector.js';
import type { KubeObject } from '../types.js';

export const defaultPrinter: TablePrinter<KubeObject> = {
  columns: [nameColumn, ageColumn],
  row: (o, now) => [o.metadata?.name ?? '', since(o.metadata?.creationTimestamp, now)],
};

export const namespacePrinter: TablePrinter<Namespace> = {
  columns: [nameColumn, col('Status', 'The status of the namespace'), ageColumn],
  row: (ns, now) => [ns.metadata?.name ?? '', ns.status?.phase ?? '', since(ns.metadata?.creationTimestamp, now)],
};

function nodeRoles(node: Node): string[] {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata?.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const r = k.slice('node-role.kubernetes.io/'.length);
      if (r) roles.add(r);
    } else if (k === 'kubernetes.io/role' && v) roles.add(v);
  }
  return [...roles].sort();
}

function nodeAddress(node: Node, type: string): string {
  return node.status?.addresses?.find((a) => a.type === type)?.address ?? '<none>';
}

export const nodePrinter: TablePrinter<Node> = {
  columns: [
    nameColumn,
    col('Status', 'The status of the node'),
    col('Roles', 'The roles of the node'),
    ageColumn,
    col('Version', 'Kubelet Version reported by the node.'),
    col('Internal-IP', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
    col('External-IP', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
    col('OS-Image', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
    col('Kernel-Version', 'Kernel Version reported by the node from \'uname -r\' (e.g. 3.16.0-0.bpo.4-amd64).', 1),
    col('Container-Runtime', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', 1),
  ],
  row(node, now) {
    const status: string[] = [];
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready) status.push(ready.status === 'True' ? 'Ready' : 'NotReady');
    if (status.length === 0) status.push('Unknown');
    if (node.spec?.unschedulable) status.push('SchedulingDisabled');
    const roles = nodeRoles(node).join(',') || '<none>';
    const info = node.status?.nodeInfo;
    return [
      node.metadata?.name ?? '', status.join(','), roles, since(node.metadata?.creationTimestamp, now), info?.kubeletVersion ?? '',
      nodeAddress(node, 'InternalIP'), nodeAddress(node, 'ExternalIP'),
      info?.osImage || '<unknown>', info?.kernelVersion || '<unknown>', info?.containerRuntimeVersion || '<unknown>',
    ];
  },
};

function eventSource(e: Event): string {
  const component = e.source?.component || e.reportingComponent || '';
  const instance = e.source?.host || e.reportingInstance || '';
  if (!component) return '<unknown>';
  return instance ? `${component}, ${instance}` : component;
}

export const eventPrinter: TablePrinter<Event> = {
  columns: [
    col('Last Seen', 'Time since the most recent occurrence of the event.'),
    col('Type', 'Type of this event (Normal, Warning), new types could be added in the future.'),
    col('Reason', 'This should be a short, machine understandable string that gives the reason for this event being generated.'),
    col('Object', 'The object this Event is about.'),
    col('Subobject', 'The subobject this Event is about (a container of a pod, for instance).', 1),
    col('Source', 'The component reporting this event. Should be a short machine understandable string.', 1),
    col('Message', 'A human-readable description of the status of this operation.'),
    col('First Seen', 'The time at which the event was first recorded.', 1),
    col('Count', 'The number of times this event has occurred.', 1, 'integer'),
    col('Name', 'Name must be unique within a namespace.', 1, 'string', 'name'),
  ],
  row(e, now) {
    const first = e.firstTimestamp ? since(e.firstTimestamp, now) : since(e.eventTime, now);
    let last = e.lastTimestamp ? since(e.lastTimestamp, now) : first;
    let count = e.count ?? 0;
    if (e.series) {
      last = since(e.series.lastObservedTime, now);
      count = e.series.count ?? count;
    } else if (count === 0) count = 1;
    const kind = (e.involvedObject?.kind ?? '').toLowerCase();
    const target = e.involvedObject?.name ? `${kind}/${e.involvedObject.name}` : kind;
    return [last, e.type ?? '', e.reason ?? '', target, e.involvedObject?.fieldPath ?? '', eventSource(e), (e.message ?? '').trim(), first, count, e.metadata?.name ?? ''];
  },
};

export const configMapPrinter: TablePrinter<ConfigMap> = {
  columns: [nameColumn, col('Data', 'Number of data entries.', 0, 'integer'), ageColumn],
  row: (cm, now) => [cm.metadata?.name ?? '', Object.keys(cm.data ?? {}).length + Object.keys(cm.binaryData ?? {}).length, since(cm.metadata?.creationTimestamp, now)],
};

export const secretPrinter: TablePrinter<Secret> = {
  columns: [nameColumn, col('Type', 'The type of secret'), col('Data', 'Number of data entries.', 0, 'integer'), ageColumn],
  row: (s, now) => [s.metadata?.name ?? '', s.type ?? '', Object.keys(s.data ?? {}).length, since(s.metadata?.creationTimestamp, now)],
};

export const serviceAccountPrinter: TablePrinter<ServiceAccount> = {
  columns: [nameColumn, col('Secrets', 'Number of secrets associated with this service account.', 0, 'integer'), ageColumn],
  row: (sa, now) => [sa.metadata?.name ?? '', (sa.secrets ?? []).length, since(sa.metadata?.creationTimestamp, now)],
};

function serviceExternalIP(svc: Service): string {
  const spec = svc.spec ?? {};
  switch (spec.type) {
    case 'ClusterIP': case 'NodePort': case undefined:
      return (spec.externalIPs ?? []).length > 0 ? spec.externalIPs!.join(',') : '<none>';
    case 'LoadBalancer': {
      const ips = [...(svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip || i.hostname || ''), ...(spec.externalIPs ?? [])].filter(Boolean);
      return ips.length > 0 ? ips.join(',') : '<pending>';
    }
    case 'ExternalName': return spec.externalName ?? '';
    default: return '<unknown>';
  }
}

function servicePorts(svc: Service): string {
  const ports = svc.spec?.ports ?? [];
  if (ports.length === 0) return '<none>';
  return ports.map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`)).join(',');
}

export const servicePrinter: TablePrinter<Service> = {
  columns: [
    nameColumn,
    col('Type', 'The type of the service'),
    col('Cluster-IP', 'The cluster IP of the service'),
    col('External-IP', 'The external IPs of the service'),
    col('Port(s)', 'The ports of the service'),
    ageColumn,
    col('Selector', 'The label selector of the service', 1),
  ],
  row: (svc, now) => [
    svc.metadata?.name ?? '', svc.spec?.type ?? '', svc.spec?.clusterIP || '<none>', serviceExternalIP(svc), servicePorts(svc),
    since(svc.metadata?.creationTimestamp, now), formatLabels(svc.spec?.selector),
  ],
};

function formatEndpoints(ep: Endpoints): string {
  const all: string[] = [];
  let count = 0;
  for (const s of ep.subsets ?? []) {
    for (const a of s.addresses ?? []) {
      for (const p of s.ports?.length ? s.ports : [undefined]) {
        count++;
        if (all.length < 3) all.push(p ? `${a.ip}:${p.port}` : a.ip);
      }
    }
  }
  if (count === 0) return '<none>';
  return count > 3 ? `${all.join(',')} + ${count - 3} more...` : all.join(',');
}

export const endpointsPrinter: TablePrinter<Endpoints> = {
  columns: [nameColumn, col('Endpoints', 'Endpoints of the service'), ageColumn],
  row: (ep, now) => [ep.metadata?.name ?? '', formatEndpoints(ep), since(ep.metadata?.creationTimestamp, now)],
};

export const leasePrinter: TablePrinter<Lease> = {
  columns: [nameColumn, col('Holder', 'The holder of the lease'), ageColumn],
  row: (l, now) => [l.metadata?.name ?? '', l.spec?.holderIdentity ?? '', since(l.metadata?.creationTimestamp, now)],
};

// Test helpers for the scheduler's unit tests: builders in the style of upstream's st.MakePod() and
// st.MakeNode(), and runners that drive one plugin the way findNode does. Not used by production code.
import type { Container, Node, NodeSelectorRequirement, Pod, PodAffinityTerm, Taint, Toleration, TopologySpreadConstraint } from 'kubernetes-types/core/v1.js';
import { CycleState, type Plugin, type Status } from './framework.js';
import { ClusterView } from './explain.js';
import { newPodInfo } from './node-info.js';

export class NodeBuilder {
  readonly node: Node;
  constructor(name: string) {
    this.node = {
      apiVersion: 'v1', kind: 'Node', metadata: { name, labels: {} }, spec: {},
      status: { allocatable: {}, conditions: [{ type: 'Ready', status: 'True' }] },
    };
  }
  /** Allocatable resources, e.g. `{ cpu: '4', memory: '8Gi', pods: '110' }`. */
  capacity(r: Record<string, string>): this { this.node.status!.allocatable = { ...this.node.status!.allocatable, ...r }; return this; }
  label(k: string, v: string): this { this.node.metadata!.labels![k] = v; return this; }
  taint(key: string, value: string | undefined, effect: Taint['effect']): this {
    (this.node.spec!.taints ??= []).push({ key, ...(value !== undefined ? { value } : {}), effect });
    return this;
  }
  unschedulable(): this { this.node.spec!.unschedulable = true; return this; }
  ready(status: 'True' | 'False' | 'Unknown' | undefined): this {
    this.node.status!.conditions = status === undefined ? [] : [{ type: 'Ready', status }];
    return this;
  }
  image(sizeBytes: number, ...names: string[]): this { (this.node.status!.images ??= []).push({ names, sizeBytes }); return this; }
  obj(): Node { return this.node; }
}

export const makeNode = (name: string): NodeBuilder => new NodeBuilder(name);

type Res = Record<string, string>;

export class PodBuilder {
  readonly pod: Pod;
  constructor(name: string, namespace = 'default') {
    this.pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: {} }, spec: { containers: [] } };
  }
  private get spec(): NonNullable<Pod['spec']> { return this.pod.spec!; }
  namespace(ns: string): this { this.pod.metadata!.namespace = ns; return this; }
  label(k: string, v: string): this { this.pod.metadata!.labels![k] = v; return this; }
  /** A container with these requests (and limits); the image defaults to busybox. */
  container(requests?: Res, limits?: Res, image = 'busybox'): this {
    this.spec.containers.push(containerOf(`c${this.spec.containers.length}`, image, requests, limits));
    return this;
  }
  initContainer(requests?: Res, o: { sidecar?: boolean; limits?: Res; image?: string } = {}): this {
    const c = containerOf(`init${(this.spec.initContainers ?? []).length}`, o.image ?? 'busybox', requests, o.limits);
    if (o.sidecar) c.restartPolicy = 'Always';
    (this.spec.initContainers ??= []).push(c);
    return this;
  }
  overhead(r: Res): this { this.spec.overhead = r; return this; }
  node(name: string): this { this.spec.nodeName = name; return this; }
  priority(p: number): this { this.spec.priority = p; return this; }
  preemptionPolicy(p: 'Never' | 'PreemptLowerPriority'): this { this.spec.preemptionPolicy = p; return this; }
  startTime(t: string): this { Object.assign(this.pod, { status: { ...this.pod.status, startTime: t } }); return this; }
  terminating(): this { Object.assign(this.pod.metadata!, { deletionTimestamp: '2024-01-01T00:00:00Z' }); return this; }
  toleration(t: Toleration): this { (this.spec.tolerations ??= []).push(t); return this; }
  nodeSelector(sel: Record<string, string>): this { this.spec.nodeSelector = sel; return this; }
  /** One required node selector term per call (terms are ORed). */
  nodeAffinityTerm(...exprs: NodeSelectorRequirement[]): this {
    const na = ((this.spec.affinity ??= {}).nodeAffinity ??= {});
    (na.requiredDuringSchedulingIgnoredDuringExecution ??= { nodeSelectorTerms: [] }).nodeSelectorTerms.push({ matchExpressions: exprs });
    return this;
  }
  nodeFieldTerm(...fields: NodeSelectorRequirement[]): this {
    const na = ((this.spec.affinity ??= {}).nodeAffinity ??= {});
    (na.requiredDuringSchedulingIgnoredDuringExecution ??= { nodeSelectorTerms: [] }).nodeSelectorTerms.push({ matchFields: fields });
    return this;
  }
  preferredNodeTerm(weight: number, ...exprs: NodeSelectorRequirement[]): this {
    const na = ((this.spec.affinity ??= {}).nodeAffinity ??= {});
    (na.preferredDuringSchedulingIgnoredDuringExecution ??= []).push({ weight, preference: { matchExpressions: exprs } });
    return this;
  }
  podAffinity(topologyKey: string, matchLabels: Record<string, string>, extra: Partial<PodAffinityTerm> = {}): this {
    const pa = ((this.spec.affinity ??= {}).podAffinity ??= {});
    (pa.requiredDuringSchedulingIgnoredDuringExecution ??= []).push({ topologyKey, labelSelector: { matchLabels }, ...extra });
    return this;
  }
  podAntiAffinity(topologyKey: string, matchLabels: Record<string, string>, extra: Partial<PodAffinityTerm> = {}): this {
    const pa = ((this.spec.affinity ??= {}).podAntiAffinity ??= {});
    (pa.requiredDuringSchedulingIgnoredDuringExecution ??= []).push({ topologyKey, labelSelector: { matchLabels }, ...extra });
    return this;
  }
  preferredPodAffinity(weight: number, topologyKey: string, matchLabels: Record<string, string>): this {
    const pa = ((this.spec.affinity ??= {}).podAffinity ??= {});
    (pa.preferredDuringSchedulingIgnoredDuringExecution ??= []).push({ weight, podAffinityTerm: { topologyKey, labelSelector: { matchLabels } } });
    return this;
  }
  preferredPodAntiAffinity(weight: number, topologyKey: string, matchLabels: Record<string, string>): this {
    const pa = ((this.spec.affinity ??= {}).podAntiAffinity ??= {});
    (pa.preferredDuringSchedulingIgnoredDuringExecution ??= []).push({ weight, podAffinityTerm: { topologyKey, labelSelector: { matchLabels } } });
    return this;
  }
  spread(maxSkew: number, topologyKey: string, when: 'DoNotSchedule' | 'ScheduleAnyway', matchLabels: Record<string, string> | undefined, extra: Partial<TopologySpreadConstraint> = {}): this {
    (this.spec.topologySpreadConstraints ??= []).push({ maxSkew, topologyKey, whenUnsatisfiable: when, ...(matchLabels ? { labelSelector: { matchLabels } } : {}), ...extra });
    return this;
  }
  hostPort(hostPort: number, protocol?: 'TCP' | 'UDP', hostIP?: string): this {
    if (this.spec.containers.length === 0) this.container();
    const c = this.spec.containers[0]!;
    (c.ports ??= []).push({ containerPort: hostPort, hostPort, ...(protocol ? { protocol } : {}), ...(hostIP ? { hostIP } : {}) });
    return this;
  }
  ownedBy(kind = 'ReplicaSet', name = 'rs'): this {
    this.pod.metadata!.ownerReferences = [{ apiVersion: 'apps/v1', kind, name, uid: `${name}-uid`, controller: true }];
    return this;
  }
  obj(): Pod {
    if (this.spec.containers.length === 0) this.container();
    return this.pod;
  }
}

function containerOf(name: string, image: string, requests?: Res, limits?: Res): Container {
  return { name, image, ...(requests || limits ? { resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) } } : {}) };
}

export const makePod = (name: string, namespace?: string): PodBuilder => new PodBuilder(name, namespace);

/** A cluster view of these nodes and pods (pods with a nodeName are placed). */
export function cluster(nodes: readonly Node[], pods: readonly Pod[] = []): ClusterView {
  return new ClusterView(nodes, pods);
}

/** Runs one filter plugin as findNode does (PreFilter, then Filter on every node): statuses by node. */
export function runFilter(plugin: Plugin, pod: Pod, view: ClusterView): Map<string, Status> {
  const state = new CycleState(newPodInfo(pod), view.nodes, () => view.allPods(), (k) => view.sameLabels(k));
  const out = new Map<string, Status>();
  const pre = plugin.preFilter?.(state, pod);
  for (const n of view.nodes) out.set(n.name, pre && pre.code !== 'Success' ? pre : plugin.filter!(state, pod, n));
  return out;
}

/** Runs one score plugin over the given nodes (all by default): raw and normalized scores by node. */
export function runScore(plugin: Plugin, pod: Pod, view: ClusterView, only?: readonly string[]): { raw: Map<string, number>; normalized: Map<string, number> } {
  const state = new CycleState(newPodInfo(pod), view.nodes, () => view.allPods(), (k) => view.sameLabels(k));
  const nodes = only ? view.nodes.filter((n) => only.includes(n.name)) : view.nodes;
  plugin.preFilter?.(state, pod);
  plugin.preScore?.(state, pod, nodes);
  const raw = nodes.map((n) => plugin.score!(state, pod, n));
  const norm = [...raw];
  plugin.normalize?.(norm);
  return { raw: new Map(nodes.map((n, i) => [n.name, raw[i]!])), normalized: new Map(nodes.map((n, i) => [n.name, norm[i]!])) };
}

export const gi = (n: number): number => n * 2 ** 30 * 1000;
export const mi = (n: number): number => n * 2 ** 20 * 1000;

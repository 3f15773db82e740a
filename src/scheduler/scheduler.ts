import { performance } from 'node:perf_hooks';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../api/types.js';
import { Informer } from '../client/informer.js';
import { EventRecorder } from '../client/event-recorder.js';
import type { RestClient } from '../client/rest-client.js';
import { realClock, type Clock } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/log.js';
import { rfc3339 } from '../util/time.js';
import { defaultPlugins, findNode, fitErrorMessage, preemptionDryRun, type Snapshot } from './algorithm.js';
import { labelsKey } from './framework.js';
import { ClusterTotals, NodeInfo, newPodInfo, podKey, type PodInfo } from './node-info.js';
import { SchedulingQueue } from './queue.js';

type P = Pod & KubeObject;
type N = Node & KubeObject;

export interface SchedulerOptions {
  readonly client: RestClient;
  readonly schedulerName?: string;
  readonly clock?: Clock;
  readonly log?: Logger;
  /** Bindings in flight at once (default 64). */
  readonly parallelBindings?: number;
}

const isTerminal = (p: Pod): boolean => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

/**
 * The scheduler, in the shape of upstream's framework: informers feed a cache of nodes and the pods on
 * them and a queue of pods waiting; each cycle takes one pod, filters and scores nodes, assumes the
 * pod on the chosen node and binds it in the background (`POST pods/{name}/binding`). Pods that fit
 * nowhere get a FailedScheduling event and an `Unschedulable` PodScheduled condition worded as
 * upstream's, and wait for a node or pod change that could help.
 */
/** How long the scheduling loop runs before letting other work on its thread in. */
const schedulingSliceMs = 5;

export class Scheduler {
  readonly #o: SchedulerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #name: string;
  readonly #queue: SchedulingQueue;
  readonly #nodes = new Map<string, NodeInfo>();
  #nodeList: NodeInfo[] = [];
  readonly #totals = new ClusterTotals();
  /** Where each placed pod is (bound or assumed), by pod key. */
  readonly #placed = new Map<string, string>();
  /** Pods assumed on a node while their binding is in flight. */
  readonly #assumed = new Set<string>();
  /** namespace|labels → node → count, for default spreading. */
  readonly #sameLabels = new Map<string, Map<string, number>>();
  #recorder: EventRecorder;
  #podInf: Informer<P> | undefined;
  #nodeInf: Informer<N> | undefined;
  #startIndex = 0;
  #bindingsInFlight = 0;
  #bindWaiters: (() => void)[] = [];

  constructor(o: SchedulerOptions) {
    this.#o = o;
    this.#clock = o.clock ?? realClock;
    this.#log = (o.log ?? silentLogger).with({ component: 'scheduler' });
    this.#name = o.schedulerName ?? 'default-scheduler';
    this.#queue = new SchedulingQueue(this.#clock);
    this.#recorder = new EventRecorder(o.client, this.#name, { clock: this.#clock, log: this.#log });
  }

  /** The cluster as the next cycle sees it. */
  snapshot(): Snapshot {
    return {
      nodes: this.#nodeList,
      allPods: () => this.#allPods(),
      sameLabels: (k) => this.#sameLabels.get(k),
      totals: this.#totals,
    };
  }

  *#allPods(): Iterable<PodInfo> {
    for (const n of this.#nodeList) yield* n.pods.values();
  }

  #rebuildNodeList(): void {
    this.#nodeList = [...this.#nodes.values()];
  }

  #indexLabels(p: Pod, node: string, delta: number): void {
    const k = `${p.metadata?.namespace}|${labelsKey(p.metadata?.labels)}`;
    let m = this.#sameLabels.get(k);
    if (!m) { m = new Map(); this.#sameLabels.set(k, m); }
    const v = (m.get(node) ?? 0) + delta;
    if (v <= 0) m.delete(node); else m.set(node, v);
    if (m.size === 0) this.#sameLabels.delete(k);
  }

  /** Puts a pod on a node in the cache (bound or assumed). */
  #place(p: Pod, node: string): void {
    const key = podKey(p);
    const prev = this.#placed.get(key);
    if (prev !== undefined) this.#unplace(key);
    const info = this.#nodes.get(node);
    this.#placed.set(key, node);
    this.#indexLabels(p, node, 1);
    // An assumed pod has no nodeName yet; plugins locate pods by it, so the cached copy carries it.
    info?.addPod(newPodInfo(p.spec?.nodeName === node ? p : { ...p, spec: { ...p.spec!, nodeName: node } }));
  }

  #unplace(key: string): void {
    const node = this.#placed.get(key);
    if (node === undefined) return;
    const info = this.#nodes.get(node);
    const p = info?.pods.get(key)?.pod;
    if (p) this.#indexLabels(p, node, -1);
    info?.removePod(key);
    this.#placed.delete(key);
  }

  #onPod(p: P): void {
    const key = podKey(p);
    const node = p.spec?.nodeName;
    if (node) {
      this.#queue.delete(p);
      this.#assumed.delete(key);
      if (isTerminal(p)) {
        if (this.#placed.has(key)) { this.#unplace(key); this.#queue.moveAllToActive(); }
      } else this.#place(p, node);
      return;
    }
    if (this.#assumed.has(key)) return;
    if ((p.spec?.schedulerName ?? 'default-scheduler') !== this.#name || p.metadata.deletionTimestamp) {
      this.#queue.delete(p);
      return;
    }
    if (p.spec?.schedulingGates?.length) return;
    this.#queue.add(p);
  }

  #onPodDeleted(p: P): void {
    const key = podKey(p);
    this.#queue.delete(p);
    this.#assumed.delete(key);
    if (this.#placed.has(key)) {
      this.#unplace(key);
      // Room was freed: pods waiting for it may fit now.
      this.#queue.moveAllToActive();
    }
  }

  #onNode(n: N): void {
    const name = n.metadata.name!;
    const existing = this.#nodes.get(name);
    if (existing) existing.setNode(n);
    else {
      const info = new NodeInfo(n, this.#totals);
      this.#nodes.set(name, info);
      this.#rebuildNodeList();
      // Pods already placed on a node we had not seen yet.
      for (const [key, node] of this.#placed) if (node === name) {
        const p = this.#podInf?.get(key);
        if (p) info.addPod(newPodInfo(p));
      }
    }
    this.#queue.moveAllToActive();
  }

  #onNodeDeleted(n: N): void {
    this.#nodes.get(n.metadata.name!)?.detach();
    this.#nodes.delete(n.metadata.name!);
    this.#rebuildNodeList();
  }

  /** Starts informers and the scheduling loop; runs until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    this.#nodeInf = new Informer<N>(this.#o.client, { path: '/api/v1/nodes', clock: this.#clock, log: this.#log });
    this.#podInf = new Informer<P>(this.#o.client, { path: '/api/v1/pods', clock: this.#clock, log: this.#log });
    this.#nodeInf.addHandlers({ add: (n) => this.#onNode(n), update: (_o, n) => this.#onNode(n), delete: (n) => this.#onNodeDeleted(n) });
    this.#podInf.addHandlers({ add: (p) => this.#onPod(p), update: (_o, p) => this.#onPod(p), delete: (p) => this.#onPodDeleted(p) });
    await this.#nodeInf.start();
    await this.#podInf.start();
    signal.addEventListener('abort', () => this.#queue.close());
    this.#log.info('scheduler started', { nodes: this.#nodes.size });
    let sliceStart = performance.now();
    for (;;) {
      const pod = await this.#queue.pop();
      if (!pod) break;
      try {
        await this.scheduleOne(pod as P);
      } catch (e) {
        this.#log.warn('scheduling cycle failed', { pod: podKey(pod), err: e as Error });
        this.#queue.retry(pod);
      }
      // With pods waiting, pop() and the cycle resolve without I/O: a long queue would run as one chain of
      // microtasks and starve everything else sharing this thread (the API server's requests, bindings'
      // replies). Yield to the event loop every few milliseconds.
      if (performance.now() - sliceStart > schedulingSliceMs) {
        await new Promise<void>((r) => setImmediate(r));
        sliceStart = performance.now();
      }
    }
    this.#nodeInf.stop();
    this.#podInf.stop();
    await this.#recorder.flush();
  }

  /** One scheduling cycle for one pod. */
  async scheduleOne(pod: P): Promise<void> {
    const snap = this.snapshot();
    const result = findNode(pod, snap, { startIndex: this.#startIndex });
    this.#startIndex = (this.#startIndex + result.evaluated) % Math.max(1, this.#nodeList.length);
    if (!result.node) {
      const pre = preemptionDryRun(pod, snap, result, defaultPlugins);
      const message = fitErrorMessage(this.#nodeList.length, result, pre.message || undefined);
      this.#queue.unschedulable(pod);
      this.#recorder.event(pod, 'Warning', 'FailedScheduling', message);
      await this.#markUnschedulable(pod, message);
      if (pre.candidates.length > 0) await this.#preempt(pod, pre.candidates[0]!.node, pre.candidates[0]!.victims);
      return;
    }
    const node = result.node;
    const key = podKey(pod);
    // Assume: the pod counts on the node at once, so the next cycle does not overcommit it.
    this.#assumed.add(key);
    this.#place(pod, node);
    this.#queue.done(pod);
    await this.#bindSlot();
    void this.#bind(pod, node).finally(() => this.#releaseBindSlot());
  }

  async #bindSlot(): Promise<void> {
    while (this.#bindingsInFlight >= (this.#o.parallelBindings ?? 64)) await new Promise<void>((r) => this.#bindWaiters.push(r));
    this.#bindingsInFlight++;
  }

  #releaseBindSlot(): void {
    this.#bindingsInFlight--;
    this.#bindWaiters.shift()?.();
  }

  async #bind(pod: P, node: string): Promise<void> {
    const key = podKey(pod);
    const r = await this.#o.client.request('POST', `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/binding`, {
      body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace, uid: pod.metadata.uid }, target: { apiVersion: 'v1', kind: 'Node', name: node } },
    }).catch((e: Error) => ({ status: 0, body: { message: e.message } }));
    if (r.status === 201) {
      this.#recorder.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${node}`);
      return;
    }
    // Forget the assumption; the pod goes back to the queue unless it is gone or already bound.
    this.#assumed.delete(key);
    this.#unplace(key);
    if (r.status === 404) return;
    const current = this.#podInf?.get(key);
    if (current && !current.spec?.nodeName) {
      this.#log.warn('binding failed', { pod: key, node, status: r.status, message: (r.body as { message?: string }).message });
      this.#queue.add(current);
      this.#queue.retry(current);
    }
  }

  /** Records PodScheduled=False/Unschedulable with the message, as upstream does, unless already so. */
  async #markUnschedulable(pod: P, message: string): Promise<void> {
    const cur = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (cur?.status === 'False' && cur.reason === 'Unschedulable' && cur.message === message) return;
    const condition = { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: cur?.status === 'False' ? cur.lastTransitionTime : rfc3339(this.#clock.now()) };
    await this.#o.client.request('PATCH', `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`, {
      body: { status: { conditions: [condition] } }, contentType: 'application/strategic-merge-patch+json',
    }).catch(() => undefined);
  }

  /** Evicts lower-priority pods from a node to make room, and nominates the node for the pod. */
  async #preempt(pod: P, node: string, victims: readonly PodInfo[]): Promise<void> {
    for (const v of victims) {
      const vp = v.pod as P;
      this.#recorder.event(vp, 'Normal', 'Preempted', `Preempted by pod ${pod.metadata.uid} on node ${node}`);
      await this.#o.client.request('DELETE', `/api/v1/namespaces/${vp.metadata.namespace}/pods/${vp.metadata.name}`, { body: { preconditions: { uid: vp.metadata.uid } } }).catch(() => undefined);
    }
    await this.#o.client.request('PATCH', `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`, {
      body: { status: { nominatedNodeName: node } }, contentType: 'application/merge-patch+json',
    }).catch(() => undefined);
  }
}

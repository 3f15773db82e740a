import type { Node, Pod, PodStatus, Taint } from 'kubernetes-types/core/v1.js';
import { PodsByNode } from '../pods-by-node.js';
import type { KubeObject } from '../../api/types.js';
import type { Informer } from '../../client/informer.js';
import type { EventRecorder } from '../../client/event-recorder.js';
import { objectKey, resourcePath, splitKey } from '../../client/paths.js';
import { ApiRequestError } from '../../client/rest-client.js';
import { WorkQueue, runWorkers } from '../../client/work-queue.js';
import { deepEqual } from '../../util/deep-equal.js';
import { disruptionTarget, updatePodCondition } from '../../api/update-pod-condition.js';
import type { Controller, ControllerContext } from '../controller.js';
import { evictionTime, taintStart, type TaintSince } from './eviction-time.js';
import { TimedQueue } from './timed-queue.js';

type N = Node & KubeObject;
type P = Pod & KubeObject;

/** Attempts at marking and deleting one pod before giving up until the next change (upstream's retries). */
const deleteAttempts = 5;

function noExecuteTaints(n: Node | undefined): Taint[] {
  return (n?.spec?.taints ?? []).filter((t) => t.effect === 'NoExecute');
}

const taintId = (t: Taint): string => `${t.key}\x00${t.value ?? ''}\x00${t.effect}`;

/**
 * The taint eviction controller (upstream's NoExecuteTaintManager): a pod on a node with a NoExecute
 * taint it does not tolerate is deleted at once; one that tolerates it for `tolerationSeconds` is
 * deleted that long after the taint was added, unless the taint goes first (the eviction is then
 * cancelled). Before deleting, the pod gets the DisruptionTarget condition (reason
 * DeletionByTaintManager) and a TaintManagerEviction event. The pod's controller, if any, replaces it.
 */
export class TaintEvictionController implements Controller {
  readonly name = 'tainteviction';
  readonly #ctx: ControllerContext;
  readonly #rec: EventRecorder;
  readonly #nodes: Informer<N>;
  readonly #pods: Informer<P>;
  /** Keys `node/<name>` (re-evaluate every pod of the node) and `pod/<ns>/<name>`. */
  readonly #queue: WorkQueue<string>;
  readonly #evictions: TimedQueue;
  /** The NoExecute taints of each tainted node, with when this controller first saw each one. */
  readonly #tainted = new Map<string, Map<string, { taint: Taint; firstSeen: number }>>();
  readonly #podsByNode = new PodsByNode();

  constructor(ctx: ControllerContext) {
    this.#ctx = ctx;
    this.#rec = ctx.recorder('taint-eviction-controller');
    this.#queue = new WorkQueue({ clock: ctx.clock, baseDelayMs: 100, maxDelayMs: 10_000 });
    this.#evictions = new TimedQueue(ctx.clock, (key) => this.#evict(key), (key, e) => {
      this.#ctx.log.warn('taint eviction failed; will retry', { pod: key, err: e as Error });
      this.#queue.addRateLimited(`pod/${key}`);
    });
    this.#nodes = ctx.informers.for<N>('', 'v1', 'nodes');
    this.#pods = ctx.informers.for<P>('', 'v1', 'pods');
    this.#nodes.addHandlers({
      add: (n) => { if (noExecuteTaints(n).length > 0) this.#queue.add(`node/${n.metadata.name}`); },
      update: (old, n) => { if (!deepEqual(noExecuteTaints(old), noExecuteTaints(n))) this.#queue.add(`node/${n.metadata.name}`); },
      delete: (n) => this.#queue.add(`node/${n.metadata.name}`),
    });
    this.#pods.addHandlers({
      add: (p) => { this.#podsByNode.update(undefined, p); this.#queue.add(`pod/${objectKey(p.metadata)}`); },
      update: (old, p) => {
        this.#podsByNode.update(old, p);
        if (old.spec?.nodeName !== p.spec?.nodeName || !deepEqual(old.spec?.tolerations, p.spec?.tolerations)) this.#queue.add(`pod/${objectKey(p.metadata)}`);
      },
      delete: (p) => { this.#podsByNode.update(p, undefined); this.#queue.add(`pod/${objectKey(p.metadata)}`); },
    });
  }

  async run(signal: AbortSignal, workers: number): Promise<void> {
    signal.addEventListener('abort', () => {
      this.#queue.shutDown();
      for (const k of this.#evictions.pending()) this.#evictions.cancel(k);
    });
    await Promise.all([this.#nodes.waitForSync(), this.#pods.waitForSync()]);
    await runWorkers(this.#queue, workers, (key) => this.sync(key), (key, e) => this.#ctx.log.warn('taint eviction sync failed', { key, err: e as Error }));
  }

  /** Processes a node (its taints changed) or a pod (placed, re-tolerated, or gone). */
  async sync(key: string): Promise<void> {
    if (key.startsWith('node/')) this.#syncNode(key.slice(5));
    else this.#syncPod(key.slice(4));
  }

  #syncNode(name: string): void {
    const node = this.#nodes.get(name);
    const taints = noExecuteTaints(node);
    const now = this.#ctx.clock.now();
    if (taints.length === 0) {
      this.#tainted.delete(name);
      // Every taint gone (or the node): scheduled evictions are called off.
      for (const pod of this.#podsByNode.on(name)) this.#cancel(pod);
      return;
    }
    const prev = this.#tainted.get(name);
    const seen = new Map<string, { taint: Taint; firstSeen: number }>();
    for (const t of taints) seen.set(taintId(t), { taint: t, firstSeen: prev?.get(taintId(t))?.firstSeen ?? now });
    this.#tainted.set(name, seen);
    for (const pod of this.#podsByNode.on(name)) this.#processPod(pod, name);
  }

  #syncPod(key: string): void {
    const pod = this.#pods.get(key);
    if (!pod) { this.#cancel(key); return; }
    const node = pod.spec?.nodeName;
    if (!node || !this.#tainted.has(node)) return;
    this.#processPod(key, node);
  }

  /** Schedules, keeps, moves or cancels one pod's eviction from its node's current taints. */
  #processPod(key: string, nodeName: string): void {
    const pod = this.#pods.get(key);
    const taints = this.#tainted.get(nodeName);
    if (!pod || pod.spec?.nodeName !== nodeName || !taints) return;
    const since: TaintSince[] = [...taints.values()].map((t) => ({ taint: t.taint, since: taintStart(t.taint.timeAdded, t.firstSeen) }));
    const at = evictionTime(since, pod.spec?.tolerations);
    const scheduled = this.#evictions.get(key);
    if (at === undefined) {
      // Tolerated forever.
      this.#cancel(key);
      return;
    }
    // Already evicted: the pod is on its way out.
    if (scheduled === 'done') return;
    if (scheduled !== undefined) {
      if (scheduled <= at) return;
      this.#cancel(key);
    }
    this.#evictions.add(key, at);
  }

  #cancel(podKey: string): void {
    if (!this.#evictions.cancel(podKey)) return;
    const { namespace, name } = splitKey(podKey);
    const pod = this.#pods.get(podKey) ?? { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace } } as P;
    this.#rec.event(podRef(pod), 'Normal', 'TaintManagerEviction', `Cancelling deletion of Pod ${podKey}`);
  }

  /** Marks the pod with DisruptionTarget and deletes it (upstream's deletePodHandler with addConditionAndDeletePod). */
  async #evict(podKey: string): Promise<void> {
    const { namespace, name } = splitKey(podKey);
    const c = this.#ctx.client;
    const path = resourcePath({ group: '', version: 'v1', plural: 'pods', namespace, name });
    const cached = this.#pods.get(podKey);
    this.#rec.event(cached ? podRef(cached) : { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace } }, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${podKey}`);
    let last: unknown;
    for (let attempt = 0; attempt < deleteAttempts; attempt++) {
      try {
        const g = await c.request<P>('GET', path);
        if (g.status === 404) return;
        if (g.status !== 200) throw new ApiRequestError(g.status, g.body as never, 'GET', path);
        const pod = g.body;
        const status = structuredClone(pod.status ?? {}) as PodStatus;
        if (updatePodCondition(status, disruptionTarget('DeletionByTaintManager', 'Taint manager: deleting due to NoExecute taint'), this.#ctx.clock.now())) {
          const u = await c.request('PUT', `${path}/status`, { body: { ...pod, status } });
          if (u.status === 404) return;
          if (u.status !== 200) throw new ApiRequestError(u.status, u.body as never, 'PUT', `${path}/status`);
        }
        const d = await c.request('DELETE', path, { body: { preconditions: { uid: pod.metadata.uid } } });
        if (d.status === 200 || d.status === 202 || d.status === 404) {
          this.#ctx.log.info('evicted pod from tainted node', { pod: podKey, node: pod.spec?.nodeName });
          return;
        }
        throw new ApiRequestError(d.status, d.body as never, 'DELETE', path);
      } catch (e) {
        last = e;
        await new Promise<void>((r) => this.#ctx.clock.setTimeout(r, 10));
      }
    }
    throw last;
  }
}

/** The pod as an event's involved object. */
function podRef(p: P): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: p.metadata.name, namespace: p.metadata.namespace, uid: p.metadata.uid } };
}

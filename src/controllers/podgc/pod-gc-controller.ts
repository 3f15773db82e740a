import type { Node, Pod, PodCondition, PodStatus } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/types.js';
import type { Informer } from '../../client/informer.js';
import { objectKey, resourcePath } from '../../client/paths.js';
import { ApiRequestError } from '../../client/rest-client.js';
import { isPodTerminal } from '../../api/pod-conditions.js';
import { disruptionTarget, updatePodCondition } from '../../api/update-pod-condition.js';
import type { Controller, ControllerContext } from '../controller.js';
import { missingNodes, terminatedBeyond, terminatingOutOfService, unscheduledTerminating } from './pod-gc-decisions.js';

type N = Node & KubeObject;
type P = Pod & KubeObject;

/** Upstream's constants, and its `--terminated-pod-gc-threshold` default. */
export interface PodGCOptions {
  /** Terminated pods kept cluster-wide before the oldest are deleted (default 12500; 0 keeps them all). */
  readonly terminatedPodThreshold?: number;
  /** How often a round runs (default 20 s). */
  readonly periodMs?: number;
  /** How long a node must be missing before its pods count as orphans (default 40 s: a node re-registering is not a deletion). */
  readonly quarantineMs?: number;
}

/**
 * The pod garbage collector (upstream's PodGC): every period it force-deletes (grace period 0) the pods no agent
 * will ever finish — those bound to a Node that no longer exists (after a quarantine and a check with the API
 * itself; they first get phase Failed and DisruptionTarget `DeletionByPodGC`, so their controllers see why),
 * terminating pods that were never scheduled, and terminating pods on not-Ready nodes tainted out-of-service —
 * and deletes the oldest terminated pods beyond the threshold. Without it, `kubectl delete node` would leave that
 * node's pods Running in the API forever, and their ReplicaSets would never replace them.
 */
export class PodGCController implements Controller {
  readonly name = 'podgc';
  readonly #ctx: ControllerContext;
  readonly #o: Required<PodGCOptions>;
  readonly #pods: Informer<P>;
  readonly #nodes: Informer<N>;
  /** Nodes seen missing, and since when. */
  readonly #missingSince = new Map<string, number>();

  constructor(ctx: ControllerContext, o: PodGCOptions = {}) {
    this.#ctx = ctx;
    this.#o = { terminatedPodThreshold: 12_500, periodMs: 20_000, quarantineMs: 40_000, ...o };
    this.#pods = ctx.informers.for<P>('', 'v1', 'pods');
    this.#nodes = ctx.informers.for<N>('', 'v1', 'nodes');
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.#pods.waitForSync(), this.#nodes.waitForSync()]);
    while (!signal.aborted) {
      await this.gc();
      await new Promise<void>((resolve) => {
        const wake = (): void => { t.cancel(); signal.removeEventListener('abort', wake); resolve(); };
        const t = this.#ctx.clock.setTimeout(wake, this.#o.periodMs);
        signal.addEventListener('abort', wake);
      });
    }
  }

  /** One round. Each pod stands alone, as upstream's: one that cannot be collected is logged and tried next round. */
  async gc(): Promise<void> {
    const pods = this.#pods.list();
    for (const p of terminatedBeyond(pods, this.#o.terminatedPodThreshold)) await this.#each(p as P, 'terminated pods beyond the threshold', () => this.#delete(p as P, 'terminated pods beyond the threshold'));
    await this.#gcOrphaned(pods);
    for (const p of unscheduledTerminating(pods)) await this.#each(p as P, 'terminating and never scheduled', (why) => this.#markFailedAndDelete(p as P, undefined, why));
    for (const p of terminatingOutOfService(pods, (n) => this.#nodes.get(n))) await this.#each(p as P, 'terminating on an out-of-service node', (why) => this.#markFailedAndDelete(p as P, undefined, why));
  }

  /** Runs `fn` for one pod; false when it failed (logged). */
  async #each(pod: P, why: string, fn: (why: string) => Promise<boolean | void>): Promise<boolean> {
    try {
      return (await fn(why)) !== false;
    } catch (e) {
      this.#ctx.log.warn('PodGC could not collect a pod; the next round tries again', { pod: objectKey(pod.metadata), why, err: e as Error });
      return false;
    }
  }

  async #gcOrphaned(pods: readonly P[]): Promise<void> {
    const now = this.#ctx.clock.now();
    const missing = missingNodes(pods, (n) => this.#nodes.get(n) !== undefined);
    for (const n of this.#missingSince.keys()) if (!missing.has(n)) this.#missingSince.delete(n);
    for (const node of missing) {
      const since = this.#missingSince.get(node);
      if (since === undefined) { this.#missingSince.set(node, now); continue; }
      if (now - since < this.#o.quarantineMs) continue;
      // The informer may lag: only the API's own 404 makes the node gone.
      const path = resourcePath({ group: '', version: 'v1', plural: 'nodes', name: node });
      const r = await this.#ctx.client.request('GET', path).catch(() => undefined);
      if (r?.status !== 404) continue;
      const why = `its node ${node} no longer exists`;
      const condition = disruptionTarget('DeletionByPodGC', 'PodGC: node no longer exists');
      // (The quarantine is over for this node until it reappears: pods left over are tried again next round.)
      for (const p of pods) if (p.spec?.nodeName === node) await this.#each(p, why, () => this.#markFailedAndDelete(p, condition, why));
    }
  }

  /**
   * Upstream's markFailedAndDeletePodWithCondition: a pod not yet terminal gets phase Failed (and the condition), then a
   * forced delete. False when the pod changed meanwhile (the next round sees it as it is now).
   */
  async #markFailedAndDelete(pod: P, condition: PodCondition | undefined, why: string): Promise<boolean> {
    if (!isPodTerminal(pod)) {
      const path = `${resourcePath({ group: '', version: 'v1', plural: 'pods', namespace: pod.metadata.namespace, name: pod.metadata.name })}/status`;
      const status = structuredClone(pod.status ?? {}) as PodStatus & { phase?: string };
      status.phase = 'Failed';
      if (condition) updatePodCondition(status, condition, this.#ctx.clock.now());
      const r = await this.#ctx.client.request('PUT', path, { body: { ...pod, status } });
      if (r.status === 404) return true;
      if (r.status === 409) return false;
      if (r.status !== 200) throw new ApiRequestError(r.status, r.body as never, 'PUT', path);
    }
    await this.#delete(pod, why);
    return true;
  }

  async #delete(pod: P, why: string): Promise<void> {
    const path = resourcePath({ group: '', version: 'v1', plural: 'pods', namespace: pod.metadata.namespace, name: pod.metadata.name });
    const r = await this.#ctx.client.request('DELETE', path, { body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } } });
    if (r.status === 404 || r.status === 409) return;
    if (r.status !== 200 && r.status !== 202) throw new ApiRequestError(r.status, r.body as never, 'DELETE', path);
    this.#ctx.log.info('PodGC force-deleted a pod', { pod: objectKey(pod.metadata), node: pod.spec?.nodeName, why });
  }
}

import type { ReplicaSet, ReplicaSetCondition, ReplicaSetStatus } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/types.js';
import { fromLabelSelector, Selector } from '../../api/selectors/label-selector.js';
import { isPodActive, isPodAvailable, isPodReady } from '../../api/pod-conditions.js';
import { WorkQueue, runWorkers } from '../../client/work-queue.js';
import type { Informer } from '../../client/informer.js';
import type { EventRecorder } from '../../client/event-recorder.js';
import { objectKey, resourcePath, splitKey } from '../../client/paths.js';
import { ApiRequestError } from '../../client/rest-client.js';
import { deepEqual } from '../../util/deep-equal.js';
import { claim, controllerOf, controllerRef } from '../controller-ref.js';
import { Expectations } from '../expectations.js';
import type { Controller, ControllerContext } from '../controller.js';
import { rankForDeletion } from './pod-ranking.js';
import { rfc3339 } from '../../util/time.js';

type RS = ReplicaSet & KubeObject;
type P = Pod & KubeObject;

/** At most this many pods are created or deleted in one sync (upstream's burstReplicas). */
const burstReplicas = 500;


/** Runs `fn` in batches of 1, 2, 4, ... stopping after the first batch with a failure; returns how many succeeded. */
async function slowStartBatch(count: number, fn: () => Promise<void>): Promise<{ ok: number; error?: unknown }> {
  let ok = 0;
  let batch = 1;
  let remaining = count;
  while (remaining > 0) {
    const size = Math.min(batch, remaining);
    const results = await Promise.allSettled(Array.from({ length: size }, fn));
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    ok += results.filter((r) => r.status === 'fulfilled').length;
    if (failed) return { ok, error: failed.reason };
    remaining -= size;
    batch *= 2;
  }
  return { ok };
}

/**
 * The ReplicaSet controller: keeps `spec.replicas` pods matching each ReplicaSet, adopting matching
 * orphans and releasing pods whose labels stop matching, deleting the least valuable pods first, and
 * reporting replicas/ready/available counts in the status.
 */
export class ReplicaSetController implements Controller {
  readonly name = 'replicaset';
  readonly #ctx: ControllerContext;
  readonly #rsInf: Informer<RS>;
  readonly #podInf: Informer<P>;
  readonly #queue: WorkQueue<string>;
  readonly #exp: Expectations;
  readonly #rec: EventRecorder;

  constructor(ctx: ControllerContext) {
    this.#ctx = ctx;
    this.#queue = new WorkQueue({ clock: ctx.clock });
    this.#exp = new Expectations(ctx.clock);
    this.#rec = ctx.recorder('replicaset-controller');
    this.#rsInf = ctx.informers.for<RS>('apps', 'v1', 'replicasets');
    this.#podInf = ctx.informers.for<P>('', 'v1', 'pods');
    this.#rsInf.addHandlers({
      add: (rs) => this.#enqueue(rs),
      update: (_old, rs) => this.#enqueue(rs),
      delete: (rs) => { this.#exp.delete(objectKey(rs.metadata)); this.#enqueue(rs); },
    });
    this.#podInf.addHandlers({
      add: (pod) => this.#podAdded(pod),
      update: (old, pod) => this.#podUpdated(old, pod),
      delete: (pod) => this.#podDeleted(pod),
    });
  }

  #enqueue(rs: RS): void {
    this.#queue.add(objectKey(rs.metadata));
  }

  /** The ReplicaSet controlling a pod, if it exists and is the one the reference names. */
  #owner(pod: P): RS | undefined {
    const ref = controllerOf(pod);
    if (!ref || ref.kind !== 'ReplicaSet') return undefined;
    const rs = this.#rsInf.get(`${pod.metadata.namespace}/${ref.name}`);
    return rs && rs.metadata.uid === ref.uid ? rs : undefined;
  }

  /** ReplicaSets in the pod's namespace whose selector matches it (for adopting orphans). */
  #matching(pod: P): RS[] {
    return this.#rsInf.list().filter((rs) => rs.metadata.namespace === pod.metadata.namespace && this.#selector(rs).matches(pod.metadata.labels));
  }

  #selector(rs: RS): Selector {
    try { return fromLabelSelector(rs.spec?.selector); } catch { return Selector.nothing(); }
  }

  #podAdded(pod: P): void {
    if (pod.metadata.deletionTimestamp) { this.#podDeleted(pod); return; }
    const rs = this.#owner(pod);
    if (rs) {
      this.#exp.creationObserved(objectKey(rs.metadata));
      this.#enqueue(rs);
      return;
    }
    if (!controllerOf(pod)) for (const r of this.#matching(pod)) this.#enqueue(r);
  }

  #podUpdated(old: P, pod: P): void {
    if (old.metadata.resourceVersion === pod.metadata.resourceVersion) return;
    if (pod.metadata.deletionTimestamp && !old.metadata.deletionTimestamp) {
      // A graceful deletion counts as done for the ReplicaSet: the pod stops being active at once.
      this.#podDeleted(pod);
      return;
    }
    const oldRef = controllerOf(old);
    const ref = controllerOf(pod);
    if (oldRef && oldRef.uid !== ref?.uid) {
      const prev = this.#rsInf.get(`${old.metadata.namespace}/${oldRef.name}`);
      if (prev) this.#enqueue(prev);
    }
    const rs = this.#owner(pod);
    if (rs) {
      this.#enqueue(rs);
      const minReady = rs.spec?.minReadySeconds ?? 0;
      if (minReady > 0 && !isPodReady(old) && isPodReady(pod)) this.#queue.addAfter(objectKey(rs.metadata), minReady * 1000 + 1000);
      return;
    }
    if (!ref || !deepEqual(old.metadata.labels, pod.metadata.labels)) for (const r of this.#matching(pod)) this.#enqueue(r);
  }

  #podDeleted(pod: P): void {
    const rs = this.#owner(pod);
    if (!rs) return;
    const key = objectKey(rs.metadata);
    this.#exp.deletionObserved(key, objectKey(pod.metadata));
    this.#enqueue(rs);
  }

  async run(signal: AbortSignal, workers: number): Promise<void> {
    signal.addEventListener('abort', () => this.#queue.shutDown());
    await Promise.all([this.#rsInf.waitForSync(), this.#podInf.waitForSync()]);
    await runWorkers(this.#queue, workers, (key) => this.sync(key), (key, e) => this.#ctx.log.warn('replicaset sync failed', { key, err: e as Error }));
  }

  /** Reconciles one ReplicaSet: pods towards `spec.replicas`, then status. */
  async sync(key: string): Promise<void> {
    const rs = this.#rsInf.get(key);
    if (!rs) { this.#exp.delete(key); return; }
    const { namespace } = splitKey(key);
    const selector = this.#selector(rs);
    const candidates = this.#podInf.list().filter((p) => p.metadata.namespace === namespace && isPodActiveOrOwned(p));
    const owned = await claim<P>({
      owner: rs,
      matches: (p) => selector.matches(p.metadata.labels),
      candidates,
      patch: (p, body) => this.#patchPod(p, body),
      canAdopt: async () => {
        const fresh = await this.#ctx.client.request<RS>('GET', resourcePath({ group: 'apps', version: 'v1', plural: 'replicasets', namespace, name: rs.metadata.name }));
        return fresh.status === 200 && fresh.body.metadata.uid === rs.metadata.uid && !fresh.body.metadata.deletionTimestamp;
      },
    });
    const active = owned.filter((p) => isPodActive(p));
    let manageError: { reason: string; message: string } | undefined;
    if (this.#exp.satisfied(key) && !rs.metadata.deletionTimestamp) {
      manageError = await this.#manage(rs, active);
    }
    await this.#updateStatus(rs, active, manageError);
  }

  async #patchPod(p: P, body: unknown): Promise<P | undefined> {
    const r = await this.#ctx.client.request<P>('PATCH', resourcePath({ group: '', version: 'v1', plural: 'pods', namespace: p.metadata.namespace, name: p.metadata.name }), {
      body, contentType: 'application/strategic-merge-patch+json',
    });
    if (r.status === 404 || r.status === 409 || r.status === 422) return undefined;
    if (r.status !== 200) throw new ApiRequestError(r.status, r.body as never, 'PATCH', 'pod');
    return r.body;
  }

  async #manage(rs: RS, active: P[]): Promise<{ reason: string; message: string } | undefined> {
    const key = objectKey(rs.metadata);
    const want = rs.spec?.replicas ?? 1;
    const diff = active.length - want;
    if (diff < 0) {
      const n = Math.min(-diff, burstReplicas);
      this.#exp.expect(key, n);
      const res = await slowStartBatch(n, () => this.#createPod(rs));
      for (let i = res.ok; i < n; i++) this.#exp.creationObserved(key);
      if (res.error) {
        const msg = res.error instanceof ApiRequestError ? res.error.status?.message ?? res.error.message : String(res.error);
        return { reason: 'FailedCreate', message: msg };
      }
    } else if (diff > 0) {
      const n = Math.min(diff, burstReplicas);
      const victims = rankForDeletion(active, this.#ctx.clock.now()).slice(0, n) as P[];
      this.#exp.expect(key, 0, victims.map((p) => objectKey(p.metadata)));
      let failure: { reason: string; message: string } | undefined;
      await Promise.all(victims.map(async (p) => {
        const r = await this.#ctx.client.request('DELETE', resourcePath({ group: '', version: 'v1', plural: 'pods', namespace: p.metadata.namespace, name: p.metadata.name }), {
          body: { preconditions: { uid: p.metadata.uid } },
        });
        if (r.status === 200 || r.status === 202) {
          this.#rec.event(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`);
          return;
        }
        this.#exp.deletionObserved(key, objectKey(p.metadata));
        if (r.status !== 404) {
          const message = (r.body as { message?: string }).message ?? `status ${r.status}`;
          this.#rec.event(rs, 'Warning', 'FailedDelete', `Error deleting: ${message}`);
          failure = { reason: 'FailedDelete', message };
        }
      }));
      return failure;
    }
    return undefined;
  }

  async #createPod(rs: RS): Promise<void> {
    const t = rs.spec?.template ?? {};
    const body = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        generateName: `${rs.metadata.name}-`,
        namespace: rs.metadata.namespace,
        labels: { ...(t.metadata?.labels ?? {}) },
        ...(t.metadata?.annotations ? { annotations: { ...t.metadata.annotations } } : {}),
        ...(t.metadata?.finalizers ? { finalizers: [...t.metadata.finalizers] } : {}),
        ownerReferences: [controllerRef(rs)],
      },
      spec: t.spec,
    };
    const r = await this.#ctx.client.request<P>('POST', resourcePath({ group: '', version: 'v1', plural: 'pods', namespace: rs.metadata.namespace }), { body });
    if (r.status === 201) {
      this.#rec.event(rs, 'Normal', 'SuccessfulCreate', `Created pod: ${r.body.metadata.name}`);
      return;
    }
    const message = (r.body as { message?: string }).message ?? `status ${r.status}`;
    // A terminating namespace refuses new pods; that is expected, not a failure worth an event.
    if (!(r.status === 403 && /being terminated/.test(message))) this.#rec.event(rs, 'Warning', 'FailedCreate', `Error creating: ${message}`);
    throw new ApiRequestError(r.status, r.body as never, 'POST', 'pods');
  }

  async #updateStatus(rs: RS, active: P[], manageError: { reason: string; message: string } | undefined): Promise<void> {
    const now = this.#ctx.clock.now();
    const minReady = rs.spec?.minReadySeconds ?? 0;
    const templateLabels = new Selector(Object.entries(rs.spec?.template?.metadata?.labels ?? {}).map(([k, v]) => ({ key: k, op: '=' as const, values: [v] })));
    const status: Mutable<ReplicaSetStatus> = {
      replicas: active.length,
      fullyLabeledReplicas: active.filter((p) => templateLabels.matches(p.metadata.labels)).length,
      readyReplicas: active.filter((p) => isPodReady(p)).length,
      availableReplicas: active.filter((p) => isPodAvailable(p, minReady, now)).length,
      observedGeneration: rs.metadata.generation,
    };
    let conditions: ReplicaSetCondition[] = (rs.status?.conditions ?? []).filter((c) => c.type !== 'ReplicaFailure');
    const failure = rs.status?.conditions?.find((c) => c.type === 'ReplicaFailure');
    if (manageError) {
      conditions = [...conditions, failure && failure.reason === manageError.reason ? failure : { type: 'ReplicaFailure', status: 'True', lastTransitionTime: rfc3339(now), reason: manageError.reason, message: manageError.message }];
    }
    if (conditions.length > 0) status.conditions = conditions;
    const prev: ReplicaSetStatus = { ...(rs.status ?? {}) } as ReplicaSetStatus;
    // These counts are omitted when zero in upstream's JSON.
    for (const k of ['fullyLabeledReplicas', 'readyReplicas', 'availableReplicas'] as const) if (status[k] === 0) delete status[k];
    if (!deepEqual(normalizeStatus(prev), normalizeStatus(status))) {
      const r = await this.#ctx.client.request('PUT', resourcePath({ group: 'apps', version: 'v1', plural: 'replicasets', namespace: rs.metadata.namespace, name: rs.metadata.name, subresource: 'status' }), {
        body: { ...rs, status },
      });
      if (r.status === 409) { this.#queue.add(objectKey(rs.metadata)); return; }
      if (r.status !== 200 && r.status !== 404) throw new ApiRequestError(r.status, r.body as never, 'PUT', 'replicasets/status');
    }
    if (minReady > 0 && status.readyReplicas === (rs.spec?.replicas ?? 1) && status.availableReplicas !== status.readyReplicas) {
      this.#queue.addAfter(objectKey(rs.metadata), minReady * 1000);
    }
  }
}

/** Pods worth looking at: everything not finished, plus finished pods that still carry an owner reference. */
function isPodActiveOrOwned(p: P): boolean {
  return isPodActive(p) || !!controllerOf(p);
}

function normalizeStatus(s: ReplicaSetStatus): ReplicaSetStatus {
  return { ...s, fullyLabeledReplicas: s.fullyLabeledReplicas ?? 0, readyReplicas: s.readyReplicas ?? 0, availableReplicas: s.availableReplicas ?? 0 };
}

import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import type { KubeObject } from '../../api/types.js';
import { fromLabelSelector, formatLabels, Selector } from '../../api/selectors/label-selector.js';
import type { Informer } from '../../client/informer.js';
import type { EventRecorder } from '../../client/event-recorder.js';
import { objectKey, resourcePath, splitKey } from '../../client/paths.js';
import { ApiRequestError } from '../../client/rest-client.js';
import { WorkQueue, runWorkers } from '../../client/work-queue.js';
import { deepEqual } from '../../util/deep-equal.js';
import { controllerOf } from '../controller-ref.js';
import type { Controller, ControllerContext } from '../controller.js';
import { budgetStatus, countHealthy, disruptedPods, expectedCounts, failSafeStatus, needsScale, sameStatus } from './pdb-status.js';

type PDB = PodDisruptionBudget & KubeObject;
type P = Pod & KubeObject;
type RS = ReplicaSet & KubeObject;
type D = Deployment & KubeObject;

/**
 * The disruption controller: keeps each PodDisruptionBudget's status — the pods its selector picks,
 * how many are healthy (Ready, not being deleted, not just evicted), how many must be
 * (`desiredHealthy`, from minAvailable or from maxUnavailable against the scale of the pods'
 * controllers), and so `disruptionsAllowed`, which the eviction subresource spends — and clears
 * `disruptedPods` entries once their pods are deleted or two minutes have passed.
 */
export class DisruptionController implements Controller {
  readonly name = 'disruption';
  readonly #ctx: ControllerContext;
  readonly #rec: EventRecorder;
  readonly #pdbs: Informer<PDB>;
  readonly #pods: Informer<P>;
  readonly #rs: Informer<RS>;
  readonly #deploys: Informer<D>;
  readonly #queue: WorkQueue<string>;
  readonly #selectors = new WeakMap<PDB, Selector>();

  constructor(ctx: ControllerContext) {
    this.#ctx = ctx;
    this.#rec = ctx.recorder('controllermanager');
    this.#queue = new WorkQueue({ clock: ctx.clock });
    this.#pdbs = ctx.informers.for<PDB>('policy', 'v1', 'poddisruptionbudgets');
    this.#pods = ctx.informers.for<P>('', 'v1', 'pods');
    this.#rs = ctx.informers.for<RS>('apps', 'v1', 'replicasets');
    this.#deploys = ctx.informers.for<D>('apps', 'v1', 'deployments');
    this.#pdbs.addHandlers({
      add: (b) => this.#queue.add(objectKey(b.metadata)),
      update: (_o, b) => this.#queue.add(objectKey(b.metadata)),
      delete: (b) => this.#queue.add(objectKey(b.metadata)),
    });
    this.#pods.addHandlers({
      add: (p) => this.#podChanged(p),
      update: (old, p) => { this.#podChanged(p); if (!deepEqual(old.metadata.labels, p.metadata.labels)) this.#podChanged(old); },
      delete: (p) => this.#podChanged(p),
    });
    // A workload's scale is the total of percentage budgets: a scale change re-counts them.
    const workload = (o: KubeObject): void => { for (const b of this.#pdbs.list()) if (b.metadata.namespace === o.metadata.namespace && needsScale(b.spec)) this.#queue.add(objectKey(b.metadata)); };
    this.#rs.addHandlers({ update: (o, n) => { if ((o as RS).spec?.replicas !== (n as RS).spec?.replicas) workload(n); } });
    this.#deploys.addHandlers({ update: (o, n) => { if ((o as D).spec?.replicas !== (n as D).spec?.replicas) workload(n); } });
  }

  #selector(b: PDB): Selector {
    // Every pod event asks every budget of its namespace: parse each budget's selector once per version of it
    // (the informer hands out a new object when a budget changes).
    let s = this.#selectors.get(b);
    if (!s) {
      try { s = fromLabelSelector(b.spec?.selector); } catch { s = Selector.nothing(); }
      this.#selectors.set(b, s);
    }
    return s;
  }

  /** Budgets covering the pod are re-counted. */
  #podChanged(p: P): void {
    for (const b of this.#pdbs.list()) {
      if (b.metadata.namespace === p.metadata.namespace && this.#selector(b).matches(p.metadata.labels)) this.#queue.add(objectKey(b.metadata));
    }
  }

  async run(signal: AbortSignal, workers: number): Promise<void> {
    signal.addEventListener('abort', () => this.#queue.shutDown());
    await Promise.all([this.#pdbs.waitForSync(), this.#pods.waitForSync(), this.#rs.waitForSync(), this.#deploys.waitForSync()]);
    await runWorkers(this.#queue, workers, (key) => this.sync(key), (key, e) => this.#ctx.log.warn('disruption budget sync failed', { key, err: e as Error }));
  }

  /** Recomputes one budget's status (upstream's trySync, with failSafe when the pods' scale cannot be found). */
  async sync(key: string): Promise<void> {
    const pdb = this.#pdbs.get(key);
    if (!pdb) return;
    const { namespace } = splitKey(key);
    const selector = this.#selector(pdb);
    const pods = this.#pods.list().filter((p) => p.metadata.namespace === namespace && selector.matches(p.metadata.labels));
    const now = this.#ctx.clock.now();
    if (pods.length === 0) this.#rec.event(pdb, 'Normal', 'NoPods', 'No matching pods found');
    let status;
    let recheckAt: number | undefined;
    try {
      const unmanaged = pods.filter((p) => !controllerOf(p)).map((p) => p.metadata.name!);
      const scale = needsScale(pdb.spec) ? this.#expectedScale(pods) : 0;
      if (unmanaged.length > 0 && needsScale(pdb.spec)) {
        this.#rec.event(pdb, 'Warning', 'UnmanagedPods', `Pods selected by this PodDisruptionBudget (selector: ${formatSelector(pdb)}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set ".spec.minAvailable" field of the PDB to an integer value.`);
      }
      const { expected, desired } = expectedCounts(pdb.spec, pods.length, scale);
      const disrupted = disruptedPods(pods, pdb.status?.disruptedPods, now);
      for (const name of disrupted.overdue) {
        const p = pods.find((x) => x.metadata.name === name);
        if (p) this.#rec.event(p, 'Warning', 'NotDeleted', `Pod was expected by PDB ${pdb.metadata.namespace}/${pdb.metadata.name} to be deleted but it wasn't`);
      }
      recheckAt = disrupted.recheckAt;
      status = budgetStatus(pdb, { current: countHealthy(pods, disrupted.map, now), desired, expected, disrupted: disrupted.map }, now);
    } catch (e) {
      this.#rec.event(pdb, 'Warning', 'CalculateExpectedPodCountFailed', `Failed to calculate the number of expected pods: ${(e as Error).message}`);
      status = failSafeStatus(pdb, (e as Error).message, now);
    }
    if (!sameStatus(pdb.status, status)) {
      const path = resourcePath({ group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', namespace, name: pdb.metadata.name, subresource: 'status' });
      const r = await this.#ctx.client.request('PUT', path, { body: { ...pdb, status } });
      // A conflict: the eviction subresource or a spec change got there first; the informer brings the change back here.
      if (r.status === 409) { this.#queue.addAfter(key, 50); return; }
      if (r.status !== 200 && r.status !== 404) throw new ApiRequestError(r.status, r.body as never, 'PUT', path);
    }
    if (recheckAt !== undefined) this.#queue.addAfter(key, Math.max(0, recheckAt - now) + 1);
  }

  /**
   * The summed scale of the controllers of the pods (upstream's getExpectedScale): a ReplicaSet owned
   * by a Deployment counts as the Deployment, each controller once. Pods without a controller are
   * left out; a controller of a kind without a scale skiff knows is an error.
   */
  #expectedScale(pods: readonly P[]): number {
    const scales = new Map<string, number>();
    for (const p of pods) {
      const ref = controllerOf(p);
      if (!ref || scales.has(ref.uid)) continue;
      const found = ref.kind === 'ReplicaSet' && ref.apiVersion?.startsWith('apps/') ? this.#replicaSetScale(p.metadata.namespace!, ref.name, ref.uid) : undefined;
      if (!found) throw new Error(`found no controllers for pod "${p.metadata.name}"`);
      scales.set(found.uid, found.scale);
    }
    let total = 0;
    for (const s of scales.values()) total += s;
    return total;
  }

  #replicaSetScale(namespace: string, name: string, uid: string): { uid: string; scale: number } | undefined {
    const rs = this.#rs.get(`${namespace}/${name}`);
    if (!rs || rs.metadata.uid !== uid) return undefined;
    const owner = controllerOf(rs);
    if (owner?.kind === 'Deployment') {
      const d = this.#deploys.get(`${namespace}/${owner.name}`);
      if (!d || d.metadata.uid !== owner.uid) return undefined;
      return { uid: d.metadata.uid!, scale: d.spec?.replicas ?? 1 };
    }
    return { uid: rs.metadata.uid!, scale: rs.spec?.replicas ?? 1 };
  }
}

/** The selector as upstream prints a LabelSelector in that message (roughly `&LabelSelector{...}`), here in label syntax. */
function formatSelector(pdb: PDB): string {
  const s = pdb.spec?.selector;
  if (!s) return '<nil>';
  return s.matchExpressions?.length ? JSON.stringify(s) : formatLabels(s.matchLabels);
}

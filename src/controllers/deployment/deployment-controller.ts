import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import type { KubeObject } from '../../api/types.js';
import { fromLabelSelector, Selector } from '../../api/selectors/label-selector.js';
import { WorkQueue, runWorkers } from '../../client/work-queue.js';
import type { Informer } from '../../client/informer.js';
import type { EventRecorder } from '../../client/event-recorder.js';
import { objectKey, resourcePath } from '../../client/paths.js';
import { ApiRequestError } from '../../client/rest-client.js';
import { deepEqual } from '../../util/deep-equal.js';
import { claim, controllerOf, controllerRef } from '../controller-ref.js';
import type { Controller, ControllerContext } from '../controller.js';
import { equalIgnoreHash, templateHash, templateHashLabel } from './template-hash.js';
import { isRollingUpdate, maxSurge, maxUnavailable, newRSNewReplicas, specReplicas, sum } from './rollout-math.js';
import { annotations, maxRevision, replicasAnnotationsNeedUpdate, revisionOf, setNewReplicaSetAnnotations, setReplicasAnnotations } from './revision.js';
import {
  calculateStatus, deploymentComplete, deploymentProgressing, deploymentTimedOut, getCondition, hasProgressDeadline, newCondition,
  reasons, removeCondition, setCondition, type Status,
} from './status.js';

type D = Deployment & KubeObject;
type RS = ReplicaSet & KubeObject;
type P = Pod & KubeObject;

const byCreation = (a: RS, b: RS): number =>
  Date.parse(a.metadata.creationTimestamp ?? '') - Date.parse(b.metadata.creationTimestamp ?? '') || ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1);

const active = (rss: readonly (RS | undefined)[]): RS[] => rss.filter((rs): rs is RS => !!rs && specReplicas(rs) > 0);

/**
 * The Deployment controller, following upstream's algorithm: the ReplicaSet whose template equals the
 * deployment's is the new one (created with a pod-template-hash when missing); RollingUpdate scales it
 * up and the old ones down within maxSurge/maxUnavailable, Recreate scales old ones to zero first;
 * plain replica changes are spread proportionally; revisions, history cleanup, pause, and the status
 * with Available/Progressing conditions follow upstream's reasons and wording.
 */
export class DeploymentController implements Controller {
  readonly name = 'deployment';
  readonly #ctx: ControllerContext;
  readonly #dInf: Informer<D>;
  readonly #rsInf: Informer<RS>;
  readonly #podInf: Informer<P>;
  readonly #queue: WorkQueue<string>;
  readonly #rec: EventRecorder;

  constructor(ctx: ControllerContext) {
    this.#ctx = ctx;
    this.#queue = new WorkQueue({ clock: ctx.clock });
    this.#rec = ctx.recorder('deployment-controller');
    this.#dInf = ctx.informers.for<D>('apps', 'v1', 'deployments');
    this.#rsInf = ctx.informers.for<RS>('apps', 'v1', 'replicasets');
    this.#podInf = ctx.informers.for<P>('', 'v1', 'pods');
    this.#dInf.addHandlers({ add: (d) => this.#enqueue(d), update: (_o, d) => this.#enqueue(d), delete: (d) => this.#enqueue(d) });
    this.#rsInf.addHandlers({
      add: (rs) => this.#rsChanged(rs),
      update: (old, rs) => { this.#rsChanged(rs); if (controllerOf(old)?.uid !== controllerOf(rs)?.uid) this.#rsChanged(old); },
      delete: (rs) => this.#rsChanged(rs),
    });
    // Recreate waits for the old pods to be gone; their deletion is what lets it go on.
    this.#podInf.addHandlers({ delete: (p) => this.#podDeleted(p) });
  }

  #enqueue(d: D): void {
    this.#queue.add(objectKey(d.metadata));
  }

  #owner(rs: RS): D | undefined {
    const ref = controllerOf(rs);
    if (!ref || ref.kind !== 'Deployment') return undefined;
    const d = this.#dInf.get(`${rs.metadata.namespace}/${ref.name}`);
    return d && d.metadata.uid === ref.uid ? d : undefined;
  }

  #rsChanged(rs: RS): void {
    const d = this.#owner(rs);
    if (d) { this.#enqueue(d); return; }
    if (controllerOf(rs)) return;
    for (const d2 of this.#dInf.list()) {
      if (d2.metadata.namespace === rs.metadata.namespace && this.#selector(d2).matches(rs.metadata.labels)) this.#enqueue(d2);
    }
  }

  #podDeleted(p: P): void {
    const ref = controllerOf(p);
    if (!ref || ref.kind !== 'ReplicaSet') return;
    const rs = this.#rsInf.get(`${p.metadata.namespace}/${ref.name}`);
    const d = rs && this.#owner(rs);
    if (d && d.spec?.strategy?.type === 'Recreate') this.#enqueue(d);
  }

  #selector(d: D): Selector {
    try { return fromLabelSelector(d.spec?.selector); } catch { return Selector.nothing(); }
  }

  async run(signal: AbortSignal, workers: number): Promise<void> {
    signal.addEventListener('abort', () => this.#queue.shutDown());
    await Promise.all([this.#dInf.waitForSync(), this.#rsInf.waitForSync(), this.#podInf.waitForSync()]);
    await runWorkers(this.#queue, workers, (key) => this.sync(key), (key, e) => this.#ctx.log.warn('deployment sync failed', { key, err: e as Error }));
  }

  #now(): number { return this.#ctx.clock.now(); }

  // ------------------------------------------------------------------ API writes

  async #putRS(rs: RS): Promise<RS> {
    const r = await this.#ctx.client.request<RS>('PUT', resourcePath({ group: 'apps', version: 'v1', plural: 'replicasets', namespace: rs.metadata.namespace, name: rs.metadata.name }), { body: rs });
    if (r.status !== 200) throw new ApiRequestError(r.status, r.body as never, 'PUT', `replicasets/${rs.metadata.name}`);
    return r.body;
  }

  async #putStatus(d: D, status: Status): Promise<D> {
    const r = await this.#ctx.client.request<D>('PUT', resourcePath({ group: 'apps', version: 'v1', plural: 'deployments', namespace: d.metadata.namespace, name: d.metadata.name, subresource: 'status' }), {
      body: { ...d, status },
    });
    if (r.status !== 200) throw new ApiRequestError(r.status, r.body as never, 'PUT', `deployments/${d.metadata.name}/status`);
    return r.body;
  }

  /** Sets a ReplicaSet's size (and replica annotations), with a ScalingReplicaSet event when the size moved. */
  async #scaleRS(rs: RS, size: number, d: D): Promise<RS> {
    const desired = d.spec?.replicas ?? 1;
    const max = desired + maxSurge(d);
    const sizeChanges = specReplicas(rs) !== size;
    if (!sizeChanges && !replicasAnnotationsNeedUpdate(rs, desired, max)) return rs;
    const copy = structuredClone(rs);
    copy.spec = { ...copy.spec!, replicas: size };
    setReplicasAnnotations(copy, desired, max);
    const updated = await this.#putRS(copy);
    if (sizeChanges) {
      const op = specReplicas(rs) < size ? 'up' : 'down';
      this.#rec.event(d, 'Normal', 'ScalingReplicaSet', `Scaled ${op} replica set ${rs.metadata.name} from ${specReplicas(rs)} to ${size}`);
    }
    return updated;
  }

  // ------------------------------------------------------------------ sync

  async sync(key: string): Promise<void> {
    let d = this.#dInf.get(key);
    if (!d) return;
    d = structuredClone(d);
    const sel = d.spec?.selector;
    if (!sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0)) {
      this.#rec.event(d, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
      return;
    }
    const rsList = await this.#claimReplicaSets(d);
    if (d.metadata.deletionTimestamp) {
      await this.#syncStatusOnly(d, rsList);
      return;
    }
    d = await this.#checkPausedConditions(d);
    if (d.spec?.paused) { await this.#syncScaling(d, rsList); return; }
    if (this.#isScalingEvent(d, rsList)) { await this.#syncScaling(d, rsList); return; }
    if (d.spec?.strategy?.type === 'Recreate') await this.#rolloutRecreate(d, rsList);
    else await this.#rolloutRolling(d, rsList);
  }

  async #claimReplicaSets(d: D): Promise<RS[]> {
    const selector = this.#selector(d);
    const ns = d.metadata.namespace;
    const candidates = this.#rsInf.list().filter((rs) => rs.metadata.namespace === ns);
    return claim<RS>({
      owner: d,
      matches: (rs) => selector.matches(rs.metadata.labels),
      candidates,
      patch: async (rs, body) => {
        const r = await this.#ctx.client.request<RS>('PATCH', resourcePath({ group: 'apps', version: 'v1', plural: 'replicasets', namespace: ns, name: rs.metadata.name }), {
          body, contentType: 'application/strategic-merge-patch+json',
        });
        return r.status === 200 ? r.body : undefined;
      },
      canAdopt: async () => {
        const fresh = await this.#ctx.client.request<D>('GET', resourcePath({ group: 'apps', version: 'v1', plural: 'deployments', namespace: ns, name: d.metadata.name }));
        return fresh.status === 200 && fresh.body.metadata.uid === d.metadata.uid && !fresh.body.metadata.deletionTimestamp;
      },
    });
  }

  /** The new ReplicaSet (template equal to the deployment's) and the others, oldest first. */
  #split(d: D, rsList: RS[]): { newRS?: RS; old: RS[] } {
    const sorted = [...rsList].sort(byCreation);
    const newRS = sorted.find((rs) => equalIgnoreHash(rs.spec?.template, d.spec?.template));
    return { newRS, old: sorted.filter((rs) => rs !== newRS) };
  }

  /**
   * Finds (and brings up to date) or creates the new ReplicaSet, giving it the next revision; records
   * the revision on the deployment and the Progressing condition (upstream's getNewReplicaSet).
   */
  async #newReplicaSet(d: D, rsList: RS[], create: boolean): Promise<{ newRS?: RS; old: RS[]; d: D }> {
    const { newRS: existing, old } = this.#split(d, rsList);
    const newRevision = maxRevision(old) + 1;
    const now = this.#now();
    if (existing) {
      const copy = structuredClone(existing);
      const annotationsChanged = setNewReplicaSetAnnotations(d, copy, newRevision, true, maxSurge(d));
      const minReadyChanged = (copy.spec?.minReadySeconds ?? 0) !== (d.spec?.minReadySeconds ?? 0);
      let rs = existing;
      if (annotationsChanged || minReadyChanged) {
        copy.spec = { ...copy.spec!, minReadySeconds: d.spec?.minReadySeconds ?? 0 };
        rs = await this.#putRS(copy);
      }
      const revision = rs.metadata.annotations?.[annotations.revision];
      let needsUpdate = false;
      if (revision && d.metadata.annotations?.[annotations.revision] !== revision) {
        d.metadata.annotations = { ...(d.metadata.annotations ?? {}), [annotations.revision]: revision };
        needsUpdate = true;
      }
      const status: Status = structuredClone(d.status ?? {});
      if (!getCondition(status, 'Progressing')) {
        setCondition(status, newCondition('Progressing', 'True', reasons.foundNewReplicaSet, `Found new replica set "${rs.metadata.name}"`, now));
        needsUpdate = true;
      }
      if (needsUpdate) d = await this.#putStatus(d, status);
      return { newRS: rs, old, d };
    }
    if (!create) return { old, d };
    const template = structuredClone(d.spec!.template);
    const hash = templateHash(template, d.status?.collisionCount);
    template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [templateHashLabel]: hash } };
    const selector: LabelSelector = { ...structuredClone(d.spec!.selector), matchLabels: { ...(d.spec!.selector.matchLabels ?? {}), [templateHashLabel]: hash } };
    const rs: RS = {
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: { name: `${d.metadata.name}-${hash}`, namespace: d.metadata.namespace, ownerReferences: [controllerRef(d)], labels: template.metadata.labels },
      spec: { replicas: 0, minReadySeconds: d.spec?.minReadySeconds ?? 0, selector, template },
    };
    rs.spec!.replicas = newRSNewReplicas(d, [...old, rs], rs);
    setNewReplicaSetAnnotations(d, rs, newRevision, false, maxSurge(d));
    const r = await this.#ctx.client.request<RS>('POST', resourcePath({ group: 'apps', version: 'v1', plural: 'replicasets', namespace: d.metadata.namespace }), { body: rs });
    let created: RS;
    let alreadyExists = false;
    if (r.status === 201) {
      created = r.body;
    } else if (r.status === 409) {
      const cur = await this.#ctx.client.request<RS>('GET', resourcePath({ group: 'apps', version: 'v1', plural: 'replicasets', namespace: d.metadata.namespace, name: rs.metadata.name }));
      if (cur.status === 200 && controllerOf(cur.body)?.uid === d.metadata.uid && equalIgnoreHash(cur.body.spec?.template, d.spec?.template)) {
        created = cur.body;
        alreadyExists = true;
      } else {
        // A different template hashed to the same name: bump the collision count so the next hash differs.
        const status: Status = { ...structuredClone(d.status ?? {}), collisionCount: (d.status?.collisionCount ?? 0) + 1 };
        await this.#putStatus(d, status);
        throw new Error(`hash collision for ReplicaSet ${rs.metadata.name}; retrying with collisionCount ${status.collisionCount}`);
      }
    } else {
      const message = (r.body as { message?: string }).message ?? `status ${r.status}`;
      this.#rec.event(d, 'Warning', 'FailedCreate', `Failed to create new replica set "${rs.metadata.name}": ${message}`);
      if (hasProgressDeadline(d)) {
        const status: Status = structuredClone(d.status ?? {});
        setCondition(status, newCondition('Progressing', 'False', reasons.replicaSetCreateError, `Failed to create new replica set "${rs.metadata.name}": ${message}`, now));
        await this.#putStatus(d, status).catch(() => undefined);
      }
      throw new ApiRequestError(r.status, r.body as never, 'POST', 'replicasets');
    }
    if (!alreadyExists && specReplicas(created) > 0) {
      this.#rec.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${created.metadata.name} from 0 to ${specReplicas(created)}`);
    }
    d.metadata.annotations = { ...(d.metadata.annotations ?? {}), [annotations.revision]: String(newRevision) };
    const status: Status = structuredClone(d.status ?? {});
    if (!alreadyExists) setCondition(status, newCondition('Progressing', 'True', reasons.newReplicaSetCreated, `Created new replica set "${created.metadata.name}"`, now));
    d = await this.#putStatus(d, status);
    return { newRS: created, old, d };
  }

  async #checkPausedConditions(d: D): Promise<D> {
    if (!hasProgressDeadline(d)) return d;
    const cond = getCondition(d.status, 'Progressing');
    if (cond?.reason === reasons.progressDeadlineExceeded) return d;
    const pausedExists = cond?.reason === reasons.deploymentPaused;
    const status: Status = structuredClone(d.status ?? {});
    if (d.spec?.paused && !pausedExists) {
      setCondition(status, newCondition('Progressing', 'Unknown', reasons.deploymentPaused, 'Deployment is paused', this.#now()));
    } else if (!d.spec?.paused && pausedExists) {
      setCondition(status, newCondition('Progressing', 'Unknown', reasons.deploymentResumed, 'Deployment is resumed', this.#now()));
    } else return d;
    return this.#putStatus(d, status);
  }

  #isScalingEvent(d: D, rsList: RS[]): boolean {
    const { newRS, old } = this.#split(d, rsList);
    for (const rs of active([...old, newRS])) {
      const desired = rs.metadata.annotations?.[annotations.desiredReplicas];
      if (desired === undefined) continue;
      if (Number(desired) !== (d.spec?.replicas ?? 1)) return true;
    }
    return false;
  }

  /** Scaling or paused: resize ReplicaSets, no rollout (upstream's sync). */
  async #syncScaling(d: D, rsList: RS[]): Promise<void> {
    const r = await this.#newReplicaSet(d, rsList, false);
    d = r.d;
    const rss = await this.#scale(d, r.newRS, r.old);
    if (d.spec?.paused) await this.#cleanup(rss.old, d);
    await this.#syncStatus([...rss.old, ...(rss.newRS ? [rss.newRS] : [])], rss.newRS, d);
  }

  async #syncStatusOnly(d: D, rsList: RS[]): Promise<void> {
    const { newRS, old } = this.#split(d, rsList);
    await this.#syncStatus([...old, ...(newRS ? [newRS] : [])], newRS, d);
  }

  async #syncStatus(all: RS[], newRS: RS | undefined, d: D): Promise<void> {
    const status = calculateStatus(all, newRS, d, this.#now());
    if (!deepEqual(status, d.status ?? {})) await this.#putStatus(d, status);
  }

  /** Proportional scaling: spreads a replica change over the active ReplicaSets (upstream's scale). */
  async #scale(d: D, newRS: RS | undefined, old: RS[]): Promise<{ newRS?: RS; old: RS[] }> {
    const desired = d.spec?.replicas ?? 1;
    const replace = (rs: RS, updated: RS): void => {
      if (rs === newRS) newRS = updated;
      else old = old.map((o) => (o === rs ? updated : o));
    };
    const activeAll = active([...old, newRS]);
    let single: RS | undefined;
    if (activeAll.length === 0) single = newRS ?? [...old].sort(byCreation).reverse()[0];
    else if (activeAll.length === 1) single = activeAll[0];
    if (single || (!newRS && old.length === 0)) {
      if (single && specReplicas(single) !== desired) replace(single, await this.#scaleRS(single, desired, d));
      else if (single && replicasAnnotationsNeedUpdate(single, desired, desired + maxSurge(d))) replace(single, await this.#scaleRS(single, desired, d));
      return { newRS, old };
    }
    const saturated = newRS && specReplicas(newRS) === desired && newRS.metadata.annotations?.[annotations.desiredReplicas] === String(desired) && (newRS.status?.availableReplicas ?? 0) === desired;
    if (saturated) {
      for (const rs of active(old)) replace(rs, await this.#scaleRS(rs, 0, d));
      return { newRS, old };
    }
    if (!isRollingUpdate(d)) return { newRS, old };
    const all = active([...old, newRS]);
    const allowed = desired > 0 ? desired + maxSurge(d) : 0;
    const toAdd = allowed - sum(all, specReplicas);
    const sized = [...all].sort((a, b) => {
      const diff = specReplicas(b) - specReplicas(a);
      if (diff !== 0) return diff;
      // Ties: newer first when growing, older first when shrinking.
      return toAdd > 0 ? byCreation(b, a) : byCreation(a, b);
    });
    const target = new Map<RS, number>();
    let added = 0;
    for (const rs of sized) {
      if (toAdd !== 0) {
        const p = this.#proportion(rs, d, toAdd, added);
        target.set(rs, specReplicas(rs) + p);
        added += p;
      } else target.set(rs, specReplicas(rs));
    }
    if (toAdd !== 0 && sized.length > 0) {
      const first = sized[0]!;
      target.set(first, Math.max(0, target.get(first)! + toAdd - added));
    }
    for (const rs of sized) replace(rs, await this.#scaleRS(rs, target.get(rs)!, d));
    return { newRS, old };
  }

  #proportion(rs: RS, d: D, toAdd: number, added: number): number {
    if (specReplicas(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
    const desired = d.spec?.replicas ?? 1;
    let fraction: number;
    if (desired === 0) fraction = -specReplicas(rs);
    else {
      const deploymentReplicas = desired + maxSurge(d);
      const annotated = Number(rs.metadata.annotations?.[annotations.maxReplicas] ?? NaN);
      const base = Number.isInteger(annotated) && annotated > 0 ? annotated : d.status?.replicas ?? 0;
      fraction = base === 0 ? 0 : Math.round((specReplicas(rs) * deploymentReplicas) / base) - specReplicas(rs);
    }
    const allowed = toAdd - added;
    return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
  }

  // ------------------------------------------------------------------ strategies

  async #rolloutRolling(d: D, rsList: RS[]): Promise<void> {
    const r = await this.#newReplicaSet(d, rsList, true);
    d = r.d;
    let newRS = r.newRS!;
    let old = r.old;
    // Scale the new ReplicaSet up as far as maxSurge allows.
    const desired = d.spec?.replicas ?? 1;
    if (specReplicas(newRS) !== desired) {
      const target = specReplicas(newRS) > desired ? desired : newRSNewReplicas(d, [...old, newRS], newRS);
      if (target !== specReplicas(newRS)) {
        newRS = await this.#scaleRS(newRS, target, d);
        await this.#syncRolloutStatus([...old, newRS], newRS, d);
        return;
      }
    }
    // Then the old ones down, as far as maxUnavailable allows.
    const scaledDown = await this.#reconcileOld([...old, newRS], old, newRS, d);
    if (scaledDown) {
      old = scaledDown;
      await this.#syncRolloutStatus([...old, newRS], newRS, d);
      return;
    }
    if (deploymentComplete(d, d.status ?? {})) await this.#cleanup(old, d);
    await this.#syncRolloutStatus([...old, newRS], newRS, d);
  }

  /** Scales old ReplicaSets down within maxUnavailable; returns the updated list, or undefined when nothing changed. */
  async #reconcileOld(all: RS[], oldIn: RS[], newRS: RS, d: D): Promise<RS[] | undefined> {
    let old = [...oldIn];
    const oldCount = sum(old, specReplicas);
    if (oldCount === 0) return undefined;
    const allCount = sum(all, specReplicas);
    const desired = d.spec?.replicas ?? 1;
    const minAvailable = desired - maxUnavailable(d);
    const newUnavailable = specReplicas(newRS) - (newRS.status?.availableReplicas ?? 0);
    const maxScaledDown = allCount - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return undefined;
    let changed = false;
    // First drop old replicas that are not available anyway: that costs no availability.
    let cleaned = 0;
    old = [...old].sort(byCreation);
    for (let i = 0; i < old.length && cleaned < maxScaledDown; i++) {
      const rs = old[i]!;
      const unhealthy = specReplicas(rs) - (rs.status?.availableReplicas ?? 0);
      if (specReplicas(rs) === 0 || unhealthy <= 0) continue;
      const n = Math.min(maxScaledDown - cleaned, unhealthy);
      old[i] = await this.#scaleRS(rs, specReplicas(rs) - n, d);
      cleaned += n;
      changed = true;
    }
    // Then available ones, oldest first, down to minAvailable.
    const availableNow = sum([...old, newRS], (rs) => rs.status?.availableReplicas ?? 0);
    if (availableNow > minAvailable) {
      const total = availableNow - minAvailable;
      let done = 0;
      for (let i = 0; i < old.length && done < total; i++) {
        const rs = old[i]!;
        if (specReplicas(rs) === 0) continue;
        const n = Math.min(specReplicas(rs), total - done);
        old[i] = await this.#scaleRS(rs, specReplicas(rs) - n, d);
        done += n;
        changed = true;
      }
    }
    return changed ? old : undefined;
  }

  async #rolloutRecreate(d: D, rsList: RS[]): Promise<void> {
    let r = await this.#newReplicaSet(d, rsList, false);
    d = r.d;
    let { newRS, old } = r;
    let scaledDown = false;
    for (const rs of active(old)) {
      const updated = await this.#scaleRS(rs, 0, d);
      old = old.map((o) => (o === rs ? updated : o));
      scaledDown = true;
    }
    if (scaledDown) { await this.#syncRolloutStatus([...old, ...(newRS ? [newRS] : [])], newRS, d); return; }
    if (this.#oldPodsRunning(newRS, old)) { await this.#syncRolloutStatus([...old, ...(newRS ? [newRS] : [])], newRS, d); return; }
    if (!newRS) {
      r = await this.#newReplicaSet(d, rsList, true);
      d = r.d;
      newRS = r.newRS;
      old = r.old;
    }
    if (newRS && specReplicas(newRS) !== (d.spec?.replicas ?? 1)) newRS = await this.#scaleRS(newRS, d.spec?.replicas ?? 1, d);
    if (deploymentComplete(d, d.status ?? {})) await this.#cleanup(old, d);
    await this.#syncRolloutStatus([...old, ...(newRS ? [newRS] : [])], newRS, d);
  }

  /** Recreate must not start new pods while pods of old ReplicaSets still run. */
  #oldPodsRunning(newRS: RS | undefined, old: RS[]): boolean {
    if (sum(old, (rs) => rs.status?.replicas ?? 0) > 0) return true;
    const oldUids = new Set(old.map((rs) => rs.metadata.uid));
    for (const p of this.#podInf.list()) {
      const ref = controllerOf(p);
      if (!ref || !oldUids.has(ref.uid) || ref.uid === newRS?.metadata.uid) continue;
      const phase = p.status?.phase;
      if (phase !== 'Failed' && phase !== 'Succeeded') return true;
    }
    return false;
  }

  /** Deletes old, empty ReplicaSets beyond revisionHistoryLimit, oldest revision first. */
  async #cleanup(old: RS[], d: D): Promise<void> {
    const limit = d.spec?.revisionHistoryLimit;
    if (limit === undefined || limit === null) return;
    const cleanable = old.filter((rs) => !rs.metadata.deletionTimestamp).sort((a, b) => revisionOf(a) - revisionOf(b));
    const diff = cleanable.length - limit;
    for (let i = 0; i < diff; i++) {
      const rs = cleanable[i]!;
      if ((rs.status?.replicas ?? 0) !== 0 || specReplicas(rs) !== 0 || (rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0)) continue;
      await this.#ctx.client.request('DELETE', resourcePath({ group: 'apps', version: 'v1', plural: 'replicasets', namespace: rs.metadata.namespace, name: rs.metadata.name }), {
        body: { preconditions: { uid: rs.metadata.uid } },
      });
    }
  }

  /** Status with the Progressing condition moved along (upstream's syncRolloutStatus). */
  async #syncRolloutStatus(all: RS[], newRS: RS | undefined, d: D): Promise<void> {
    const now = this.#now();
    const status = calculateStatus(all, newRS, d, now);
    if (!hasProgressDeadline(d)) removeCondition(status, 'Progressing');
    const cur = getCondition(d.status, 'Progressing');
    const complete = status.replicas === status.updatedReplicas && cur?.reason === reasons.newReplicaSetAvailable;
    const subject = newRS ? `ReplicaSet "${newRS.metadata.name}"` : `Deployment "${d.metadata.name}"`;
    if (hasProgressDeadline(d) && !complete) {
      if (deploymentComplete(d, status)) {
        setCondition(status, newCondition('Progressing', 'True', reasons.newReplicaSetAvailable, `${subject} has successfully progressed.`, now));
      } else if (deploymentProgressing(d, status)) {
        const c = newCondition('Progressing', 'True', reasons.replicaSetUpdated, `${subject} is progressing.`, now);
        // Progress moves lastUpdateTime even when the reason stays the same; the transition time stays.
        if (cur?.status === 'True') c.lastTransitionTime = cur.lastTransitionTime;
        removeCondition(status, 'Progressing');
        status.conditions = [...(status.conditions ?? []), c];
      } else if (deploymentTimedOut(d, status, now)) {
        setCondition(status, newCondition('Progressing', 'False', reasons.progressDeadlineExceeded, `${subject} has timed out progressing.`, now));
      }
    }
    const failure = all.map((rs) => rs.status?.conditions?.find((c) => c.type === 'ReplicaFailure' && c.status === 'True')).find((c) => c);
    if (failure) setCondition(status, newCondition('ReplicaFailure', 'True', failure.reason ?? '', failure.message ?? '', now));
    else if (getCondition(status, 'ReplicaFailure')) removeCondition(status, 'ReplicaFailure');
    if (deepEqual(status, d.status ?? {})) {
      this.#requeueStuck(d, status);
      return;
    }
    await this.#putStatus(d, status);
    this.#requeueStuck(d, status);
  }

  /** A rollout that is still progressing is checked again when its deadline passes. */
  #requeueStuck(d: D, status: Status): void {
    const c = getCondition(status, 'Progressing');
    if (!hasProgressDeadline(d) || !c || c.status !== 'True' || c.reason === reasons.newReplicaSetAvailable) return;
    const deadline = Date.parse(c.lastUpdateTime ?? '') + (d.spec!.progressDeadlineSeconds ?? 600) * 1000;
    const wait = deadline - this.#now();
    if (Number.isFinite(wait)) this.#queue.addAfter(objectKey(d.metadata), Math.max(1000, wait + 1000));
  }
}


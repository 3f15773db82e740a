import type { DeleteOptions, Status } from 'kubernetes-types/meta/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { PodDisruptionBudget, PodDisruptionBudgetStatus } from 'kubernetes-types/policy/v1.js';
import { ApiError, badRequest, conflict, forbidden } from '../../api/status.js';
import { setCondition } from '../../api/status-conditions.js';
import { isPlainObject, type KubeObject } from '../../api/types.js';
import { fromLabelSelector } from '../../api/selectors/label-selector.js';
import { isPodActive, isPodReady } from '../../api/pod-conditions.js';
import { disruptionTarget, updatePodCondition } from '../../api/update-pod-condition.js';
import { rfc3339 } from '../../util/time.js';
import type { RestStore, WriteOptions } from '../registry/rest-store.js';

type PDB = PodDisruptionBudget & KubeObject;

/** Evictions approved but not yet seen by the disruption controller, beyond which a budget refuses more. */
const maxDisruptedPods = 2000;
/** Conflicts (another eviction or the controller writing the budget) are retried this many times, as upstream's EvictionsRetry. */
const maxAttempts = 20;

const violation = "Cannot evict pod as it would violate the pod's disruption budget.";

/** 429 for a budget that allows no disruption now; kubectl drain waits 5 s and tries again. */
function budgetExhausted(pdb: PDB): ApiError {
  const s = pdb.status;
  return new ApiError(429, 'TooManyRequests', violation, {
    causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${pdb.metadata.name} needs ${s?.desiredHealthy ?? 0} healthy pods and has ${s?.currentHealthy ?? 0} currently` }],
  });
}

/** 429 while the disruption controller has not looked at the budget's latest spec. */
function budgetPending(name: string): ApiError {
  return new ApiError(429, 'TooManyRequests', violation, {
    causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${name} is still being processed by the server.` }],
    retryAfterSeconds: 10,
  }, { 'Retry-After': '10' });
}

/** Terminal, not yet running, or already going: evicting it disrupts nothing the budget protects (upstream's canIgnorePDB). */
function canIgnoreBudget(pod: Pod): boolean {
  return !isPodActive(pod) || pod.status?.phase === 'Pending';
}

function withVersion(opts: DeleteOptions, rv: string | undefined): DeleteOptions {
  return { ...opts, preconditions: { ...(opts.preconditions ?? {}), resourceVersion: rv } };
}

const isConflict = (e: unknown): boolean => e instanceof ApiError && e.code === 409;

/** What the eviction subresource needs from the server. */
export interface EvictionDeps {
  readonly pods: RestStore;
  /** The budgets' storage (absent: no budget can cover a pod). */
  readonly budgets: RestStore | undefined;
  readonly now: () => number;
}

/**
 * `POST pods/{name}/eviction` (policy/v1 or v1beta1 Eviction), as upstream's EvictionREST: a pod that
 * is not running, finished or already terminating is deleted at once; otherwise the one
 * PodDisruptionBudget covering it must allow a disruption, which is taken from it (disruptionsAllowed
 * decremented, the pod entered in disruptedPods, compare-and-swap on the budget's resourceVersion)
 * before the pod gets the DisruptionTarget condition and is deleted. Refusals are 429 TooManyRequests
 * with a DisruptionBudget cause. Resolves with the Status to answer (201 Success, or 500 for a pod
 * covered by several budgets).
 */
export async function evictPod(deps: EvictionDeps, namespace: string, name: string, body: unknown, o: WriteOptions): Promise<Status & { code: number }> {
  if (!isPlainObject(body) || body['kind'] !== 'Eviction') throw badRequest('the body must be an Eviction (apiVersion policy/v1, kind Eviction)');
  const av = body['apiVersion'];
  if (av !== undefined && av !== 'policy/v1' && av !== 'policy/v1beta1') throw badRequest(`Eviction in version "${String(av)}" cannot be handled as an Eviction: the server accepts policy/v1 and policy/v1beta1`);
  const evictionName = (body['metadata'] as KubeObject['metadata'] | undefined)?.name;
  if (evictionName !== name) throw badRequest('name in URL does not match name in Eviction object');
  const requested = isPlainObject(body['deleteOptions']) ? { ...(body['deleteOptions'] as DeleteOptions) } : {};
  // The request's dryRun and the Eviction's own must agree (upstream's propagateDryRun).
  const bodyDry = requested.dryRun ?? [];
  if (o.dryRun && bodyDry.length > 0 && !bodyDry.includes('All')) throw badRequest(`Non-matching dry-run options in request and content: [All] and [${bodyDry.join(' ')}]`);
  const dryRun = o.dryRun || bodyDry.includes('All');
  const wo: WriteOptions = { ...o, dryRun };
  const pinnedByClient = requested.preconditions?.resourceVersion !== undefined;

  // 1. Pods the budget does not protect are deleted straight away.
  let pod: Pod & KubeObject | undefined;
  for (let attempt = 0; ; attempt++) {
    pod = await deps.pods.get(namespace, name) as Pod & KubeObject;
    if (!canIgnoreBudget(pod)) break;
    // Pinned to the pod as read unless it is finished or already going (upstream's shouldEnforceResourceVersion).
    const opts = isPodActive(pod) && !pinnedByClient ? withVersion(requested, pod.metadata.resourceVersion) : requested;
    try {
      await markAndDelete(deps, namespace, name, opts, wo);
      return success();
    } catch (e) {
      if (!isConflict(e) || pinnedByClient || attempt + 1 >= maxAttempts) throw e;
    }
  }

  // 2. The budget covering the pod, if any.
  const budgets = await coveringBudgets(deps, pod);
  if (budgets.length > 1) {
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.', code: 500 };
  }
  let pinToPod = false;
  const budget = budgets[0];
  if (budget) {
    const st: Partial<PodDisruptionBudgetStatus> = budget.status ?? {};
    // An unready pod does not count as healthy: removing it takes nothing from the budget, as long as the
    // budget is met (IfHealthyBudget, the default) or always (AlwaysAllow). The deletion is then pinned
    // to the pod as read, so a pod that became ready meanwhile is not taken.
    const unhealthyAllowed = !isPodReady(pod) && (
      budget.spec?.unhealthyPodEvictionPolicy === 'AlwaysAllow'
      || ((st.currentHealthy ?? 0) >= (st.desiredHealthy ?? 0) && (st.desiredHealthy ?? 0) > 0));
    if (unhealthyAllowed) pinToPod = true;
    else await takeDisruption(deps, budget, name, wo);
  }

  // 3. Delete.
  const opts = pinToPod && !pinnedByClient ? withVersion(requested, pod.metadata.resourceVersion) : requested;
  try {
    await markAndDelete(deps, namespace, name, opts, wo);
  } catch (e) {
    // The pod changed since it was judged unhealthy: let the client come back and judge again.
    if (isConflict(e) && pinToPod && !pinnedByClient) throw budgetPending(budget!.metadata.name!);
    throw e;
  }
  return success();
}

function success(): Status & { code: number } {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
}

/** The budgets in the pod's namespace whose (non-empty) selector matches it. */
async function coveringBudgets(deps: EvictionDeps, pod: Pod & KubeObject): Promise<PDB[]> {
  if (!deps.budgets) return [];
  const { items } = await deps.budgets.list(pod.metadata.namespace, {});
  return (items as PDB[]).filter((b) => {
    try {
      const sel = fromLabelSelector(b.spec?.selector);
      // A budget with a nil or empty selector covers nothing here, as upstream.
      return !sel.empty() && sel.matches(pod.metadata.labels);
    } catch {
      return false;
    }
  });
}

/** Upstream's checkAndDecrement, retried with a fresh read of the budget when someone else wrote it first. */
async function takeDisruption(deps: EvictionDeps, first: PDB, podName: string, o: WriteOptions): Promise<void> {
  const budgets = deps.budgets!;
  let pdb = first;
  for (let attempt = 0; ; attempt++) {
    const st: Partial<PodDisruptionBudgetStatus> = pdb.status ?? {};
    const name = pdb.metadata.name!;
    if ((st.observedGeneration ?? 0) < (pdb.metadata.generation ?? 0)) throw budgetPending(name);
    const allowed = st.disruptionsAllowed ?? 0;
    if (allowed < 0) throw forbidden({ group: 'policy', resource: 'poddisruptionbudget' }, name, 'pdb disruptions allowed is negative');
    if (Object.keys(st.disruptedPods ?? {}).length > maxDisruptedPods) {
      throw forbidden({ group: 'policy', resource: 'poddisruptionbudget' }, name, 'DisruptedPods map too big - too many evictions not confirmed by PDB controller');
    }
    if (allowed === 0) throw budgetExhausted(pdb);
    if (o.dryRun) return;
    const now = deps.now();
    try {
      await budgets.guaranteedUpdate(pdb.metadata.namespace, name, o, (cur) => {
        const status = { ...((cur as PDB).status ?? {}) } as NonNullable<PDB['status']> & Record<string, unknown>;
        status.disruptionsAllowed = allowed - 1;
        status.disruptedPods = { ...(status.disruptedPods ?? {}), [podName]: rfc3339(now) };
        if (status.disruptionsAllowed === 0) {
          status.conditions = setCondition(status.conditions, {
            type: 'DisruptionAllowed', status: 'False', reason: 'InsufficientPods', message: '', observedGeneration: status.observedGeneration ?? 0, lastTransitionTime: rfc3339(now),
          });
        }
        cur['status'] = status;
        return cur;
      }, { subresource: 'status', precondition: pdb.metadata.resourceVersion });
      return;
    } catch (e) {
      if (!isConflict(e) || attempt + 1 >= maxAttempts) throw e;
      pdb = await budgets.get(pdb.metadata.namespace, name) as PDB;
    }
  }
}

/**
 * Gives the pod the DisruptionTarget condition (reason EvictionByEvictionAPI), honouring the
 * deletion's preconditions against the pod as it is now, then deletes it with the requested options
 * (the version precondition moved to our own write), as upstream's addConditionAndDeletePod.
 */
async function markAndDelete(deps: EvictionDeps, namespace: string, name: string, opts: DeleteOptions, o: WriteOptions): Promise<void> {
  let options = opts;
  if (!o.dryRun) {
    const r = await deps.pods.guaranteedUpdate(namespace, name, o, (cur) => {
      const pre = opts.preconditions;
      const res = { group: '', resource: 'pods' };
      if (pre?.uid && pre.uid !== cur.metadata.uid) throw conflict(res, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`);
      if (pre?.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion) {
        throw conflict(res, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`);
      }
      const status = (cur['status'] ??= {}) as NonNullable<Pod['status']>;
      updatePodCondition(status, disruptionTarget('EvictionByEvictionAPI', 'Eviction API: evicting'), deps.now());
      return cur;
    }, { subresource: 'status' });
    if (opts.preconditions?.resourceVersion) options = withVersion(opts, r.object.metadata.resourceVersion);
  }
  await deps.pods.delete(namespace, name, options, o);
}

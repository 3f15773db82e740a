// The eviction subresource against a real in-process API server, budgets' status set by hand (no
// disruption controller runs here), case by case as upstream's eviction_test.go.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import { startInProcessServer, type InProcessServer } from '../../../test/helpers/in-process-server.js';
import type { RestClient } from '../../client/rest-client.js';

type Budget = PodDisruptionBudget & { metadata: { name: string; resourceVersion?: string; generation?: number } };
interface Answer { status: string; code: number; reason?: string; message?: string; details?: { causes?: { reason: string; message: string }[]; retryAfterSeconds?: number } }

describe('pods/{name}/eviction', () => {
  let srv: InProcessServer;
  let c: RestClient;
  let n = 0;
  before(async () => { srv = await startInProcessServer(); c = srv.client(); });
  after(async () => { await srv?.close(); });

  const podPath = (name: string): string => `/api/v1/namespaces/default/pods/${name}`;
  const pdbPath = (name: string): string => `/apis/policy/v1/namespaces/default/poddisruptionbudgets/${name}`;

  /** A pod bound to a node, with the given phase and readiness. */
  async function pod(app: string, phase = 'Running', ready = true): Promise<string> {
    const name = `p${++n}`;
    await c.call('POST', '/api/v1/namespaces/default/pods', {
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app } }, spec: { nodeName: 'node1', containers: [{ name: 'c', image: 'busybox' }] } },
    });
    const cur = await c.call<Pod>('GET', podPath(name));
    await c.call('PUT', `${podPath(name)}/status`, { body: { ...cur, status: { ...cur.status, phase, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } } });
    return name;
  }

  /** A budget over `app` whose status says what the test needs. */
  async function budget(name: string, app: string, status: Partial<NonNullable<PodDisruptionBudget['status']>>, spec: Partial<PodDisruptionBudget['spec']> = { minAvailable: 1 }): Promise<void> {
    await c.call('POST', '/apis/policy/v1/namespaces/default/poddisruptionbudgets', {
      body: { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name }, spec: { ...spec, selector: { matchLabels: { app } } } },
    });
    const cur = await c.call<Budget>('GET', pdbPath(name));
    await c.call('PUT', `${pdbPath(name)}/status`, {
      body: { ...cur, status: { currentHealthy: 0, desiredHealthy: 0, expectedPods: 0, disruptionsAllowed: 0, observedGeneration: cur.metadata.generation, ...status } },
    });
  }

  const evict = (name: string, query = ''): Promise<{ status: number; body: Answer; headers: Record<string, unknown> }> =>
    c.request<Answer>('POST', `${podPath(name)}/eviction${query}`, { body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: 'default' } } }) as never;
  const getPod = (name: string): Promise<Pod> => c.call<Pod>('GET', podPath(name));
  const disruptionTarget = (p: Pod): unknown => p.status?.conditions?.find((x) => x.type === 'DisruptionTarget');

  it('no budget: the pod gets DisruptionTarget (EvictionByEvictionAPI) and is deleted gracefully; 201 Success', async () => {
    const p = await pod('free');
    const r = await evict(p);
    assert.equal(r.status, 201);
    assert.deepEqual([r.body.status, r.body.code], ['Success', 201]);
    const after = await getPod(p);
    assert.ok(after.metadata?.deletionTimestamp, 'terminating');
    assert.deepEqual(disruptionTarget(after), {
      type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting', lastProbeTime: null,
      lastTransitionTime: (disruptionTarget(after) as { lastTransitionTime: string }).lastTransitionTime,
    });
  });

  it('a budget allowing one: taken (disruptionsAllowed 0, the pod in disruptedPods, InsufficientPods), pod evicted', async () => {
    const p = await pod('one');
    await budget('one', 'one', { currentHealthy: 2, desiredHealthy: 1, expectedPods: 2, disruptionsAllowed: 1 });
    const r = await evict(p);
    assert.equal(r.status, 201);
    const b = await c.call<Budget>('GET', pdbPath('one'));
    assert.equal(b.status?.disruptionsAllowed, 0);
    assert.deepEqual(Object.keys(b.status?.disruptedPods ?? {}), [p]);
    assert.deepEqual(b.status?.conditions?.map((x) => [x.type, x.status, x.reason]), [['DisruptionAllowed', 'False', 'InsufficientPods']]);
    assert.ok((await getPod(p)).metadata?.deletionTimestamp);
  });

  it('a budget allowing none: 429 TooManyRequests with the DisruptionBudget cause; the pod untouched', async () => {
    const p = await pod('none');
    await budget('none', 'none', { currentHealthy: 1, desiredHealthy: 1, expectedPods: 1, disruptionsAllowed: 0 });
    const r = await evict(p);
    assert.equal(r.status, 429);
    assert.equal(r.body.reason, 'TooManyRequests');
    assert.equal(r.body.message, "Cannot evict pod as it would violate the pod's disruption budget.");
    assert.deepEqual(r.body.details?.causes, [{ reason: 'DisruptionBudget', message: 'The disruption budget none needs 1 healthy pods and has 1 currently' }]);
    const after = await getPod(p);
    assert.equal(after.metadata?.deletionTimestamp, undefined);
    assert.equal(disruptionTarget(after), undefined);
  });

  it('a budget the controller has not seen yet (observedGeneration behind): 429, still being processed, Retry-After 10', async () => {
    const p = await pod('fresh');
    await budget('fresh', 'fresh', { currentHealthy: 3, desiredHealthy: 1, expectedPods: 3, disruptionsAllowed: 2, observedGeneration: 0 });
    const r = await evict(p);
    assert.equal(r.status, 429);
    assert.deepEqual(r.body.details?.causes, [{ reason: 'DisruptionBudget', message: 'The disruption budget fresh is still being processed by the server.' }]);
    assert.equal(r.body.details?.retryAfterSeconds, 10);
    assert.equal(r.headers['retry-after'], '10');
  });

  it('two budgets over one pod: 500, not supported', async () => {
    const p = await pod('twice');
    await budget('twice-a', 'twice', { disruptionsAllowed: 5, currentHealthy: 5, desiredHealthy: 0, expectedPods: 5 });
    await budget('twice-b', 'twice', { disruptionsAllowed: 5, currentHealthy: 5, desiredHealthy: 0, expectedPods: 5 });
    const r = await evict(p);
    assert.equal(r.status, 500);
    assert.equal(r.body.message, 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
    assert.equal((await getPod(p)).metadata?.deletionTimestamp, undefined);
  });

  it('an unready pod while the budget is met: evicted without spending the budget', async () => {
    const p = await pod('unready', 'Running', false);
    await budget('unready', 'unready', { currentHealthy: 2, desiredHealthy: 2, expectedPods: 3, disruptionsAllowed: 0 });
    assert.equal((await evict(p)).status, 201);
    assert.equal((await c.call<Budget>('GET', pdbPath('unready'))).status?.disruptedPods, undefined, 'nothing taken');
    assert.ok((await getPod(p)).metadata?.deletionTimestamp);
  });

  it('an unready pod while the budget is not met: 429, unless the policy is AlwaysAllow', async () => {
    const p = await pod('short', 'Running', false);
    await budget('short', 'short', { currentHealthy: 1, desiredHealthy: 2, expectedPods: 3, disruptionsAllowed: 0 });
    assert.equal((await evict(p)).status, 429);
    const q = await pod('always', 'Running', false);
    await budget('always', 'always', { currentHealthy: 1, desiredHealthy: 2, expectedPods: 3, disruptionsAllowed: 0 }, { minAvailable: 2, unhealthyPodEvictionPolicy: 'AlwaysAllow' });
    assert.equal((await evict(q)).status, 201);
  });

  it('Pending, Succeeded or Failed pods are evicted whatever the budget says', async () => {
    for (const phase of ['Pending', 'Succeeded', 'Failed']) {
      const app = `done-${phase.toLowerCase()}`;
      const p = await pod(app, phase, false);
      await budget(app, app, { currentHealthy: 5, desiredHealthy: 5, expectedPods: 5, disruptionsAllowed: 0 });
      assert.equal((await evict(p)).status, 201, phase);
    }
  });

  it('dryRun=All: answers as if, changes nothing', async () => {
    const p = await pod('dry');
    await budget('dry', 'dry', { currentHealthy: 2, desiredHealthy: 1, expectedPods: 2, disruptionsAllowed: 1 });
    assert.equal((await evict(p, '?dryRun=All')).status, 201);
    assert.equal((await getPod(p)).metadata?.deletionTimestamp, undefined);
    assert.equal((await c.call<Budget>('GET', pdbPath('dry'))).status?.disruptionsAllowed, 1);
  });

  it('refuses a body that is not an Eviction of this pod', async () => {
    const p = await pod('bad');
    const wrong = await c.request<Answer>('POST', `${podPath(p)}/eviction`, { body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'other' } } });
    assert.deepEqual([wrong.status, wrong.body.message], [400, 'name in URL does not match name in Eviction object']);
    const missing = await c.request<Answer>('POST', `${podPath('nope')}/eviction`, { body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'nope' } } });
    assert.deepEqual([missing.status, missing.body.message], [404, 'pods "nope" not found']);
  });
});

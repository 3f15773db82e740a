// The pod garbage collector in a real ControllerManager against a real in-process API server, with a short
// period and quarantine (upstream's are 20 s and 40 s).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { startInProcessServer, type InProcessServer } from '../../../test/helpers/in-process-server.js';
import type { RestClient } from '../../client/rest-client.js';
import { ControllerManager } from '../manager.js';
import { OUT_OF_SERVICE_TAINT } from './pod-gc-decisions.js';

const until = async (check: () => Promise<boolean>, ms: number, what: string): Promise<void> => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('PodGC', () => {
  let srv: InProcessServer;
  let c: RestClient;
  const stop = new AbortController();
  let running: Promise<void>;
  const quarantineMs = 600;

  const podPath = (name: string): string => `/api/v1/namespaces/default/pods/${name}`;
  const exists = async (name: string): Promise<boolean> => (await c.request('GET', podPath(name))).status === 200;
  async function node(name: string, ready: boolean, taints: string[] = []): Promise<void> {
    await c.call('POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: { taints: taints.map((key) => ({ key, effect: 'NoExecute' })) } } });
    const cur = await c.call<Node>('GET', `/api/v1/nodes/${name}`);
    await c.call('PUT', `/api/v1/nodes/${name}/status`, { body: { ...cur, status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'Unknown', reason: 'Test' }] } } });
  }
  async function pod(name: string, nodeName: string, phase = 'Running'): Promise<void> {
    await c.call('POST', '/api/v1/namespaces/default/pods', { body: { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { nodeName, containers: [{ name: 'c', image: 'busybox' }] } } });
    const cur = await c.call<Pod>('GET', podPath(name));
    await c.call('PUT', `${podPath(name)}/status`, { body: { ...cur, status: { ...cur.status, phase } } });
  }

  before(async () => {
    srv = await startInProcessServer();
    c = srv.client();
    await node('alive', true);
    await node('down', false, [OUT_OF_SERVICE_TAINT]);
    await node('doomed', true);
    await node('flaky', true);
    await pod('on-flaky', 'flaky');
    await pod('on-alive', 'alive');
    await pod('on-doomed', 'doomed');
    await pod('on-down', 'down');
    for (const [i, name] of ['done-1', 'done-2', 'done-3'].entries()) {
      await pod(name, 'alive', i === 1 ? 'Failed' : 'Succeeded');
      await new Promise((r) => setTimeout(r, 1100)); // creationTimestamps are whole seconds
    }
    const manager = new ControllerManager({ client: srv.client('controller-manager'), controllers: ['podgc'], leaderElection: false, config: { podGC: { terminatedPodThreshold: 2, periodMs: 100, quarantineMs } } });
    running = manager.run(stop.signal);
  });
  after(async () => {
    stop.abort();
    await running;
    await srv?.close();
  });

  it('deletes the oldest terminated pods beyond the threshold', async () => {
    await until(async () => !(await exists('done-1')), 5000, 'the oldest terminated pod to go');
    assert.ok(await exists('done-2'));
    assert.ok(await exists('done-3'));
    assert.ok(await exists('on-alive'), 'running pods are never collected');
  });

  it('a node deleted: after the quarantine its pods get phase Failed and DisruptionTarget DeletionByPodGC, then are force-deleted', async () => {
    const seen: { type: string; pod: Pod }[] = [];
    const ac = new AbortController();
    const rv = (await c.call<Pod>('GET', podPath('on-doomed'))).metadata!.resourceVersion!;
    const watching = c.watch(`/api/v1/namespaces/default/pods?watch=true&fieldSelector=metadata.name=on-doomed&resourceVersion=${rv}`, (e: { type: string; object: Pod }) => { seen.push({ type: e.type, pod: e.object }); }, ac.signal);
    const deletedAt = Date.now();
    await c.call('DELETE', '/api/v1/nodes/doomed');
    await until(async () => !(await exists('on-doomed')), 10_000, 'the orphaned pod to go');
    const tookMs = Date.now() - deletedAt;
    ac.abort();
    await watching.catch(() => {});
    assert.ok(tookMs >= quarantineMs, `not before the quarantine (${tookMs} ms)`);
    const failed = seen.find((e) => e.type === 'MODIFIED' && e.pod.status?.phase === 'Failed')?.pod;
    assert.ok(failed, `a MODIFIED event with phase Failed before the deletion: ${JSON.stringify(seen.map((e) => [e.type, e.pod.status?.phase]))}`);
    assert.deepEqual(failed.status?.conditions?.find((x) => x.type === 'DisruptionTarget')?.reason, 'DeletionByPodGC');
    assert.equal(failed.status?.conditions?.find((x) => x.type === 'DisruptionTarget')?.message, 'PodGC: node no longer exists');
    assert.equal(seen.at(-1)?.type, 'DELETED');
    assert.ok(await exists('on-alive'));
  });

  it('a node deleted and registered again within the quarantine keeps its pods', async () => {
    await c.call('DELETE', '/api/v1/nodes/flaky');
    await new Promise((r) => setTimeout(r, quarantineMs / 3));
    await node('flaky', true);
    await new Promise((r) => setTimeout(r, quarantineMs * 3));
    const p = await c.call<Pod>('GET', podPath('on-flaky'));
    assert.equal(p.status?.phase, 'Running');
    assert.equal(p.metadata?.deletionTimestamp, undefined);
  });

  it('a terminating pod on a not-Ready node tainted out-of-service is force-deleted; one on a live node waits for its agent', async () => {
    await c.call('DELETE', podPath('on-down'));
    await c.call('DELETE', podPath('on-alive'));
    await until(async () => !(await exists('on-down')), 5000, 'the pod on the out-of-service node to go');
    await new Promise((r) => setTimeout(r, 500));
    const alive = await c.call<Pod>('GET', podPath('on-alive'));
    assert.ok(alive.metadata?.deletionTimestamp, 'still terminating, left to its agent');
  });
});

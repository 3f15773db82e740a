// Voluntary disruptions with the real kubectl: cordon/uncordon, PodDisruptionBudgets and their status,
// the eviction subresource (429 when a budget forbids it), and `kubectl drain` waiting for a budget.
// SIMULATION: the nodes are `skiff simulate` nodes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { eventually, kubectl, kubectlBin, kubectlOk, manifest, SimulatedNodesProcess, startServer, type TestServer } from './harness.js';
import type { RestClient } from '../../src/client/rest-client.js';

interface Cond { type: string; status: string; reason?: string; message?: string }
interface PodObj { metadata: { name: string; deletionTimestamp?: string; resourceVersion?: string }; spec: { nodeName?: string }; status?: { phase?: string; conditions?: Cond[] } }
interface PDB {
  metadata: { generation?: number };
  status?: { currentHealthy?: number; desiredHealthy?: number; expectedPods?: number; disruptionsAllowed?: number; observedGeneration?: number; disruptedPods?: Record<string, string>; conditions?: Cond[] };
}

const ready = (p: PodObj): boolean => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
const eviction = (name: string): unknown => ({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: 'default' } });

describe('disruptions: cordon, PodDisruptionBudget, eviction, drain', () => {
  let s: TestServer;
  let c: RestClient;
  let sim: SimulatedNodesProcess;
  before(async () => {
    s = await startServer();
    c = s.client();
    sim = await SimulatedNodesProcess.start(s, ['--nodes', '2', '--prefix', 'dr-']);
  });
  after(async () => { await sim?.stop(); c?.close(); await s?.dispose(); });

  const pods = async (selector: string): Promise<PodObj[]> =>
    (await c.call<{ items: PodObj[] }>('GET', `/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(selector)}`)).items;
  const pdb = (name: string): Promise<PDB> => c.call<PDB>('GET', `/apis/policy/v1/namespaces/default/poddisruptionbudgets/${name}`);
  const nodeTaints = async (name: string): Promise<string[]> =>
    ((await c.call<{ spec?: { taints?: { key: string; effect: string }[] } }>('GET', `/api/v1/nodes/${name}`)).spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`);

  it('cordon marks a node unschedulable (SchedulingDisabled, the unschedulable taint); a Deployment lands elsewhere', async () => {
    assert.match(await kubectlOk(s, ['cordon', 'dr-2']), /node\/dr-2 cordoned/);
    assert.match(await kubectlOk(s, ['get', 'nodes']), /^dr-2\s+Ready,SchedulingDisabled\s/m);
    await eventually(async () => (await nodeTaints('dr-2')).includes('node.kubernetes.io/unschedulable:NoSchedule'), 10_000, 'the unschedulable taint');
    await kubectlOk(s, ['create', 'deployment', 'web', '--image=nginx', '--replicas=3']);
    const placed = await eventually(async () => { const l = await pods('app=web'); return l.length === 3 && l.every(ready) ? l : undefined; }, 15_000, 'three ready replicas');
    assert.deepEqual(placed.map((p) => p.spec.nodeName), ['dr-1', 'dr-1', 'dr-1'], 'nothing on the cordoned node');
    assert.match(await kubectlOk(s, ['uncordon', 'dr-2']), /node\/dr-2 uncordoned/);
    assert.match(await kubectlOk(s, ['get', 'nodes']), /^dr-2\s+Ready\s/m);
    await eventually(async () => (await nodeTaints('dr-2')).length === 0, 10_000, 'the unschedulable taint removed');
  });

  it('serves policy/v1 PodDisruptionBudget; the disruption controller fills in its status', async () => {
    const res = await kubectlOk(s, ['api-resources', '--api-group=policy']);
    assert.match(res, /^poddisruptionbudgets\s+pdb\s+policy\/v1\s+true\s+PodDisruptionBudget$/m);
    assert.match(await kubectlOk(s, ['create', 'pdb', 'web-pdb', '--selector=app=web', '--min-available=2']), /poddisruptionbudget\.policy\/web-pdb created/);
    const st = await eventually(async () => { const b = await pdb('web-pdb'); return b.status?.observedGeneration === 1 && b.status.currentHealthy === 3 ? b.status : undefined; }, 10_000, 'the budget status');
    assert.deepEqual([st.currentHealthy, st.desiredHealthy, st.expectedPods, st.disruptionsAllowed], [3, 2, 3, 1]);
    assert.deepEqual(st.conditions?.map((k) => [k.type, k.status, k.reason]), [['DisruptionAllowed', 'True', 'SufficientPods']]);
    const table = await kubectlOk(s, ['get', 'pdb']);
    assert.match(table, /^NAME\s+MIN AVAILABLE\s+MAX UNAVAILABLE\s+ALLOWED DISRUPTIONS\s+AGE$/m);
    assert.match(table, /^web-pdb\s+2\s+N\/A\s+1\s+\d+s$/m);
    const described = await kubectlOk(s, ['describe', 'pdb', 'web-pdb']);
    assert.match(described, /Min available:\s+2/);
    assert.match(described, /Allowed disruptions:\s+1/);
    const bad = await kubectl(s, ['create', '-f', '-'], {
      input: 'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: bad\nspec:\n  minAvailable: 1\n  maxUnavailable: "150%"\n  selector:\n    matchLabels:\n      app: web\n',
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /minAvailable and maxUnavailable cannot be both set/);
    assert.match(bad.stderr, /spec\.maxUnavailable: Invalid value: "150%": must not be greater than 100%/);
  });

  it('the eviction subresource refuses with 429 and upstream\'s message when the budget allows no disruption', async () => {
    await kubectlOk(s, ['patch', 'pdb', 'web-pdb', '--type=merge', '-p', '{"spec":{"minAvailable":3}}']);
    await eventually(async () => { const b = await pdb('web-pdb'); return b.status?.observedGeneration === 2 && b.status.disruptionsAllowed === 0; }, 10_000, 'the budget exhausted');
    const victim = (await pods('app=web'))[0]!;
    const r = await c.request<{ code: number; reason: string; message: string; details?: { causes?: { reason: string; message: string }[] } }>(
      'POST', `/api/v1/namespaces/default/pods/${victim.metadata.name}/eviction`, { body: eviction(victim.metadata.name) });
    assert.equal(r.status, 429);
    assert.equal(r.body.reason, 'TooManyRequests');
    assert.equal(r.body.message, "Cannot evict pod as it would violate the pod's disruption budget.");
    assert.deepEqual(r.body.details?.causes, [{ reason: 'DisruptionBudget', message: 'The disruption budget web-pdb needs 3 healthy pods and has 3 currently' }]);
    const still = await c.call<PodObj>('GET', `/api/v1/namespaces/default/pods/${victim.metadata.name}`);
    assert.equal(still.metadata.deletionTimestamp, undefined, 'the pod was not touched');

    // A pod that is not running yet is evicted whatever a budget says.
    await kubectlOk(s, ['apply', '-f', manifest(s, 'guarded.yaml', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: pending\n  labels:\n    app: guarded\nspec:\n  nodeSelector:\n    nowhere: "true"\n  containers:\n  - name: c\n    image: busybox\n')]);
    await kubectlOk(s, ['create', 'pdb', 'guard', '--selector=app=guarded', '--min-available=1']);
    await eventually(async () => (await pdb('guard')).status?.observedGeneration === 1, 10_000, 'the guard budget seen');
    const p = await c.request<{ status: string; code: number }>('POST', '/api/v1/namespaces/default/pods/pending/eviction', { body: eviction('pending') });
    assert.equal(p.status, 201);
    assert.deepEqual([p.body.status, p.body.code], ['Success', 201]);
    await eventually(async () => (await c.request('GET', '/api/v1/namespaces/default/pods/pending')).status === 404, 10_000, 'the pending pod gone');
    const wrong = await c.request<{ message: string }>('POST', `/api/v1/namespaces/default/pods/${victim.metadata.name}/eviction`, { body: eviction('other') });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.message, 'name in URL does not match name in Eviction object');

    await kubectlOk(s, ['patch', 'pdb', 'web-pdb', '--type=merge', '-p', '{"spec":{"minAvailable":2}}']);
    await eventually(async () => { const b = await pdb('web-pdb'); return b.status?.observedGeneration === 3 && b.status.disruptionsAllowed === 1; }, 10_000, 'one disruption allowed again');
  });

  it('kubectl drain evicts through the budget, one pod at a time, waiting on 429s until the replacements run', async () => {
    const before = await pods('app=web');
    assert.ok(before.every((p) => p.spec.nodeName === 'dr-1'));
    let minHealthy = Infinity;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const l = (await pods('app=web')).filter((p) => ready(p) && !p.metadata.deletionTimestamp);
        minHealthy = Math.min(minHealthy, l.length);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const drained = await new Promise<{ code: number; out: string; took: number }>((resolve, reject) => {
      const t0 = Date.now();
      const k = spawn(kubectlBin(), [`--kubeconfig=${s.kubeconfig}`, `--cache-dir=${s.cacheDir}`, 'drain', 'dr-1', '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=120s'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      k.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      k.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      k.on('error', reject);
      k.on('close', (code) => resolve({ code: code ?? -1, out, took: Date.now() - t0 }));
    });
    sampling = false;
    await sampler;
    assert.equal(drained.code, 0, drained.out);
    assert.match(drained.out, /node\/dr-1 cordoned/);
    for (const p of before) {
      assert.match(drained.out, new RegExp(`evicting pod default/${p.metadata.name}`));
      assert.match(drained.out, new RegExp(`pod/${p.metadata.name} evicted`));
    }
    assert.match(drained.out, /error when evicting pods\/"web-[a-z0-9-]+" -n "default" \(will retry after 5s\): Cannot evict pod as it would violate the pod's disruption budget\./);
    assert.match(drained.out, /node\/dr-1 drained/);
    assert.ok(minHealthy >= 2, `the budget kept at least 2 healthy replicas (saw ${minHealthy})`);
    const after = await eventually(async () => { const l = await pods('app=web'); return l.length === 3 && l.every(ready) ? l : undefined; }, 15_000, 'three replicas again');
    assert.deepEqual(after.map((p) => p.spec.nodeName), ['dr-2', 'dr-2', 'dr-2']);
    assert.match(await kubectlOk(s, ['get', 'nodes']), /^dr-1\s+Ready,SchedulingDisabled\s/m);
  });
});

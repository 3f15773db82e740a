import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, examplesDir, kubectl, kubectlOk, manifest, startServer, type TestServer } from './harness.js';
import { PodSimulator } from '../helpers/pod-simulator.js';
import type { RestClient } from '../../src/client/rest-client.js';

const deployYaml = readFileSync(join(examplesDir, 'nginx-deployment.yaml'), 'utf8');

interface Meta { name: string; uid: string; labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: { uid: string; kind: string; name: string }[]; deletionTimestamp?: string; finalizers?: string[] }
interface RS { metadata: Meta; spec: { replicas: number; template: { spec: { containers: { image: string }[] } } }; status?: { replicas?: number; availableReplicas?: number } }
interface PodObj { metadata: Meta; status?: { phase?: string; conditions?: { type: string; status: string }[] } }

const isReady = (p: PodObj): boolean => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

describe('controllers: Deployment → ReplicaSet → Pods, rollouts, garbage collection, namespaces', () => {
  let s: TestServer;
  let c: RestClient;
  let sim: PodSimulator;
  before(async () => {
    // The pod simulator stands in for scheduler and kubelet here, so the real scheduler stays off.
    s = await startServer(['--disable-scheduler']);
    c = s.client();
    sim = new PodSimulator(s.client());
    await sim.start();
  });
  after(async () => { sim?.stop(); c?.close(); await s?.dispose(); });

  const pods = async (selector = 'app=nginx'): Promise<PodObj[]> =>
    (await c.call<{ items: PodObj[] }>('GET', `/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(selector)}`)).items;
  const replicaSets = async (): Promise<RS[]> =>
    (await c.call<{ items: RS[] }>('GET', '/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dnginx')).items;
  const livePods = async (): Promise<PodObj[]> => (await pods()).filter((p) => !p.metadata.deletionTimestamp);

  it('creates a ReplicaSet named after the template hash and pods it controls', async () => {
    await kubectlOk(s, ['create', '-f', join(examplesDir, 'nginx-deployment.yaml')]);
    const rs = await eventually(async () => { const l = await replicaSets(); return l.length === 1 ? l[0] : undefined; }, 10_000, 'the ReplicaSet');
    const hash = rs.metadata.labels!['pod-template-hash']!;
    assert.match(hash, /^[bcdfghjklmnpqrstvwxz2456789]{6,10}$/);
    assert.equal(rs.metadata.name, `nginx-deployment-${hash}`);
    assert.equal(rs.metadata.annotations!['deployment.kubernetes.io/revision'], '1');
    const ps = await eventually(async () => { const l = await livePods(); return l.length === 2 && l.every(isReady) ? l : undefined; }, 10_000, '2 ready pods');
    for (const p of ps) {
      assert.match(p.metadata.name, new RegExp(`^nginx-deployment-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      assert.equal(p.metadata.labels!['pod-template-hash'], hash);
      assert.equal(p.metadata.ownerReferences![0]!.uid, rs.metadata.uid);
    }
    const describe = await kubectlOk(s, ['describe', 'pod', ps[0]!.metadata.name]);
    assert.match(describe, new RegExp(`Controlled By:\\s+ReplicaSet/nginx-deployment-${hash}`));
    const status = await kubectl(s, ['rollout', 'status', 'deployment/nginx-deployment', '--timeout=20s']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /deployment "nginx-deployment" successfully rolled out/);
    const d = JSON.parse(await kubectlOk(s, ['get', 'deploy', 'nginx-deployment', '-o', 'json']));
    assert.equal(d.status.readyReplicas, 2);
    assert.equal(d.status.availableReplicas, 2);
    assert.equal(d.status.observedGeneration, 1);
    const reasons = Object.fromEntries(d.status.conditions.map((x: { type: string; reason: string }) => [x.type, x.reason]));
    assert.deepEqual(reasons, { Available: 'MinimumReplicasAvailable', Progressing: 'NewReplicaSetAvailable' });
    const events = await kubectlOk(s, ['describe', 'deployment', 'nginx-deployment']);
    assert.match(events, new RegExp(`ScalingReplicaSet\\s+\\S+\\s+deployment-controller\\s+Scaled up replica set nginx-deployment-${hash} from 0 to 2`));
  });

  it('replaces a deleted pod, scales up and down, removing not-ready pods first', async () => {
    const before = await livePods();
    await kubectlOk(s, ['delete', 'pod', before[0]!.metadata.name]);
    await eventually(async () => {
      const now = await livePods();
      return now.length === 2 && now.every(isReady) && !now.some((p) => p.metadata.name === before[0]!.metadata.name);
    }, 10_000, 'a replacement pod');
    await kubectlOk(s, ['scale', 'deployment', 'nginx-deployment', '--replicas=5']);
    await eventually(async () => (await livePods()).filter(isReady).length === 5, 10_000, '5 ready pods');
    const readyOnes = new Set((await livePods()).map((p) => p.metadata.name));
    sim.ready = false;
    await kubectlOk(s, ['scale', 'deployment', 'nginx-deployment', '--replicas=7']);
    await eventually(async () => (await livePods()).length === 7, 10_000, '7 pods');
    await kubectlOk(s, ['scale', 'deployment', 'nginx-deployment', '--replicas=5']);
    const left = await eventually(async () => { const l = await livePods(); return l.length === 5 ? l : undefined; }, 10_000, 'back to 5');
    assert.deepEqual(new Set(left.map((p) => p.metadata.name)), readyOnes, 'the two not-ready pods went first');
    await sim.makeAllReady();
    await kubectlOk(s, ['scale', 'deployment', 'nginx-deployment', '--replicas=2']);
    await eventually(async () => (await livePods()).length === 2, 10_000, 'back to 2');
  });

  it('rolls out a new template within maxSurge/maxUnavailable, then rolls back to the first ReplicaSet', async () => {
    const desired = 2;
    const [firstRS] = await replicaSets();
    // Watch every ReplicaSet and pod change during the rollout, checking the invariants at each step.
    const violations: string[] = [];
    const rsState = new Map<string, number>();
    const podState = new Map<string, PodObj>();
    const ac = new AbortController();
    const rv = (await c.call<{ metadata: { resourceVersion: string } }>('GET', '/apis/apps/v1/namespaces/default/replicasets?limit=1')).metadata.resourceVersion;
    const check = (): void => {
      const total = [...rsState.values()].reduce((a, b) => a + b, 0);
      if (total > desired + 1) violations.push(`replicas ${total} > desired + maxSurge`);
    };
    const watchRS = c.watch<RS>(`/apis/apps/v1/namespaces/default/replicasets?watch=true&resourceVersion=${rv}&labelSelector=app%3Dnginx`, (e) => {
      if (e.type === 'DELETED') rsState.delete(e.object.metadata.uid); else rsState.set(e.object.metadata.uid, e.object.spec.replicas);
      check();
    }, ac.signal);
    for (const rs of await replicaSets()) rsState.set(rs.metadata.uid, rs.spec.replicas);
    for (const p of await pods()) podState.set(p.metadata.uid, p);
    const prv = (await c.call<{ metadata: { resourceVersion: string } }>('GET', '/api/v1/namespaces/default/pods?limit=1')).metadata.resourceVersion;
    const watchPods = c.watch<PodObj>(`/api/v1/namespaces/default/pods?watch=true&resourceVersion=${prv}&labelSelector=app%3Dnginx`, (e) => {
      if (e.type === 'DELETED') podState.delete(e.object.metadata.uid); else podState.set(e.object.metadata.uid, e.object);
      const ready = [...podState.values()].filter((p) => !p.metadata.deletionTimestamp && isReady(p)).length;
      if (ready < desired) violations.push(`only ${ready} ready pods (maxUnavailable is 0)`);
    }, ac.signal);

    const f = manifest(s, 'rollout.yaml', deployYaml.replace('nginx:1.17.8', 'nginx:1.17.10'));
    await kubectlOk(s, ['replace', '-f', f]);
    const status = await kubectl(s, ['rollout', 'status', 'deployment/nginx-deployment', '--timeout=30s']);
    assert.equal(status.code, 0, status.stderr);
    ac.abort();
    await Promise.all([watchRS, watchPods]);
    assert.deepEqual(violations, []);
    const after = await replicaSets();
    assert.equal(after.length, 2);
    const newRS = after.find((r) => r.metadata.uid !== firstRS!.metadata.uid)!;
    assert.equal(newRS.spec.replicas, 2);
    assert.equal(newRS.spec.template.spec.containers[0]!.image, 'nginx:1.17.10');
    assert.equal(after.find((r) => r.metadata.uid === firstRS!.metadata.uid)!.spec.replicas, 0);
    const history = await kubectlOk(s, ['rollout', 'history', 'deployment/nginx-deployment']);
    assert.match(history, /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/);

    assert.match(await kubectlOk(s, ['rollout', 'undo', 'deployment/nginx-deployment']), /rolled back/);
    await eventually(async () => {
      const rss = await replicaSets();
      const first = rss.find((r) => r.metadata.uid === firstRS!.metadata.uid);
      return rss.length === 2 && first?.spec.replicas === 2 && first.metadata.annotations?.['deployment.kubernetes.io/revision'] === '3';
    }, 20_000, 'the first ReplicaSet back as revision 3');
    const undone = await kubectl(s, ['rollout', 'status', 'deployment/nginx-deployment', '--timeout=30s']);
    assert.equal(undone.code, 0, undone.stderr);
    const history2 = await kubectlOk(s, ['rollout', 'history', 'deployment/nginx-deployment']);
    assert.match(history2, /REVISION\s+CHANGE-CAUSE\n2\s+<none>\n3\s+<none>/);
    const first = (await replicaSets()).find((r) => r.metadata.uid === firstRS!.metadata.uid)!;
    assert.equal(first.metadata.annotations!['deployment.kubernetes.io/revision-history'], '1');
  });

  it('pauses, resumes and restarts a rollout', async () => {
    assert.match(await kubectlOk(s, ['rollout', 'pause', 'deployment/nginx-deployment']), /paused/);
    await kubectlOk(s, ['set', 'image', 'deployment/nginx-deployment', 'nginx=nginx:1.18.0']);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await replicaSets()).length, 2, 'a paused deployment starts no rollout');
    const paused = JSON.parse(await kubectlOk(s, ['get', 'deploy', 'nginx-deployment', '-o', 'json']));
    assert.equal(paused.status.conditions.find((x: { type: string }) => x.type === 'Progressing').reason, 'DeploymentPaused');
    assert.match(await kubectlOk(s, ['rollout', 'resume', 'deployment/nginx-deployment']), /resumed/);
    assert.equal((await kubectl(s, ['rollout', 'status', 'deployment/nginx-deployment', '--timeout=30s'])).code, 0);
    assert.equal((await replicaSets()).length, 3);
    assert.match(await kubectlOk(s, ['rollout', 'restart', 'deployment/nginx-deployment']), /restarted/);
    assert.equal((await kubectl(s, ['rollout', 'status', 'deployment/nginx-deployment', '--timeout=30s'])).code, 0);
    const rss = await replicaSets();
    assert.equal(rss.length, 4);
    const restarted = rss.find((r) => r.spec.replicas === 2)!;
    assert.ok((restarted as unknown as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt']);
  });

  it('deletes deployments with Background, Orphan and Foreground propagation', async () => {
    const mk = async (name: string): Promise<void> => {
      const y = deployYaml.replace(/app: nginx/g, `app: ${name}`).replace('name: nginx-deployment', `name: ${name}`);
      await kubectlOk(s, ['apply', '-f', manifest(s, `${name}.yaml`, y)]);
      await eventually(async () => (await pods(`app=${name}`)).filter(isReady).length === 2, 10_000, `${name} pods`);
    };
    const count = async (name: string): Promise<{ rs: number; pods: number }> => ({
      rs: (await c.call<{ items: unknown[] }>('GET', `/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3D${name}`)).items.length,
      pods: (await pods(`app=${name}`)).length,
    });
    await mk('bg');
    await kubectlOk(s, ['delete', 'deployment', 'bg']);
    await eventually(async () => { const n = await count('bg'); return n.rs === 0 && n.pods === 0; }, 15_000, 'background deletion of dependents');

    await mk('orph');
    await kubectlOk(s, ['delete', 'deployment', 'orph', '--cascade=orphan']);
    await eventually(async () => (await c.request('GET', '/apis/apps/v1/namespaces/default/deployments/orph')).status === 404, 10_000, 'the orphaning owner gone');
    await new Promise((r) => setTimeout(r, 500));
    const rs = (await c.call<{ items: RS[] }>('GET', '/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dorph')).items;
    assert.equal(rs.length, 1, 'the ReplicaSet stays');
    assert.deepEqual(rs[0]!.metadata.ownerReferences ?? [], [], 'and no longer has an owner');
    assert.equal((await pods('app=orph')).length, 2, 'its pods stay too');

    await mk('fg');
    const del = kubectl(s, ['delete', 'deployment', 'fg', '--cascade=foreground', '--wait=false']);
    await del;
    const held = await c.call<{ metadata: Meta }>('GET', '/apis/apps/v1/namespaces/default/deployments/fg').catch(() => undefined);
    if (held) assert.ok(held.metadata.finalizers?.includes('foregroundDeletion') || held.metadata.deletionTimestamp, 'held by the foreground finalizer');
    await eventually(async () => (await c.request('GET', '/apis/apps/v1/namespaces/default/deployments/fg')).status === 404, 20_000, 'foreground owner removed last');
    const n = await count('fg');
    assert.deepEqual(n, { rs: 0, pods: 0 }, 'dependents were gone before the owner');
  });

  it('deletes everything in a namespace, then the namespace', async () => {
    await kubectlOk(s, ['create', 'namespace', 'doomed']);
    await kubectlOk(s, ['apply', '-n', 'doomed', '-f', join(examplesDir, 'nginx-deployment.yaml')]);
    await kubectlOk(s, ['create', 'configmap', 'cfg', '-n', 'doomed', '--from-literal=a=b']);
    await eventually(async () => (await c.call<{ items: unknown[] }>('GET', '/api/v1/namespaces/doomed/pods')).items.length === 2, 10_000, 'pods in the namespace');
    const r = await kubectl(s, ['delete', 'namespace', 'doomed', '--timeout=30s']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /namespace "doomed" deleted/);
    assert.equal((await c.request('GET', '/api/v1/namespaces/doomed')).status, 404);
    assert.equal((await c.request('GET', '/api/v1/namespaces/doomed/configmaps/cfg')).status, 404);
  });
});

describe('controllers survive a server restart mid-rollout', () => {
  let s: TestServer;
  let sim: PodSimulator;
  after(async () => { sim?.stop(); await s?.dispose(); });

  it('finishes the rollout after the restart', async () => {
    s = await startServer(['--disable-scheduler']);
    sim = new PodSimulator(s.client());
    await sim.start();
    const y = deployYaml.replace('replicas: 2', 'replicas: 4');
    const f = manifest(s, 'd.yaml', y);
    await kubectlOk(s, ['apply', '-f', f]);
    assert.equal((await kubectl(s, ['rollout', 'status', 'deployment/nginx-deployment', '--timeout=30s'])).code, 0);
    sim.ready = false;
    manifest(s, 'd.yaml', y.replace('nginx:1.17.8', 'nginx:1.17.10'));
    await kubectlOk(s, ['apply', '-f', f]);
    await new Promise((r) => setTimeout(r, 500));
    sim.stop();
    await s.kill();
    await s.start();
    sim = new PodSimulator(s.client());
    await sim.start();
    await sim.makeAllReady();
    const r = await kubectl(s, ['rollout', 'status', 'deployment/nginx-deployment', '--timeout=40s']);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(await kubectlOk(s, ['get', 'deploy', 'nginx-deployment', '-o', 'json']));
    assert.equal(d.status.updatedReplicas, 4);
    assert.equal(d.status.availableReplicas, 4);
  });
});

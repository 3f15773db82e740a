// A node that stops heartbeating: NotReady/Unknown with the unreachable taints after the grace period,
// its pods evicted after their tolerationSeconds (a Deployment's replaced on a healthy node, a bare pod
// not), everything undone when it comes back. SIMULATION: the nodes are `skiff simulate` nodes; one is
// made silent with the sim.skiff.io/stop-heartbeats annotation, as a crashed machine would be.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, kubectlOk, manifest, SimulatedNodesProcess, startServer, type TestServer } from './harness.js';
import type { RestClient } from '../../src/client/rest-client.js';

interface Cond { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }
interface Taint { key: string; effect: string; value?: string; timeAdded?: string }
interface NodeObj { metadata: { name: string }; spec?: { taints?: Taint[] }; status?: { conditions?: Cond[] } }
interface PodObj {
  metadata: { name: string; uid: string; deletionTimestamp?: string; labels?: Record<string, string> };
  spec: { nodeName?: string; terminationGracePeriodSeconds?: number };
  status?: { phase?: string; conditions?: Cond[] };
}

const graceS = 3;
const tolerationS = 3;
const cond = (o: { status?: { conditions?: Cond[] } }, type: string): Cond | undefined => o.status?.conditions?.find((c) => c.type === type);

describe('node lifecycle: a lost node is tainted, its pods evicted and replaced; it comes back clean', () => {
  let s: TestServer;
  let c: RestClient;
  let sim: SimulatedNodesProcess;
  let lost = '';
  let webPod = '';
  let stoppedAt = 0;

  before(async () => {
    s = await startServer(['--node-monitor-grace-period', `${graceS}s`, '--node-monitor-period', '1s']);
    c = s.client();
    sim = await SimulatedNodesProcess.start(s, ['--nodes', '3', '--prefix', 'lc-', '--heartbeat-interval', '300ms']);
  });
  after(async () => { await sim?.stop(); c?.close(); await s?.dispose(); });

  const pod = (name: string): Promise<PodObj> => c.call<PodObj>('GET', `/api/v1/namespaces/default/pods/${name}`);
  const podsOf = async (selector: string): Promise<PodObj[]> =>
    (await c.call<{ items: PodObj[] }>('GET', `/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(selector)}`)).items;
  const node = (name: string): Promise<NodeObj> => c.call<NodeObj>('GET', `/api/v1/nodes/${name}`);
  const running = (p: PodObj): boolean => p.status?.phase === 'Running' && cond(p, 'Ready')?.status === 'True';

  it('a created pod gets the default not-ready/unreachable tolerations unless it has its own (kubectl describe)', async () => {
    await kubectlOk(s, ['apply', '-f', manifest(s, 'web.yaml', `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      tolerations:
      - key: node.kubernetes.io/unreachable
        operator: Exists
        effect: NoExecute
        tolerationSeconds: ${tolerationS}
      containers:
      - name: nginx
        image: nginx
`)]);
    const p = await eventually(async () => (await podsOf('app=web')).find(running), 15_000, 'the web pod running');
    webPod = p.metadata.name;
    lost = p.spec.nodeName!;
    const d = await kubectlOk(s, ['describe', 'pod', webPod]);
    assert.match(d, /node\.kubernetes\.io\/not-ready:NoExecute op=Exists for 300s/, 'the default for the one it lacks');
    assert.match(d, /node\.kubernetes\.io\/unreachable:NoExecute op=Exists for 3s/, 'its own kept');
    assert.doesNotMatch(d, /unreachable:NoExecute op=Exists for 300s/, 'no default where it has its own');
  });

  it('a silent node becomes NotReady (Unknown, NodeStatusUnknown) with the unreachable taints after the grace period; its pods go not Ready', async () => {
    // Two bare pods on the same node: one tolerating it briefly, one forever.
    const bare = (name: string, seconds: string): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels:
    app: ${name}
spec:
  nodeName: ${lost}
  tolerations:
  - key: node.kubernetes.io/unreachable
    operator: Exists
    effect: NoExecute
${seconds}  containers:
  - name: c
    image: busybox
`;
    await kubectlOk(s, ['apply', '-f', manifest(s, 'lonely.yaml', bare('lonely', `    tolerationSeconds: ${tolerationS}\n`))]);
    await kubectlOk(s, ['apply', '-f', manifest(s, 'stays.yaml', bare('stays', ''))]);
    await eventually(async () => running(await pod('lonely')) && running(await pod('stays')), 15_000, 'bare pods running');
    assert.equal((await node(lost)).spec?.taints, undefined, 'a healthy node has no taints');

    stoppedAt = Date.now();
    await kubectlOk(s, ['annotate', 'node', lost, 'sim.skiff.io/stop-heartbeats=true']);
    const n = await eventually(async () => { const x = await node(lost); return cond(x, 'Ready')?.status === 'Unknown' ? x : undefined; }, 15_000, 'Ready=Unknown');
    const took = (Date.now() - stoppedAt) / 1000;
    // The last renewal may precede the annotation by one heartbeat interval (300 ms).
    assert.ok(took >= graceS - 0.5, `NotReady after ${took}s, before the ${graceS}s grace period`);
    for (const type of ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure']) {
      const k = cond(n, type)!;
      assert.deepEqual([k.status, k.reason, k.message], ['Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.'], type);
    }
    assert.match(await kubectlOk(s, ['get', 'node', lost]), new RegExp(`^${lost}\\s+NotReady\\s`, 'm'));
    const tainted = await eventually(async () => {
      const x = await node(lost);
      const t = x.spec?.taints ?? [];
      return t.some((k) => k.key === 'node.kubernetes.io/unreachable' && k.effect === 'NoExecute') && t.some((k) => k.key === 'node.kubernetes.io/unreachable' && k.effect === 'NoSchedule') ? t : undefined;
    }, 10_000, 'the unreachable taints');
    const noExecute = tainted.find((k) => k.effect === 'NoExecute')!;
    assert.match(noExecute.timeAdded ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(!tainted.some((k) => k.key === 'node.kubernetes.io/not-ready'), 'not-ready and unreachable exclude each other');
    const describe = await kubectlOk(s, ['describe', 'node', lost]);
    assert.match(describe, /Taints:\s+node\.kubernetes\.io\/unreachable:NoExecute/);

    const stays = await eventually(async () => { const x = await pod('stays'); return cond(x, 'Ready')?.status === 'False' ? x : undefined; }, 10_000, 'pods on the node not Ready');
    assert.equal(stays.metadata.deletionTimestamp, undefined);
    const ev = await kubectlOk(s, ['get', 'events', '--field-selector', `involvedObject.name=${lost},reason=NodeNotReady`, '-o', 'jsonpath={.items[*].message}']);
    assert.equal(ev, `Node ${lost} status is now: NodeNotReady`);
    const podEv = await kubectlOk(s, ['get', 'events', '--field-selector', 'involvedObject.name=stays,reason=NodeNotReady', '-o', 'jsonpath={.items[*].message}']);
    assert.equal(podEv, 'Node is not ready');
  });

  it('after tolerationSeconds the Deployment\'s pod is evicted (DisruptionTarget, TaintManagerEviction) and replaced on a healthy node; the bare pod is not replaced', async () => {
    const evicted = await eventually(async () => { const x = await pod(webPod); return x.metadata.deletionTimestamp ? x : undefined; }, 15_000, 'the web pod evicted');
    const dt = cond(evicted, 'DisruptionTarget');
    assert.deepEqual([dt?.status, dt?.reason, dt?.message], ['True', 'DeletionByTaintManager', 'Taint manager: deleting due to NoExecute taint']);
    // Deleted no sooner than tolerationSeconds after the taint (both times have one-second precision).
    const taintAt = Date.parse((await node(lost)).spec!.taints!.find((t) => t.effect === 'NoExecute')!.timeAdded!);
    const deletedAt = Date.parse(evicted.metadata.deletionTimestamp!) - (evicted.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    assert.ok(deletedAt - taintAt >= (tolerationS - 1) * 1000, `evicted ${(deletedAt - taintAt) / 1000}s after the taint, tolerationSeconds is ${tolerationS}`);
    const ev = await kubectlOk(s, ['get', 'events', '--field-selector', `involvedObject.name=${webPod},reason=TaintManagerEviction`, '-o', 'jsonpath={.items[*].message}']);
    assert.equal(ev, `Marking for deletion Pod default/${webPod}`);
    const replacement = await eventually(async () => (await podsOf('app=web')).find((p) => p.metadata.name !== webPod && running(p)), 15_000, 'a replacement running');
    assert.notEqual(replacement.spec.nodeName, lost, 'the replacement runs on a healthy node');
    assert.ok((Date.now() - stoppedAt) / 1000 < graceS + tolerationS + 10, 'replaced within grace + toleration (+ slack)');

    const lonely = await eventually(async () => { const x = await pod('lonely'); return x.metadata.deletionTimestamp ? x : undefined; }, 10_000, 'the bare pod evicted');
    assert.equal(cond(lonely, 'DisruptionTarget')?.reason, 'DeletionByTaintManager');
    await new Promise((r) => setTimeout(r, 2000));
    const lonelies = await podsOf('app=lonely');
    assert.deepEqual(lonelies.map((p) => p.metadata.name), ['lonely'], 'nothing replaces a bare pod');
    assert.equal((await pod('stays')).metadata.deletionTimestamp, undefined, 'a pod tolerating the taint forever stays');
  });

  it('heartbeats resume: the node is Ready, its taints are gone, the evicted pods finish and the rest is Ready again', async () => {
    await kubectlOk(s, ['annotate', 'node', lost, 'sim.skiff.io/stop-heartbeats-']);
    await eventually(async () => cond(await node(lost), 'Ready')?.status === 'True', 15_000, 'Ready again');
    await eventually(async () => ((await node(lost)).spec?.taints ?? []).length === 0, 15_000, 'taints removed');
    assert.match(await kubectlOk(s, ['get', 'node', lost]), new RegExp(`^${lost}\\s+Ready\\s`, 'm'));
    await eventually(async () => (await c.request('GET', '/api/v1/namespaces/default/pods/lonely')).status === 404, 15_000, 'the bare pod gone');
    await eventually(async () => (await c.request('GET', `/api/v1/namespaces/default/pods/${webPod}`)).status === 404, 15_000, 'the evicted web pod gone');
    await eventually(async () => running(await pod('stays')), 15_000, 'the remaining pod Ready again');
    assert.equal((await podsOf('app=web')).length, 1, 'one web replica, as the Deployment asks');
  });

  it('a NoExecute taint put on by hand: untolerating pods go at once, a scheduled eviction is cancelled when the taint goes', async () => {
    const web = (await podsOf('app=web')).find(running)!;
    const target = web.spec.nodeName!;
    await kubectlOk(s, ['apply', '-f', manifest(s, 'patient.yaml', `apiVersion: v1
kind: Pod
metadata:
  name: patient
spec:
  nodeName: ${target}
  tolerations:
  - key: example.com/maintenance
    operator: Equal
    value: "yes"
    effect: NoExecute
    tolerationSeconds: 60
  containers:
  - name: c
    image: busybox
`)]);
    await eventually(async () => running(await pod('patient')), 15_000, 'the patient pod running');
    const t0 = Date.now();
    await kubectlOk(s, ['taint', 'node', target, 'example.com/maintenance=yes:NoExecute']);
    // The node is alive, so the deletion completes quickly: the pod is terminating or already gone.
    await eventually(async () => {
      const r = await c.request<PodObj>('GET', `/api/v1/namespaces/default/pods/${web.metadata.name}`);
      return r.status === 404 || !!r.body.metadata.deletionTimestamp;
    }, 10_000, 'the untolerating pod evicted');
    assert.ok(Date.now() - t0 < 5_000, 'at once, not after some toleration');
    const marked = await kubectlOk(s, ['get', 'events', '--field-selector', `involvedObject.name=${web.metadata.name},reason=TaintManagerEviction`, '-o', 'jsonpath={.items[*].message}']);
    assert.equal(marked, `Marking for deletion Pod default/${web.metadata.name}`);
    await eventually(async () => (await podsOf('app=web')).find((p) => p.metadata.name !== web.metadata.name && running(p) && p.spec.nodeName !== target), 15_000, 'replaced elsewhere');
    assert.equal((await pod('patient')).metadata.deletionTimestamp, undefined, 'tolerated for 60 s');
    await kubectlOk(s, ['taint', 'node', target, 'example.com/maintenance-']);
    const ev = await eventually(async () => {
      const m = await kubectlOk(s, ['get', 'events', '--field-selector', 'involvedObject.name=patient,reason=TaintManagerEviction', '-o', 'jsonpath={.items[*].message}']);
      return m ? m : undefined;
    }, 10_000, 'the cancellation event');
    assert.equal(ev, 'Cancelling deletion of Pod default/patient');
    assert.equal((await pod('patient')).metadata.deletionTimestamp, undefined);
    await kubectlOk(s, ['delete', 'pod', 'patient', '--wait=false']);
  });

  it('every node silent at once: NotReady, but no NoExecute taints and no evictions (it is the control plane that is cut off)', async () => {
    const names = (await c.call<{ items: NodeObj[] }>('GET', '/api/v1/nodes')).items.map((n) => n.metadata.name);
    const web = await eventually(async () => (await podsOf('app=web')).find((p) => !p.metadata.deletionTimestamp && running(p)), 10_000, 'the live web pod');
    await kubectlOk(s, ['annotate', 'node', ...names, 'sim.skiff.io/stop-heartbeats=true']);
    await eventually(async () => {
      const l = (await c.call<{ items: NodeObj[] }>('GET', '/api/v1/nodes')).items;
      return l.every((n) => cond(n, 'Ready')?.status === 'Unknown');
    }, 15_000, 'every node Unknown');
    // Longer than the pod's tolerationSeconds after the last node went silent.
    await new Promise((r) => setTimeout(r, (tolerationS + 2) * 1000));
    const l = (await c.call<{ items: NodeObj[] }>('GET', '/api/v1/nodes')).items;
    for (const n of l) {
      assert.deepEqual((n.spec?.taints ?? []).filter((t) => t.effect === 'NoExecute' && t.key.startsWith('node.kubernetes.io/')), [], `${n.metadata.name} has no NoExecute taint of the controller`);
      assert.equal(cond(n, 'Ready')?.status, 'Unknown');
    }
    assert.equal((await pod(web.metadata.name)).metadata.deletionTimestamp, undefined, 'the pod was not evicted');
    assert.equal((await pod('stays')).metadata.deletionTimestamp, undefined);
    await kubectlOk(s, ['annotate', 'node', ...names, 'sim.skiff.io/stop-heartbeats-']);
    await eventually(async () => (await c.call<{ items: NodeObj[] }>('GET', '/api/v1/nodes')).items.every((n) => cond(n, 'Ready')?.status === 'True'), 15_000, 'every node back');
  });
});

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, kubectl, kubectlOk, manifest, SimulatedNodesProcess, skiff, startServer, type TestServer } from './harness.js';
import type { RestClient } from '../../src/client/rest-client.js';

interface PodObj { metadata: { name: string; labels?: Record<string, string> }; spec: { nodeName?: string }; status?: { phase?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] } }

const pod = (name: string, containers: { name: string; memory: string }[], extra = ''): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
${extra}  containers:
${containers.map((c) => `  - name: ${c.name}\n    image: busybox\n    resources:\n      requests:\n        memory: ${c.memory}\n`).join('')}`;

describe('scheduler: places a pod as one unit, says why it cannot', () => {
  let s: TestServer;
  let c: RestClient;
  const sims: SimulatedNodesProcess[] = [];
  before(async () => {
    s = await startServer();
    c = s.client();
    const nodes = manifest(s, 'nodes.yaml', 'nodes:\n- name: worker1\n  cpu: "4"\n  memory: 3Gi\n- name: worker2\n  cpu: "4"\n  memory: 2560Mi\n');
    sims.push(await SimulatedNodesProcess.start(s, ['--nodes-file', nodes]));
  });
  after(async () => { for (const x of sims) await x.stop(); c?.close(); await s?.dispose(); });

  const get = (name: string): Promise<PodObj> => c.call<PodObj>('GET', `/api/v1/namespaces/default/pods/${name}`);

  it("the tutorial's case: three 1Gi containers land together on worker1, never on worker2", async () => {
    const f = manifest(s, 'rsyslog.yaml', pod('rsyslog', [{ name: 'main', memory: '1Gi' }, { name: 'imklog', memory: '1Gi' }, { name: 'imuxsock', memory: '1Gi' }]));
    const plan = await skiff(s, ['what-if', '-f', f]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /default\/rsyslog\s+worker1\s+fits on 1 of 2 node\(s\)/);
    await kubectlOk(s, ['apply', '-f', f]);
    const p = await eventually(async () => { const x = await get('rsyslog'); return x.status?.phase === 'Running' ? x : undefined; }, 10_000, 'rsyslog running');
    assert.equal(p.spec.nodeName, 'worker1');
    const d = await kubectlOk(s, ['describe', 'pod', 'rsyslog']);
    assert.match(d, /Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned default\/rsyslog to worker1/);
    assert.match(await kubectlOk(s, ['get', 'pod', 'rsyslog', '-o', 'wide']), /rsyslog\s+3\/3\s+Running\s+0\s+\S+\s+10\.\S+\s+worker1/);
  });

  it('a pod that fits nowhere stays Pending with the upstream message, and explain-pending says by how much', async () => {
    await kubectlOk(s, ['apply', '-f', manifest(s, 'big.yaml', pod('big', [{ name: 'main', memory: '4Gi' }]))]);
    const expected = '0/2 nodes are available: 2 Insufficient memory. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.';
    const p = await eventually(async () => {
      const x = await get('big');
      return x.status?.conditions?.find((k) => k.type === 'PodScheduled' && k.reason === 'Unschedulable') ? x : undefined;
    }, 10_000, 'the Unschedulable condition');
    assert.equal(p.spec.nodeName, undefined);
    assert.equal(p.status!.conditions!.find((k) => k.type === 'PodScheduled')!.message, expected);
    const events = await kubectlOk(s, ['get', 'events', '--field-selector', 'involvedObject.name=big,reason=FailedScheduling', '-o', 'jsonpath={.items[0].message}']);
    assert.equal(events, expected);
    const why = await skiff(s, ['explain-pending', 'big']);
    assert.equal(why.code, 0, why.stderr);
    assert.match(why.stdout, /worker1: Insufficient memory: requests 4Gi, free 0 \(allocatable 3Gi, already requested 3Gi\)/);
    assert.match(why.stdout, /worker2: Insufficient memory: requests 4Gi, free 2\.5Gi/);
    assert.match(why.stdout, new RegExp(`Scheduler says: ${expected.replace(/[.()]/g, '\\$&')}`));
  });

  it('schedules the pending pod as soon as a node that fits joins', async () => {
    const nodes = manifest(s, 'more.yaml', 'nodes:\n- name: worker3\n  cpu: "8"\n  memory: 8Gi\n  labels:\n    disk: ssd\n');
    sims.push(await SimulatedNodesProcess.start(s, ['--nodes-file', nodes]));
    const p = await eventually(async () => { const x = await get('big'); return x.spec.nodeName ? x : undefined; }, 15_000, 'big bound');
    assert.equal(p.spec.nodeName, 'worker3');
  });

  it('honours nodeSelector, taints and tolerations, cordons, host ports, anti-affinity, topology spread', async () => {
    const small = (name: string, extra: string): string => pod(name, [{ name: 'main', memory: '64Mi' }], extra);
    await kubectlOk(s, ['apply', '-f', manifest(s, 'sel.yaml', small('wants-ssd', '  nodeSelector:\n    disk: ssd\n'))]);
    await eventually(async () => (await get('wants-ssd')).spec.nodeName === 'worker3', 10_000, 'nodeSelector');
    await kubectlOk(s, ['apply', '-f', manifest(s, 'sel2.yaml', small('wants-hdd', '  nodeSelector:\n    disk: hdd\n'))]);
    const hdd = await eventually(async () => { const x = await get('wants-hdd'); return x.status?.conditions?.find((k) => k.reason === 'Unschedulable') ? x : undefined; }, 10_000, 'unmatched selector');
    assert.match(hdd.status!.conditions!.find((k) => k.type === 'PodScheduled')!.message!, /3 node\(s\) didn't match Pod's node affinity\/selector\. preemption: 0\/3 nodes are available: 3 Preemption is not helpful for scheduling\./);

    await kubectlOk(s, ['taint', 'nodes', 'worker3', 'dedicated=gpu:NoSchedule']);
    await kubectlOk(s, ['apply', '-f', manifest(s, 'tol.yaml', small('tolerates', '  nodeSelector:\n    disk: ssd\n  tolerations:\n  - key: dedicated\n    operator: Equal\n    value: gpu\n    effect: NoSchedule\n'))]);
    await eventually(async () => (await get('tolerates')).spec.nodeName === 'worker3', 10_000, 'toleration');
    await kubectlOk(s, ['apply', '-f', manifest(s, 'notol.yaml', small('no-toleration', '  nodeSelector:\n    disk: ssd\n'))]);
    const nt = await eventually(async () => { const x = await get('no-toleration'); return x.status?.conditions?.find((k) => k.reason === 'Unschedulable') ? x : undefined; }, 10_000, 'taint refusal');
    assert.match(nt.status!.conditions!.find((k) => k.type === 'PodScheduled')!.message!, /1 node\(s\) had untolerated taint \{dedicated: gpu\}/);
    await kubectlOk(s, ['taint', 'nodes', 'worker3', 'dedicated-']);
    await eventually(async () => (await get('no-toleration')).spec.nodeName === 'worker3', 15_000, 'scheduled once the taint is gone');

    assert.match(await kubectlOk(s, ['cordon', 'worker3']), /cordoned/);
    await kubectlOk(s, ['apply', '-f', manifest(s, 'cord.yaml', small('after-cordon', '  nodeSelector:\n    disk: ssd\n'))]);
    const cord = await eventually(async () => { const x = await get('after-cordon'); return x.status?.conditions?.find((k) => k.reason === 'Unschedulable') ? x : undefined; }, 10_000, 'cordon refusal');
    assert.match(cord.status!.conditions!.find((k) => k.type === 'PodScheduled')!.message!, /1 node\(s\) were unschedulable/);
    await kubectlOk(s, ['uncordon', 'worker3']);
    await eventually(async () => (await get('after-cordon')).spec.nodeName === 'worker3', 15_000, 'scheduled after uncordon');

    const hostPort = (name: string): string => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n  nodeSelector:\n    disk: ssd\n  containers:\n  - name: web\n    image: busybox\n    ports:\n    - containerPort: 8080\n      hostPort: 8001\n`;
    await kubectlOk(s, ['apply', '-f', manifest(s, 'hp1.yaml', hostPort('port-a'))]);
    await eventually(async () => (await get('port-a')).spec.nodeName === 'worker3', 10_000, 'first host port');
    await kubectlOk(s, ['apply', '-f', manifest(s, 'hp2.yaml', hostPort('port-b'))]);
    const hp = await eventually(async () => { const x = await get('port-b'); return x.status?.conditions?.find((k) => k.reason === 'Unschedulable') ? x : undefined; }, 10_000, 'port conflict');
    assert.match(hp.status!.conditions!.find((k) => k.type === 'PodScheduled')!.message!, /1 node\(s\) didn't have free ports for the requested pod ports/);

    // Required anti-affinity: two replicas that must not share a node.
    const anti = `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: spread\nspec:\n  replicas: 3\n  selector:\n    matchLabels:\n      app: spread\n  template:\n    metadata:\n      labels:\n        app: spread\n    spec:\n      affinity:\n        podAntiAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n          - labelSelector:\n              matchLabels:\n                app: spread\n            topologyKey: kubernetes.io/hostname\n      containers:\n      - name: c\n        image: busybox\n`;
    await kubectlOk(s, ['apply', '-f', manifest(s, 'anti.yaml', anti)]);
    const placed = await eventually(async () => {
      const l = (await c.call<{ items: PodObj[] }>('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dspread')).items;
      return l.length === 3 && l.every((x) => x.spec.nodeName) ? l : undefined;
    }, 15_000, 'three anti-affine replicas on three nodes');
    assert.equal(new Set(placed.map((x) => x.spec.nodeName)).size, 3);
    await kubectlOk(s, ['scale', 'deployment', 'spread', '--replicas=4']);
    const fourth = await eventually(async () => {
      const l = (await c.call<{ items: PodObj[] }>('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dspread')).items;
      return l.find((x) => !x.spec.nodeName && x.status?.conditions?.some((k) => k.reason === 'Unschedulable'));
    }, 15_000, 'a fourth replica with nowhere to go');
    assert.match(fourth.status!.conditions!.find((k) => k.type === 'PodScheduled')!.message!, /3 node\(s\) didn't match pod anti-affinity rules/);

    // Topology spread with DoNotSchedule across a zone label only worker1 and worker2 carry.
    await kubectlOk(s, ['label', 'nodes', 'worker1', 'zone=a']);
    await kubectlOk(s, ['label', 'nodes', 'worker2', 'zone=b']);
    const tsc = `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: zoned\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: zoned\n  template:\n    metadata:\n      labels:\n        app: zoned\n    spec:\n      topologySpreadConstraints:\n      - maxSkew: 1\n        topologyKey: zone\n        whenUnsatisfiable: DoNotSchedule\n        labelSelector:\n          matchLabels:\n            app: zoned\n      containers:\n      - name: c\n        image: busybox\n`;
    await kubectlOk(s, ['apply', '-f', manifest(s, 'tsc.yaml', tsc)]);
    const zoned = await eventually(async () => {
      const l = (await c.call<{ items: PodObj[] }>('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dzoned')).items;
      return l.length === 2 && l.every((x) => x.spec.nodeName) ? l : undefined;
    }, 15_000, 'two zone-spread replicas');
    assert.deepEqual(zoned.map((x) => x.spec.nodeName).sort(), ['worker1', 'worker2'], 'one per zone; worker3 has no zone label');
  });

  it('spreads a deployment across equal nodes (default spreading score)', async () => {
    const even = manifest(s, 'even.yaml', 'nodes:\n- name: even1\n  memory: 8Gi\n  labels:\n    pool: even\n- name: even2\n  memory: 8Gi\n  labels:\n    pool: even\n');
    sims.push(await SimulatedNodesProcess.start(s, ['--nodes-file', even]));
    const d = `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 6\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      nodeSelector:\n        pool: even\n      containers:\n      - name: c\n        image: busybox\n`;
    await kubectlOk(s, ['apply', '-f', manifest(s, 'web.yaml', d)]);
    const placed = await eventually(async () => {
      const l = (await c.call<{ items: PodObj[] }>('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb')).items;
      return l.length === 6 && l.every((x) => x.spec.nodeName) ? l : undefined;
    }, 15_000, 'six replicas placed');
    const perNode = new Map<string, number>();
    for (const p of placed) perNode.set(p.spec.nodeName!, (perNode.get(p.spec.nodeName!) ?? 0) + 1);
    assert.deepEqual([...perNode.values()].sort(), [3, 3]);
    const r = await kubectl(s, ['rollout', 'status', 'deployment/web', '--timeout=20s']);
    assert.equal(r.code, 0, r.stderr);
  });
});

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { eventually, examplesDir, kubectl, kubectlBin, kubectlOk, manifest, startServer, type TestServer } from './harness.js';
import type { RestClient } from '../../src/client/rest-client.js';

const pod = (name: string, extra = ''): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels:
    app: web
spec:
  containers:
  - name: main
    image: nginx:1.17.8
    ports:
    - containerPort: 80
    resources:
      requests:
        memory: 1Gi
        cpu: 500m
      limits:
        memory: 1Gi
        cpu: 500m
${extra}`;

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

describe('pods through kubectl: create, get, describe, watch, graceful and forced deletion', () => {
  let s: TestServer;
  let c: RestClient;
  // These tests bind pods by hand; the scheduler would add its own status writes to the watched stream.
  before(async () => { s = await startServer(['--disable-scheduler']); c = s.client(); });
  after(async () => { c?.close(); await s?.dispose(); });

  it('creates the tutorial pods and prints them as kubectl does', async () => {
    assert.equal((await kubectlOk(s, ['create', '-f', join(examplesDir, 'two-containers.yaml')])).trim(), 'pod/two-containers created');
    assert.equal((await kubectlOk(s, ['apply', '-f', join(examplesDir, 'javaweb.yaml')])).trim(), 'pod/javaweb-2 created');
    const out = await kubectlOk(s, ['get', 'pods']);
    assert.match(out, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/m);
    assert.match(out, /^two-containers\s+0\/2\s+Pending\s+0\s+\d+s$/m);
    assert.match(out, /^javaweb-2\s+0\/1\s+Pending\s+0\s+\d+s$/m);
    const wide = await kubectlOk(s, ['get', 'pods', '-o', 'wide']);
    assert.match(wide, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES$/m);
    assert.match(wide, /^two-containers\s+0\/2\s+Pending\s+0\s+\d+s\s+<none>\s+<none>\s+<none>\s+<none>$/m);
    const obj = JSON.parse(await kubectlOk(s, ['get', 'pod', 'two-containers', '-o', 'json']));
    assert.equal(obj.status.phase, 'Pending');
    assert.equal(obj.status.qosClass, 'BestEffort');
    assert.equal(obj.spec.restartPolicy, 'Never');
    assert.equal(obj.spec.dnsPolicy, 'ClusterFirst');
    assert.equal(obj.spec.schedulerName, 'default-scheduler');
    assert.equal(obj.spec.terminationGracePeriodSeconds, 30);
    assert.equal(obj.spec.serviceAccountName, 'default');
    assert.equal(obj.spec.containers[0].imagePullPolicy, 'Always', 'untagged image pulls Always');
    assert.equal(obj.spec.containers[0].terminationMessagePath, '/dev/termination-log');
  });

  it('describes a pod with QoS class, default tolerations and its events', async () => {
    await kubectlOk(s, ['apply', '-f', manifest(s, 'g.yaml', pod('guaranteed'))]);
    const p = await c.call<{ metadata: { uid: string } }>('GET', '/api/v1/namespaces/default/pods/guaranteed');
    await c.call('POST', '/api/v1/namespaces/default/events', {
      body: {
        apiVersion: 'v1', kind: 'Event', metadata: { generateName: 'guaranteed-', namespace: 'default' },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'guaranteed', namespace: 'default', uid: p.metadata.uid },
        reason: 'Scheduled', message: 'Successfully assigned default/guaranteed to node1', type: 'Normal',
        source: { component: 'default-scheduler' }, firstTimestamp: now(), lastTimestamp: now(), count: 1,
      },
    });
    const out = await kubectlOk(s, ['describe', 'pod', 'guaranteed']);
    assert.match(out, /^QoS Class:\s+Guaranteed$/m);
    assert.match(out, /node\.kubernetes\.io\/not-ready:NoExecute op=Exists for 300s/);
    assert.match(out, /node\.kubernetes\.io\/unreachable:NoExecute op=Exists for 300s/);
    assert.match(out, /Port:\s+80\/TCP/);
    assert.match(out, /Normal\s+Scheduled\s+\d+s\s+default-scheduler\s+Successfully assigned default\/guaranteed to node1/);
    const events = await kubectlOk(s, ['get', 'events', '--field-selector', 'involvedObject.name=guaranteed']);
    assert.match(events, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/m);
    assert.match(events, /Normal\s+Scheduled\s+pod\/guaranteed\s+Successfully assigned/);
  });

  it('streams later changes to kubectl get -w', async () => {
    const watcher = spawn(kubectlBin(), [`--kubeconfig=${s.kubeconfig}`, `--cache-dir=${s.cacheDir}`, 'get', 'pods', '-w', '-l', 'app=web'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    watcher.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      await eventually(() => /guaranteed/.test(out), 10_000, 'the initial list');
      await kubectlOk(s, ['apply', '-f', manifest(s, 'w.yaml', pod('watched'))]);
      await eventually(() => /^watched\s+0\/1\s+Pending/m.test(out), 10_000, 'ADDED of the new pod');
      await kubectlOk(s, ['label', 'pod', 'watched', 'app-']);
      // Leaving the selector is a deletion as far as this watch is concerned.
      await eventually(() => out.match(/^watched\s/gm)?.length === 2, 10_000, 'the pod leaving the selector');
      assert.equal(watcher.exitCode, null, 'kubectl get -w keeps watching');
    } finally {
      watcher.kill();
    }
  });

  it('deletes an unscheduled pod at once', async () => {
    assert.equal((await kubectlOk(s, ['delete', 'pod', 'javaweb-2'])).trim(), 'pod "javaweb-2" deleted');
    const r = await kubectl(s, ['get', 'pod', 'javaweb-2']);
    assert.match(r.stderr, /Error from server \(NotFound\): pods "javaweb-2" not found/);
  });

  it('deletes a bound pod gracefully (Terminating) until the node confirms, or at once with --force', async () => {
    await kubectlOk(s, ['apply', '-f', manifest(s, 'b.yaml', pod('bound'))]);
    const binding = { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'bound' }, target: { apiVersion: 'v1', kind: 'Node', name: 'node1' } };
    const r = await c.request('POST', '/api/v1/namespaces/default/pods/bound/binding', { body: binding });
    assert.equal(r.status, 201);
    const again = await c.request<{ reason: string; message: string }>('POST', '/api/v1/namespaces/default/pods/bound/binding', { body: binding });
    assert.equal(again.status, 409);
    assert.match(again.body.message, /already assigned to node "node1"/);
    const bound = JSON.parse(await kubectlOk(s, ['get', 'pod', 'bound', '-o', 'json']));
    assert.equal(bound.spec.nodeName, 'node1');
    assert.equal(bound.status.conditions.find((x: { type: string }) => x.type === 'PodScheduled').status, 'True');

    assert.match(await kubectlOk(s, ['delete', 'pod', 'bound', '--wait=false']), /pod "bound" deleted/);
    const terminating = JSON.parse(await kubectlOk(s, ['get', 'pod', 'bound', '-o', 'json']));
    assert.ok(terminating.metadata.deletionTimestamp, 'deletionTimestamp set');
    assert.equal(terminating.metadata.deletionGracePeriodSeconds, 30);
    assert.match(await kubectlOk(s, ['get', 'pod', 'bound']), /^bound\s+0\/1\s+Terminating\s/m);

    const forced = await kubectl(s, ['delete', 'pod', 'bound', '--grace-period=0', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /pod "bound" force deleted/);
    assert.match(forced.stderr, /Immediate deletion does not wait for confirmation/);
    const gone = await kubectl(s, ['get', 'pod', 'bound']);
    assert.match(gone.stderr, /pods "bound" not found/);
  });

  it('refuses spec changes a running pod cannot take, allows image changes', async () => {
    await kubectlOk(s, ['apply', '-f', manifest(s, 'u.yaml', pod('upd'))]);
    await kubectlOk(s, ['set', 'image', 'pod/upd', 'main=nginx:1.18']);
    assert.equal(await kubectlOk(s, ['get', 'pod', 'upd', '-o', 'jsonpath={.spec.containers[0].image}']), 'nginx:1.18');
    const bad = await kubectl(s, ['patch', 'pod', 'upd', '--type=merge', '-p', '{"spec":{"restartPolicy":"Never"}}']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /The Pod "upd" is invalid: spec: Forbidden: pod updates may not change fields other than/);
  });
});

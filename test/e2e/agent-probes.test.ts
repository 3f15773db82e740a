// Container probes on real containers through the real kubectl: readiness (httpGet) holding a
// Deployment's AVAILABLE count until the app is ready, a liveness probe (exec) restarting a container
// that stopped being healthy, a tcpSocket readiness probe on a closed port keeping a pod unready, and
// postStart hooks (run in the container; a failing one restarts it).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, kubectlOk, manifest, startServerWithAgent, type TestServer } from './harness.js';

interface PodJson { status?: { conditions?: { type: string; status: string }[]; containerStatuses?: { ready: boolean; started?: boolean; restartCount: number; state?: { running?: object } }[] } }

describe('container probes and postStart hooks on real runc', () => {
  let s: TestServer;
  const apply = (name: string, yaml: string): Promise<string> => kubectlOk(s, ['apply', '-f', manifest(s, `${name}.yaml`, yaml)]);
  const pod = async (name: string): Promise<PodJson> => JSON.parse(await kubectlOk(s, ['get', 'pod', name, '-o', 'json'])) as PodJson;

  before(async () => { s = await startServerWithAgent(); });
  after(async () => { await s?.dispose(); });

  it('readiness (httpGet) holds the Deployment\'s AVAILABLE count until the app answers', async () => {
    // The page the probe asks for lives on the host (hostPath), so the test decides when the app is ready.
    const www = join(s.dataDir, 'www');
    mkdirSync(www, { recursive: true });
    writeFileSync(join(www, 'index.html'), 'hi\n');
    await apply('web', `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      volumes:
      - name: www
        hostPath: {path: ${www}}
      containers:
      - name: httpd
        image: busybox
        ports:
        - {name: http, containerPort: 8080}
        command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
        volumeMounts:
        - {name: www, mountPath: /www}
        readinessProbe:
          httpGet: {path: /ready.html, port: http}
          periodSeconds: 1
          failureThreshold: 1
`);
    const name = await eventually(async () => {
      const out = await kubectlOk(s, ['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].metadata.name}']);
      if (!out) return undefined;
      const ev = await kubectlOk(s, ['get', 'events', '--field-selector', `involvedObject.name=${out},reason=Unhealthy`, '-o', 'jsonpath={.items[*].message}']);
      return /Readiness probe failed: HTTP probe failed with statuscode: 404/.test(ev) ? out : undefined;
    }, 60_000, 'a failed readiness probe');
    assert.equal((await pod(name)).status?.containerStatuses?.[0]?.ready, false, 'running but not ready while /ready.html is missing');
    assert.match(await kubectlOk(s, ['get', 'deployment', 'web']), /web\s+0\/1\s+1\s+0\s/);
    writeFileSync(join(www, 'ready.html'), 'ok\n');
    await eventually(async () => (await pod(name)).status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True', 20_000, 'Ready');
    await eventually(async () => /web\s+1\/1\s+1\s+1\s/.test(await kubectlOk(s, ['get', 'deployment', 'web'])), 20_000, 'AVAILABLE 1');
  });

  it('liveness (exec) restarts a container once it stops being healthy', async () => {
    await apply('live', `apiVersion: v1
kind: Pod
metadata:
  name: live
spec:
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "touch /tmp/healthy; sleep 3; rm /tmp/healthy; sleep 600"]
    livenessProbe:
      exec:
        command: ["test", "-f", "/tmp/healthy"]
      periodSeconds: 1
      failureThreshold: 2
`);
    const restarted = await eventually(async () => { const c = (await pod('live')).status?.containerStatuses?.[0]; return c && c.restartCount >= 1 ? c : undefined; }, 60_000, 'a restart');
    assert.ok(restarted.restartCount >= 1);
    const events = await kubectlOk(s, ['get', 'events', '--field-selector', 'involvedObject.name=live', '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}']);
    assert.match(events, /Unhealthy: Liveness probe failed:/);
    assert.match(events, /Killing: Container main failed liveness probe, will be restarted/);
  });

  it('postStart runs in the container after it starts; a failing postStart kills and restarts it', async () => {
    await apply('hooked', `apiVersion: v1
kind: Pod
metadata:
  name: hooked
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "while [ ! -f /tmp/poststart ]; do sleep 0.1; done; echo saw $(cat /tmp/poststart); sleep 600"]
    lifecycle:
      postStart:
        exec:
          command: ["sh", "-c", "echo hook-ran > /tmp/poststart"]
  - name: broken
    image: busybox
    command: ["sleep", "600"]
    lifecycle:
      postStart:
        exec:
          command: ["sh", "-c", "echo nope; exit 7"]
`);
    await eventually(async () => (await kubectlOk(s, ['logs', 'hooked', '-c', 'main'])) === 'saw hook-ran\n', 30_000, 'the main container to see the hook\'s file');
    const broken = await eventually(async () => { const c = (await pod('hooked')).status?.containerStatuses?.find((x) => (x as { name?: string }).name === 'broken'); return c && c.restartCount >= 1 ? c : undefined; }, 60_000, 'the broken container restarted');
    assert.ok(broken.restartCount >= 1);
    const events = await kubectlOk(s, ['get', 'events', '--field-selector', 'involvedObject.name=hooked,reason=FailedPostStartHook', '-o', 'jsonpath={.items[*].message}']);
    assert.match(events, /^Exec lifecycle hook \(\[sh -c echo nope; exit 7\]\) for Container "broken" in Pod "hooked_default\([0-9a-f-]+\)" failed - error: command .* exited with 7: nope/);
  });

  it('a tcpSocket readiness probe on a closed port keeps the pod unready (0/1 Running)', async () => {
    await apply('closed', `apiVersion: v1
kind: Pod
metadata:
  name: closed
spec:
  containers:
  - name: main
    image: busybox
    command: ["sleep", "600"]
    readinessProbe:
      tcpSocket: {port: 9999}
      periodSeconds: 1
`);
    await eventually(async () => {
      const ev = await kubectlOk(s, ['get', 'events', '--field-selector', 'involvedObject.name=closed,reason=Unhealthy', '-o', 'jsonpath={.items[*].message}']);
      return /Readiness probe failed: dial tcp [\d.]+:9999: connect: connection refused/.test(ev);
    }, 30_000, 'a refused readiness probe');
    assert.match(await kubectlOk(s, ['get', 'pod', 'closed']), /closed\s+0\/1\s+Running\s+0/);
  });
});

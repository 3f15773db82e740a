// The Pods tutorial on real containers: the real kubectl against `skiff server` with its node agent on
// runc, CNI and overlayfs, using the offline test images (nginx, debian, xxx/cpwar, xxx/tomcat).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, examplesDir, kubectlOk, manifest, startServerWithAgent, type TestServer } from './harness.js';

interface PodObj {
  metadata: { name: string; uid: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status?: { phase?: string; podIP?: string; containerStatuses?: { name: string; ready: boolean; state?: { terminated?: { reason?: string; exitCode?: number } } }[]; initContainerStatuses?: { name: string; state?: { terminated?: { reason?: string; exitCode?: number; finishedAt?: string } } }[] };
}

async function httpGet(url: string, ms = 5000): Promise<string> {
  const r = await fetch(url, { signal: AbortSignal.timeout(ms) });
  return r.text();
}

describe('the Pods tutorial on real containers', () => {
  let s: TestServer;
  const pods = async (selector: string): Promise<PodObj[]> => JSON.parse(await kubectlOk(s, ['get', 'pods', '-l', selector, '-o', 'json'])).items as PodObj[];
  const pod = async (name: string): Promise<PodObj> => JSON.parse(await kubectlOk(s, ['get', 'pod', name, '-o', 'json'])) as PodObj;

  before(async () => { s = await startServerWithAgent(); });
  after(async () => { await s?.dispose(); });

  it('nginx-deployment.yaml: two nginx pods Running with pod IPs that serve nginx\'s page to the host', async () => {
    await kubectlOk(s, ['apply', '-f', join(examplesDir, 'nginx-deployment.yaml')]);
    const running = await eventually(async () => {
      const l = await pods('app=nginx');
      return l.length === 2 && l.every((p) => p.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.ready) ? l : undefined;
    }, 60_000, 'two nginx pods Running');
    const ips = running.map((p) => p.status!.podIP!);
    assert.equal(new Set(ips).size, 2, 'each pod has its own IP');
    for (const ip of ips) assert.match(await eventually(() => httpGet(`http://${ip}/`), 10_000, `nginx at ${ip}`), /Welcome to nginx!/);
    const wide = await kubectlOk(s, ['get', 'pods', '-l', 'app=nginx', '-o', 'wide']);
    for (const p of running) assert.match(wide, new RegExp(`${p.metadata.name}\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+${p.status!.podIP!.replace(/\./g, '\\.')}\\s+${s.nodeName}`));
    await kubectlOk(s, ['delete', '-f', join(examplesDir, 'nginx-deployment.yaml')]);
    await eventually(async () => (await pods('app=nginx')).length === 0, 30_000, 'the pods gone');
  });

  it('the emptyDir variant: the volume is on the host under the kubelet root dir and nginx serves what is written there', async () => {
    await kubectlOk(s, ['apply', '-f', join(examplesDir, 'nginx-deployment-volume.yaml')]);
    const [p] = await eventually(async () => {
      const l = await pods('app=nginx');
      return l.length >= 1 && l.every((x) => x.status?.phase === 'Running') ? l : undefined;
    }, 60_000, 'nginx with a volume Running');
    const uid = (await kubectlOk(s, ['get', 'pod', p!.metadata.name, '-o', 'jsonpath={.metadata.uid}'])).trim();
    const dir = join(s.rootDir, 'pods', uid, 'volumes', 'kubernetes.io~empty-dir', 'nginx-vol');
    assert.ok(existsSync(dir), `${dir} exists on the host`);
    writeFileSync(join(dir, 'index.html'), 'written on the host\n');
    assert.equal(await eventually(() => httpGet(`http://${p!.status!.podIP}/`)), 'written on the host\n');
    await kubectlOk(s, ['delete', '-f', join(examplesDir, 'nginx-deployment-volume.yaml')]);
    await eventually(() => !existsSync(join(s.rootDir, 'pods', uid)), 30_000, 'the pod directory removed');
  });

  it('two containers sharing a volume: the debian container writes the page the nginx container serves', async () => {
    const data = join(s.dataDir, 'hostpath-data');
    mkdirSync(data, { recursive: true });
    const yaml = readFileSync(join(examplesDir, 'two-containers.yaml'), 'utf8').replace('path: /data', `path: ${data}`);
    await kubectlOk(s, ['apply', '-f', manifest(s, 'two-containers.yaml', yaml)]);
    const p = await eventually(async () => {
      const x = await pod('two-containers');
      const debian = x.status?.containerStatuses?.find((c) => c.name === 'debian-container');
      return debian?.state?.terminated?.reason === 'Completed' ? x : undefined;
    }, 60_000, 'the debian container Completed');
    assert.equal(p.status?.phase, 'Running', 'nginx keeps running (restartPolicy Never: debian is not restarted)');
    assert.equal(readFileSync(join(data, 'index.html'), 'utf8'), 'Hello from the debian container\n');
    assert.equal(await eventually(() => httpGet(`http://${p.status!.podIP}/`)), 'Hello from the debian container\n');
    // One network namespace: a container reaches its neighbour on the pod's localhost.
    const probe = `apiVersion: v1
kind: Pod
metadata:
  name: localhost-check
spec:
  restartPolicy: Never
  volumes:
  - name: shared
    emptyDir: {}
  containers:
  - name: web
    image: nginx
    volumeMounts:
    - name: shared
      mountPath: /usr/share/nginx/html
  - name: client
    image: debian
    volumeMounts:
    - name: shared
      mountPath: /shared
    command: ["/bin/sh", "-c", "echo neighbour > /shared/index.html; for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://127.0.0.1/ && exit 0; sleep 0.5; done; exit 1"]
`;
    await kubectlOk(s, ['apply', '-f', manifest(s, 'localhost-check.yaml', probe)]);
    const checked = await eventually(async () => {
      const x = await pod('localhost-check');
      return x.status?.containerStatuses?.find((c) => c.name === 'client')?.state?.terminated ? x : undefined;
    }, 60_000, 'the client container done');
    assert.equal(checked.status?.containerStatuses?.find((c) => c.name === 'client')?.state?.terminated?.exitCode, 0, 'wget to 127.0.0.1 reached nginx');
    await kubectlOk(s, ['delete', 'pod', 'localhost-check']);
    await kubectlOk(s, ['delete', 'pod', 'two-containers']);
  });

  it('javaweb: the init container copies the WAR before tomcat starts, and hostPort 8001 reaches tomcat from the host', async () => {
    await kubectlOk(s, ['apply', '-f', join(examplesDir, 'javaweb.yaml')]);
    const p = await eventually(async () => {
      const x = await pod('javaweb-2');
      return x.status?.phase === 'Running' ? x : undefined;
    }, 60_000, 'javaweb-2 Running');
    const init = p.status?.initContainerStatuses?.[0];
    assert.equal(init?.state?.terminated?.reason, 'Completed');
    assert.equal(init?.state?.terminated?.exitCode, 0);
    assert.equal(await eventually(() => httpGet(`http://127.0.0.1:8001/sample.war`)), 'skiff sample.war v2\n');
    assert.equal(await httpGet(`http://${p.status!.podIP}:8080/sample.war`), 'skiff sample.war v2\n');
    const describe = await kubectlOk(s, ['describe', 'pod', 'javaweb-2']);
    assert.match(describe, /Init Containers:\n\s+war:/);
    assert.match(describe, /Host Port:\s+8001\/TCP/);
    assert.match(describe, /Started container tomcat/);
    // busybox httpd as PID 1 ignores SIGTERM: a short grace period instead of the default 30 s.
    await kubectlOk(s, ['delete', 'pod', 'javaweb-2', '--grace-period=2']);
  });
});

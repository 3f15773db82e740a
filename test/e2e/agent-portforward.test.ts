// `kubectl port-forward` through the API server to the node agent on real containers: SPDY tunnelled in a
// WebSocket (kubectl 1.31 and later) and plain SPDY (kubectl 1.27–1.29), the connection made inside the
// pod's network namespace (a server bound to the pod's 127.0.0.1 is reachable), large bodies, and the
// error kubectl prints when nothing listens.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { eventually, kubectlBin, kubectlOk, manifest, startServerWithAgent, type TestServer } from './harness.js';

interface Forward { proc: ChildProcess; localPort: number; output: () => string }

/** Starts `kubectl port-forward` and waits for its "Forwarding from 127.0.0.1:N -> P" line. */
function portForward(s: TestServer, args: string[], bin = kubectlBin()): Promise<Forward> {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, [`--kubeconfig=${s.kubeconfig}`, `--cache-dir=${s.cacheDir}`, 'port-forward', '--address', '127.0.0.1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`port-forward did not start:\n${out}`)); }, 20_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /Forwarding from 127\.0\.0\.1:(\d+) ->/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, localPort: Number(m[1]), output: () => out });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`port-forward exited ${code}:\n${out}`)); });
  });
}

function get(port: number, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(20_000, () => req.destroy(new Error(`GET ${path} through port ${port} timed out`)));
    req.end();
  });
}

describe('kubectl port-forward on real containers', () => {
  let s: TestServer;
  const forwards: ChildProcess[] = [];
  let bigSha = '';

  before(async () => {
    s = await startServerWithAgent();
    await kubectlOk(s, ['apply', '-f', manifest(s, 'web.yaml', `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: nginx
    image: nginx
    ports:
    - containerPort: 80
  - name: local
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo only-on-localhost > /www/index.html && exec httpd -f -p 127.0.0.1:8081 -h /www"]
`)]);
    await eventually(async () => {
      const p = JSON.parse(await kubectlOk(s, ['get', 'pod', 'web', '-o', 'json'])) as { status?: { containerStatuses?: { state?: { running?: object } }[] } };
      return p.status?.containerStatuses?.length === 2 && p.status.containerStatuses.every((c) => c.state?.running);
    }, 60_000, 'web running');
    // 4 MiB of random bytes to fetch through the tunnel.
    await kubectlOk(s, ['exec', 'web', '-c', 'nginx', '--', 'sh', '-c', 'dd if=/dev/urandom of=/usr/share/nginx/html/big bs=1024 count=4096 2>/dev/null']);
    bigSha = (await kubectlOk(s, ['exec', 'web', '-c', 'nginx', '--', 'sha256sum', '/usr/share/nginx/html/big'])).split(' ')[0]!;
  });
  after(async () => {
    for (const p of forwards) p.kill('SIGKILL');
    await s?.dispose();
  });

  for (const [label, bin] of [['kubectl 1.32 (SPDY in a WebSocket)', undefined], ['kubectl 1.27 (plain SPDY)', '1.27']] as const) {
    it(`${label}: a page, a 4 MiB body intact, parallel connections`, async () => {
      const f = await portForward(s, ['pod/web', '0:80', '-v=4'], bin ? kubectlBin(bin) : undefined);
      forwards.push(f.proc);
      const page = await get(f.localPort, '/');
      assert.equal(page.status, 200);
      assert.match(page.body.toString(), /Welcome to nginx!/);
      const big = await get(f.localPort, '/big');
      assert.equal(big.body.length, 4 * 1024 * 1024);
      assert.equal(createHash('sha256').update(big.body).digest('hex'), bigSha);
      const many = await Promise.all(Array.from({ length: 8 }, () => get(f.localPort, '/')));
      assert.ok(many.every((r) => r.status === 200 && /Welcome to nginx!/.test(r.body.toString())));
      // kubectl logs (at -v=4) which dialer carried the session: no silent fallback from the WebSocket.
      if (!bin) {
        assert.match(f.output(), /Before WebSocket Upgrade[\s\S]*negotiated protocol: portforward\.k8s\.io/);
        assert.doesNotMatch(f.output(), /fallback to secondary dialer/);
      }
      f.proc.kill('SIGTERM');
    });
  }

  it('connects inside the pod: a server on the pod\'s 127.0.0.1 is reachable', async () => {
    const f = await portForward(s, ['web', '0:8081']);
    forwards.push(f.proc);
    assert.equal((await get(f.localPort, '/')).body.toString(), 'only-on-localhost\n');
    f.proc.kill('SIGTERM');
  });

  it('nothing listening: the request fails and kubectl reports kubelet\'s error', async () => {
    const f = await portForward(s, ['web', '0:9']);
    forwards.push(f.proc);
    await assert.rejects(get(f.localPort, '/'));
    await eventually(() => /error forwarding port 9 to pod web_default, uid [0-9a-f-]+: failed to connect to localhost:9 inside namespace/.test(f.output()), 10_000, 'the error in kubectl\'s output');
    f.proc.kill('SIGTERM');
  });
});

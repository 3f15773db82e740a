/**
 * Streaming benchmark: an exec of `true` (round trip through API server and agent, WebSocket
 * v5.channel.k8s.io), bytes/s out of `exec head -c`, and the delay from a line written in a container to
 * its arrival on `logs -f` (the CRI log's own timestamp against the arrival time) — each against the same
 * done with `runc exec` directly in the same run. Port-forward (the real kubectl, SPDY tunnelled in a
 * WebSocket): a small GET on a new connection and bytes/s of a large one, against the same straight to the
 * pod's IP.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { loadKubeconfig, type ClusterAccess } from '../src/client/kubeconfig.js';
import { RestClient } from '../src/client/rest-client.js';
import { agentIdentity } from '../src/cli/agent-setup.js';
import { percentile, startServer } from './harness.js';

const rounds = Number(process.env['BENCH_ROUNDS'] ?? 30);
const bytes = 64 * 1024 * 1024;
const round = (n: number): number => Math.round(n * 10) / 10;

/** One exec through the API; resolves with the bytes received on stdout. */
function apiExec(access: ClusterAccess, cmd: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const q = `${cmd.map((c) => `command=${encodeURIComponent(c)}`).join('&')}&container=main&stdout=true&stderr=true`;
    const ws = new WebSocket(`${access.server.replace(/^https/, 'wss')}/api/v1/namespaces/default/pods/bench/exec?${q}`, ['v5.channel.k8s.io'], { ca: access.ca, cert: access.cert, key: access.key });
    let got = 0;
    ws.on('message', (m: Buffer) => { if (m[0] === 1) got += m.length - 1; });
    ws.on('close', () => resolve(got));
    ws.on('error', reject);
  });
}

/** The same with runc directly: resolves with the bytes on stdout. */
function runcExec(root: string, id: string, cmd: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn('runc', ['--root', root, 'exec', id, ...cmd], { stdio: ['ignore', 'pipe', 'ignore'] });
    let got = 0;
    p.stdout.on('data', (d: Buffer) => { got += d.length; });
    p.on('close', () => resolve(got));
    p.on('error', reject);
  });
}

async function timed(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}

/** Lines of `logs -f` with timestamps: arrival time minus the time the runtime logged each line. */
function followLatency(access: ClusterAccess, lines: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${access.server}/api/v1/namespaces/default/pods/bench/log?container=ticker&follow=true&timestamps=true&tailLines=0`);
    const delays: number[] = [];
    let rest = '';
    const req = request(url, { ca: access.ca, cert: access.cert, key: access.key }, (res) => {
      res.on('data', (d: Buffer) => {
        const now = Date.now();
        const text = rest + d.toString();
        const parts = text.split('\n');
        rest = parts.pop() ?? '';
        for (const l of parts) {
          const at = Date.parse(l.slice(0, l.indexOf(' ')));
          if (!Number.isNaN(at)) delays.push(now - at);
        }
        if (delays.length >= lines) { req.destroy(); resolve(delays.sort((a, b) => a - b)); }
      });
    });
    req.on('error', (e) => { if (delays.length < lines) reject(e); });
    req.end();
  });
}

/** One GET on a fresh connection; resolves with the body's length. */
function httpGet(host: string, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, path, agent: false }, (res) => {
      let got = 0;
      res.on('data', (d: Buffer) => { got += d.length; });
      res.on('end', () => resolve(got));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Runs `kubectl port-forward pod/bench 0:8080`; resolves with the local port and a stop function. */
function kubectlPortForward(kubeconfig: string): Promise<{ port: number; stop: () => void }> {
  return new Promise((resolve, reject) => {
    const p = spawn('kubectl', [`--kubeconfig=${kubeconfig}`, 'port-forward', '--address', '127.0.0.1', 'pod/bench', '0:8080'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve({ port: Number(m[1]), stop: () => p.kill() });
    });
    p.on('exit', (code) => reject(new Error(`kubectl port-forward exited ${code}: ${out}`)));
  });
}

async function main(): Promise<void> {
  const server = await startServer([], { agent: true });
  const access = loadKubeconfig(server.kubeconfig);
  const client = new RestClient(access);
  try {
    const pod: Pod = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bench' },
      spec: {
        terminationGracePeriodSeconds: 0,
        containers: [
          { name: 'main', image: 'busybox:latest', imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] },
          { name: 'ticker', image: 'busybox:latest', imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'while true; do echo tick; sleep 0.1; done'] },
          {
            name: 'web', image: 'busybox:latest', imagePullPolicy: 'IfNotPresent',
            command: ['sh', '-c', `mkdir /www && echo ok > /www/small && head -c ${bytes} /dev/zero > /www/big && exec httpd -f -p 8080 -h /www`],
          },
        ],
      },
    } as Pod;
    await client.call('POST', '/api/v1/namespaces/default/pods', { body: pod });
    let id = '';
    for (let i = 0; i < 600 && !id; i++) {
      const p = await client.call<Pod>('GET', '/api/v1/namespaces/default/pods/bench');
      const main = p.status?.containerStatuses?.find((c) => c.name === 'main');
      if (main?.state?.running && p.status?.containerStatuses?.every((c) => c.state?.running)) id = (main.containerID ?? '').replace(/^runc:\/\//, '');
      else await new Promise((r) => setTimeout(r, 100));
    }
    if (!id) throw new Error('the bench pod did not start');
    const root = agentIdentity(join(server.dataDir, 'agent')).runcRoot;
    await apiExec(access, ['true']);
    await runcExec(root, id, ['true']);
    const api = await timed(rounds, () => apiExec(access, ['true']));
    const floor = await timed(rounds, () => runcExec(root, id, ['true']));
    const cmd = ['head', '-c', String(bytes), '/dev/zero'];
    let t = performance.now();
    const gotApi = await apiExec(access, cmd);
    const apiMBs = gotApi / 1e6 / ((performance.now() - t) / 1000);
    t = performance.now();
    const gotRunc = await runcExec(root, id, cmd);
    const runcMBs = gotRunc / 1e6 / ((performance.now() - t) / 1000);
    if (gotApi !== bytes || gotRunc !== bytes) throw new Error(`short read: ${gotApi} / ${gotRunc} of ${bytes}`);
    const follow = await followLatency(access, 30);
    const podIP = (await client.call<Pod>('GET', '/api/v1/namespaces/default/pods/bench')).status?.podIP ?? '';
    const pf = await kubectlPortForward(server.kubeconfig);
    let pfSmall: number[];
    let directSmall: number[];
    let pfMBs: number;
    let directMBs: number;
    try {
      await httpGet('127.0.0.1', pf.port, '/small');
      pfSmall = await timed(rounds, () => httpGet('127.0.0.1', pf.port, '/small'));
      directSmall = await timed(rounds, () => httpGet(podIP, 8080, '/small'));
      t = performance.now();
      const gotPf = await httpGet('127.0.0.1', pf.port, '/big');
      pfMBs = gotPf / 1e6 / ((performance.now() - t) / 1000);
      t = performance.now();
      const gotDirect = await httpGet(podIP, 8080, '/big');
      directMBs = gotDirect / 1e6 / ((performance.now() - t) / 1000);
      if (gotPf !== bytes || gotDirect !== bytes) throw new Error(`short port-forward read: ${gotPf} / ${gotDirect} of ${bytes}`);
    } finally {
      pf.stop();
    }
    process.stdout.write(`${JSON.stringify({
      bench: 'streaming',
      exec_roundtrip_ms_p50: round(percentile(api, 0.5)), exec_roundtrip_ms_p99: round(percentile(api, 0.99)),
      runc_exec_ms_p50: round(percentile(floor, 0.5)), ratio_exec_to_runc: round(percentile(api, 0.5) / percentile(floor, 0.5)),
      exec_throughput_mb_s: round(apiMBs), runc_exec_throughput_mb_s: round(runcMBs), ratio_throughput: round(apiMBs / runcMBs),
      logs_follow_latency_ms_p50: round(percentile(follow, 0.5)), logs_follow_latency_ms_p99: round(percentile(follow, 0.99)),
      portforward_get_ms_p50: round(percentile(pfSmall, 0.5)), portforward_get_ms_p99: round(percentile(pfSmall, 0.99)),
      direct_get_ms_p50: round(percentile(directSmall, 0.5)),
      portforward_throughput_mb_s: round(pfMBs), direct_throughput_mb_s: round(directMBs), ratio_portforward_throughput: round(pfMBs / directMBs),
    })}\n`);
  } finally {
    client.close();
    await server.stop();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench streaming failed: ${e.stack}\n`);
  process.exit(1);
});

// The agent's streaming port lets in only the API server's kubelet client (a certificate from the
// cluster CA with that name): anyone else is refused, and logs come back as kubelet serves them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { spawn } from 'node:child_process';
import { WebSocket } from 'ws';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterCA, type KeyPair } from '../../apiserver/pki.js';
import { StreamingServer } from './streaming-server.js';

function get(port: number, path: string, ca: string, client?: KeyPair): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, ca, ...(client ? { cert: client.cert, key: client.key } : {}) }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

describe('agent streaming server', () => {
  let dir: string;
  let ca: ClusterCA;
  let server: StreamingServer;
  let port = 0;
  let apiserver: KeyPair;
  let admin: KeyPair;
  const resizes: [number, number][] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-streaming-'));
    ca = await ClusterCA.loadOrCreate(join(dir, 'tls'));
    const serving = await ca.issue({ user: 'system:node:n1', groups: ['system:nodes'] }, { server: { dns: ['localhost'], ips: ['127.0.0.1'] } });
    apiserver = await ca.issue({ user: 'kube-apiserver-kubelet-client', groups: ['system:masters'] }, { client: true });
    admin = await ca.issue({ user: 'system:admin', groups: ['system:masters'] }, { client: true });
    const log = join(dir, 'main.log');
    writeFileSync(log, '2026-01-01T00:00:00Z stdout F hello\n2026-01-01T00:00:01Z stderr F world\n');
    server = new StreamingServer({
      tls: { ...serving, ca: ca.pair.cert }, allowedClients: ['kube-apiserver-kubelet-client'],
      logTarget: async (ns, pod, container) => (ns === 'default' && pod === 'web' && container === 'main'
        ? { kind: 'file', path: log, containerId: 'c1' }
        : { kind: 'error', code: 400, message: `container ${container} is not valid for pod ${pod}` }),
      containerRunning: async () => false,
      execTarget: async (_ns, _pod, container) => (container === 'main' ? { kind: 'ok', containerId: 'c1' } : { kind: 'error', message: `container not found ("${container}")` }),
      // The host's own shell stands in for the container's: the framing is what is tested here.
      execStream: (_id, cmd, o) => {
        const p = spawn(cmd[0]!, cmd.slice(1), { stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
        const exited = new Promise<number>((r) => p.once('close', (code) => r(code ?? 255)));
        return {
          stdin: p.stdin, stdout: p.stdout!, stderr: p.stderr!, exited, kill: () => { p.kill(); },
          ...(o.tty ? { resize: (w: number, h: number) => { resizes.push([w, h]); } } : {}),
        };
      },
    });
    port = await server.start(0, '127.0.0.1');
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves container logs to the API server, with kubelet\'s parameters', async () => {
    assert.deepEqual(await get(port, '/containerLogs/default/web/main', ca.pair.cert, apiserver), { code: 200, body: 'hello\nworld\n' });
    assert.deepEqual(await get(port, '/containerLogs/default/web/main?tailLines=1&timestamps=true', ca.pair.cert, apiserver), { code: 200, body: '2026-01-01T00:00:01Z world\n' });
    assert.deepEqual(await get(port, '/containerLogs/default/web/other', ca.pair.cert, apiserver), { code: 400, body: 'container other is not valid for pod web' });
    assert.equal((await get(port, '/containerLogs/default/web/main?tailLines=x', ca.pair.cert, apiserver)).code, 400);
  });

  /** One exec session: what came back on each channel and how the socket closed. */
  const session = (path: string, client: KeyPair, send: Buffer[] = []): Promise<{ channels: Map<number, string>; close: number; protocol: string }> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${port}${path}`, ['v5.channel.k8s.io'], { ca: ca.pair.cert, cert: client.cert, key: client.key });
      const channels = new Map<number, string>();
      ws.on('open', () => { for (const m of send) ws.send(m, { binary: true }); });
      ws.on('message', (m: Buffer) => channels.set(m[0]!, (channels.get(m[0]!) ?? '') + m.subarray(1).toString()));
      ws.on('close', (code) => resolve({ channels, close: code, protocol: ws.protocol }));
      ws.on('error', reject);
    });

  it('exec: output on channels 1 and 2, stdin from channel 0 until [255, 0], resize from channel 4, the exit status on channel 3, close 1000', async () => {
    const q = (cmd: string[], stdin = false): string => `/exec/default/web/main?${cmd.map((c) => `command=${encodeURIComponent(c)}`).join('&')}&stdout=true&stderr=true${stdin ? '&stdin=true' : ''}`;
    let r = await session(q(['sh', '-c', 'echo out; echo err >&2']), apiserver);
    assert.equal(r.protocol, 'v5.channel.k8s.io');
    assert.deepEqual([r.channels.get(1), r.channels.get(2), JSON.parse(r.channels.get(3)!)], ['out\n', 'err\n', { metadata: {}, status: 'Success' }]);
    assert.equal(r.close, 1000);
    r = await session(q(['sh', '-c', 'exit 4']), apiserver);
    assert.deepEqual(JSON.parse(r.channels.get(3)!).details, { causes: [{ reason: 'ExitCode', message: '4' }] });
    r = await session(q(['cat'], true), apiserver, [Buffer.from([0, ...Buffer.from('typed\n')]), Buffer.from([255, 0])]);
    assert.equal(r.channels.get(1), 'typed\n');
    r = await session('/exec/default/web/sidecar?command=true', apiserver);
    assert.equal(JSON.parse(r.channels.get(3)!).message, 'Internal error occurred: unable to upgrade connection: container not found ("sidecar")');
    r = await session(`${q(['sleep', '0.3'])}&tty=true`, apiserver, [Buffer.from([4, ...Buffer.from('{"Width":80,"Height":24}\n')]), Buffer.from([4, ...Buffer.from('not json')])]);
    assert.deepEqual(JSON.parse(r.channels.get(3)!), { metadata: {}, status: 'Success' });
    assert.deepEqual(resizes, [[80, 24]], 'a terminal session passes sizes on; garbage is ignored');
    await assert.rejects(session(q(['true']), admin), /Unexpected server response: 403/);
  });

  it('refuses other users of the cluster CA, and connections without a certificate', async () => {
    const r = await get(port, '/containerLogs/default/web/main', ca.pair.cert, admin);
    assert.equal(r.code, 403);
    assert.match(r.body, /Forbidden \(user=system:admin/);
    await assert.rejects(get(port, '/containerLogs/default/web/main', ca.pair.cert), /certificate|socket hang up|ECONNRESET|alert/i);
  });
});

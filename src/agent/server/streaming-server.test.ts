// The agent's streaming port lets in only the API server's kubelet client (a certificate from the
// cluster CA with that name): anyone else is refused, and logs come back as kubelet serves them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
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

  it('refuses other users of the cluster CA, and connections without a certificate', async () => {
    const r = await get(port, '/containerLogs/default/web/main', ca.pair.cert, admin);
    assert.equal(r.code, 403);
    assert.match(r.body, /Forbidden \(user=system:admin/);
    await assert.rejects(get(port, '/containerLogs/default/web/main', ca.pair.cert), /certificate|socket hang up|ECONNRESET|alert/i);
  });
});

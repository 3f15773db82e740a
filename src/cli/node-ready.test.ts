import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { whenNodeReady } from './node-ready.js';
import { startInProcessServer, type InProcessServer } from '../../test/helpers/in-process-server.js';

describe('waiting for the local node to be Ready', () => {
  let api: InProcessServer;
  before(async () => { api = await startInProcessServer(); });
  after(async () => { await api?.close(); });

  it('resolves true once the Node exists and reports Ready, not before', async () => {
    const client = api.client();
    let settled: boolean | undefined;
    const waiting = whenNodeReady(client, 'n1', { timeoutMs: 10_000, intervalMs: 20 }).then((ok) => { settled = ok; return ok; });
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(settled, undefined, 'no Node yet');
    await client.call('POST', '/api/v1/nodes', { body: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } }) });
    const status = (ready: string): string => JSON.stringify({ status: { conditions: [{ type: 'Ready', status: ready, reason: 'X', message: 'x', lastHeartbeatTime: new Date().toISOString(), lastTransitionTime: new Date().toISOString() }] } });
    await client.call('PATCH', '/api/v1/nodes/n1/status', { body: status('False'), contentType: 'application/merge-patch+json' });
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(settled, undefined, 'a Node not Ready');
    await client.call('PATCH', '/api/v1/nodes/n1/status', { body: status('True'), contentType: 'application/merge-patch+json' });
    assert.equal(await waiting, true);
  });

  it('gives up with false after its timeout, or when aborted', async () => {
    const client = api.client();
    assert.equal(await whenNodeReady(client, 'never', { timeoutMs: 200, intervalMs: 20 }), false);
    const abort = new AbortController();
    const t0 = Date.now();
    setTimeout(() => abort.abort(), 100);
    assert.equal(await whenNodeReady(client, 'never', { timeoutMs: 30_000, intervalMs: 20, signal: abort.signal }), false);
    assert.ok(Date.now() - t0 < 5000);
  });
});

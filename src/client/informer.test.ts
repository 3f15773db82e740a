import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Informer } from './informer.js';
import { startInProcessServer, type InProcessServer } from '../../test/helpers/in-process-server.js';
import type { KubeObject } from '../api/types.js';

const cm = (name: string, v = '1'): unknown => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { v } });

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Informer', () => {
  let srv: InProcessServer;
  before(async () => { srv = await startInProcessServer({ watchCacheSize: 20 }); });
  after(() => srv?.close());

  it('lists, then follows adds, updates and deletes', async () => {
    const c = srv.client();
    await c.call('POST', '/api/v1/namespaces/default/configmaps', { body: cm('pre') });
    const inf = new Informer<KubeObject>(c, { path: '/api/v1/namespaces/default/configmaps' });
    const log: string[] = [];
    inf.addHandlers({
      add: (o) => log.push(`add ${o.metadata.name}`),
      update: (_old, o) => log.push(`update ${o.metadata.name} ${(o as { data?: { v?: string } }).data?.v}`),
      delete: (o) => log.push(`delete ${o.metadata.name}`),
    });
    await inf.start();
    assert.ok(inf.hasSynced);
    assert.deepEqual(log, ['add pre']);
    await c.call('POST', '/api/v1/namespaces/default/configmaps', { body: cm('a') });
    await c.call('PUT', '/api/v1/namespaces/default/configmaps/a', { body: cm('a', '2') });
    await c.call('DELETE', '/api/v1/namespaces/default/configmaps/pre');
    await until(() => log.length === 4);
    assert.deepEqual(log, ['add pre', 'add a', 'update a 2', 'delete pre']);
    assert.deepEqual(inf.list().map((o) => o.metadata.name), ['a']);
    assert.equal((inf.get('default/a') as { data?: { v?: string } }).data?.v, '2');
    inf.stop();
  });

  it('relists when its watch falls too far behind (410) and converges on the truth', async () => {
    const c = srv.client();
    const inf = new Informer<KubeObject>(c, { path: '/api/v1/namespaces/default/configmaps', labelSelector: 'grp=x' });
    await inf.start();
    inf.stop();
    const staleRV = inf.resourceVersion;
    // More changes than the server's watch cache keeps (20), while the informer is stopped.
    for (let i = 0; i < 30; i++) await c.call('POST', '/api/v1/namespaces/default/configmaps', { body: { ...(cm(`x${i}`) as object), metadata: { name: `x${i}`, labels: { grp: 'x' } } } });
    const resumed = new Informer<KubeObject>(c, { path: '/api/v1/namespaces/default/configmaps', labelSelector: 'grp=x' });
    await resumed.start();
    assert.equal(resumed.list().length, 30);
    // And a watch from a revision the server no longer has ends in ERROR 410, which the client surfaces.
    const events: string[] = [];
    await c.watch(`/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${staleRV}`, (e) => events.push(e.type));
    assert.deepEqual(events, ['ERROR']);
    resumed.stop();
  });
});

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from './harness.js';

describe('durability: kill -9 in the middle of a stream of writes', () => {
  let s: TestServer;
  after(() => s?.dispose());

  it('loses no acknowledged write', async () => {
    s = await startServer();
    const acked = new Map<string, string>();
    const c = s.client();
    let stop = false;
    let failures = 0;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const name = `w${w}-${i}`;
        const r = await c.request<{ metadata: { resourceVersion: string } }>('POST', '/api/v1/namespaces/default/configmaps', {
          body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { i: String(i) } },
        }).catch(() => undefined);
        if (r?.status === 201) acked.set(name, r.body.metadata.resourceVersion);
        else failures++;
      }
    };
    const workers = Array.from({ length: 16 }, (_, w) => worker(w));
    await new Promise((r) => setTimeout(r, 1500));
    await s.kill();
    stop = true;
    await Promise.all(workers);
    c.close();
    assert.ok(acked.size > 100, `enough writes were acknowledged before the kill (${acked.size})`);
    assert.ok(failures > 0, 'the kill really interrupted writes in flight');

    await s.start();
    const c2 = s.client();
    try {
      const list = await c2.call<{ metadata: { resourceVersion: string }; items: { metadata: { name: string; resourceVersion: string } }[] }>('GET', '/api/v1/namespaces/default/configmaps');
      const stored = new Map(list.items.map((i) => [i.metadata.name, i.metadata.resourceVersion]));
      const lost = [...acked.keys()].filter((n) => !stored.has(n));
      assert.deepEqual(lost, [], 'every acknowledged object survived');
      for (const [name, rv] of acked) assert.equal(stored.get(name), rv, `${name} kept the resourceVersion it was acknowledged with`);
      const maxAcked = Math.max(...[...acked.values()].map(Number));
      assert.ok(Number(list.metadata.resourceVersion) >= maxAcked);
      const next = await c2.call<{ metadata: { resourceVersion: string } }>('POST', '/api/v1/namespaces/default/configmaps', {
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after-restart' } },
      });
      assert.ok(Number(next.metadata.resourceVersion) > Number(list.metadata.resourceVersion), 'revisions continue after the restart');
    } finally {
      c2.close();
    }
  });
});

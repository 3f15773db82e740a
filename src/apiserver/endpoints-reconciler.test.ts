import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { ApiServer } from './server.js';
import { endpointSubsets } from './endpoints-reconciler.js';
import { serverURLs } from '../client/server-discovery.js';
import type { KubeObject } from '../api/types.js';

describe('the kubernetes Endpoints list every live API server', () => {
  it('subsets group servers by port, sorted, and read back as URLs', () => {
    const subsets = endpointSubsets([{ ip: '10.0.0.2', port: 6443 }, { ip: '10.0.0.1', port: 6443 }, { ip: '10.0.0.3', port: 7443 }]);
    assert.deepEqual(subsets, [
      { addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] },
      { addresses: [{ ip: '10.0.0.3' }], ports: [{ name: 'https', port: 7443, protocol: 'TCP' }] },
    ]);
    assert.deepEqual(serverURLs({ subsets }), ['https://10.0.0.1:6443', 'https://10.0.0.2:6443', 'https://10.0.0.3:7443']);
    assert.deepEqual(serverURLs({ subsets: [{ addresses: [{ ip: 'fd00::1' }], ports: [{ port: 6443 }] }] }), ['https://[fd00::1]:6443']);
  });

  it('two servers on one store both appear; one closing leaves only the other', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-endpoints-'));
    const store = new SqliteStore({ path: join(dir, 'state.db') });
    await store.ready();
    const one = new ApiServer({ store, compactIntervalMs: 0, advertiseAddress: '10.9.0.1' });
    const two = new ApiServer({ store, compactIntervalMs: 0, advertiseAddress: '10.9.0.2' });
    try {
      await one.start(0, '127.0.0.1');
      await two.start(0, '127.0.0.1');
      const ips = async (): Promise<string[]> => {
        const { kv } = await store.get('/registry/services/endpoints/default/kubernetes');
        const ep = JSON.parse(new TextDecoder().decode(kv!.value)) as KubeObject & { subsets?: { addresses?: { ip: string }[] }[] };
        return (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip)).sort();
      };
      assert.deepEqual(await ips(), ['10.9.0.1', '10.9.0.2']);
      await two.close();
      assert.deepEqual(await ips(), ['10.9.0.1']);
    } finally {
      await one.close();
      await two.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

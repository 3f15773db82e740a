import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { LeaderElector } from './leader-election.js';
import { startInProcessServer, type InProcessServer } from '../../test/helpers/in-process-server.js';

describe('LeaderElector', () => {
  let srv: InProcessServer;
  before(async () => { srv = await startInProcessServer(); });
  after(() => srv?.close());

  it('lets exactly one of several candidates lead, and another take over when the leader stops', async () => {
    const opts = { name: 'test-lease', leaseDurationMs: 1500, retryPeriodMs: 200 };
    const a = new LeaderElector(srv.client(), { ...opts, identity: 'a' });
    const b = new LeaderElector(srv.client(), { ...opts, identity: 'b' });
    const leading = new Set<string>();
    const overlap: string[] = [];
    const stopA = new AbortController();
    const stopB = new AbortController();
    const lead = (id: string) => async (leadership: AbortSignal): Promise<void> => {
      if (leading.size > 0) overlap.push(`${id} while ${[...leading]}`);
      leading.add(id);
      await new Promise<void>((r) => leadership.addEventListener('abort', () => r()));
      leading.delete(id);
    };
    const runA = a.run(lead('a'), stopA.signal);
    await new Promise((r) => setTimeout(r, 400));
    const runB = b.run(lead('b'), stopB.signal);
    await new Promise((r) => setTimeout(r, 800));
    assert.deepEqual([...leading], ['a'], 'the first candidate leads; the second waits');
    stopA.abort();
    await runA;
    const t0 = Date.now();
    while (!leading.has('b') && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
    assert.ok(leading.has('b'), 'b took over after a stopped');
    assert.ok(Date.now() - t0 < 1000, 'quickly: a released the lease instead of letting it expire');
    assert.deepEqual(overlap, [], 'never two leaders at once');
    stopB.abort();
    await runB;
    const lease = await srv.client().call<{ spec: { holderIdentity?: string; leaseTransitions: number } }>('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/test-lease');
    assert.equal(lease.spec.holderIdentity, undefined, 'released on a clean stop');
    assert.ok(lease.spec.leaseTransitions >= 1);
  });
});

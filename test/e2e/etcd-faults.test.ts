// Faults under a skiff server on a real 3-member etcd cluster (Debian's etcd on loopback ports): members killed
// (the leader too) during a stream of writes through the API, quorum lost and regained, and a server cut off from
// etcd while history it needs is compacted away.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { eventually, kubectl, kubectlBin, kubectlOk, type TestServer, startServer } from './harness.js';
import { startEtcdCluster, type TestEtcdCluster, type TestEtcdMember } from '../helpers/etcd-server.js';
import { Cleanups } from '../helpers/cleanups.js';

interface Status { kind?: string; code?: number; reason?: string; message?: string }

/** `kubectl get configmaps --watch` in a namespace through a server, collecting "TYPE name" lines. */
function watchConfigMaps(s: TestServer, ns: string): { proc: ChildProcess; seen: () => string } {
  const proc = spawn(kubectlBin(), [`--kubeconfig=${s.kubeconfig}`, `--cache-dir=${s.cacheDir}`, '-n', ns, 'get', 'configmaps', '--watch', '--output-watch-events', '-o', 'jsonpath={.type} {.object.metadata.name}{"\\n"}'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  return { proc, seen: () => out };
}

describe('skiff on a three-member etcd cluster: member failures, quorum loss, a server cut off', () => {
  let etcd: TestEtcdCluster;
  let s1: TestServer;
  const cleanups = new Cleanups();
  before(async () => {
    etcd = await startEtcdCluster();
    cleanups.push(() => etcd.stop());
    s1 = await startServer(['--datastore-endpoint', etcd.datastoreEndpoint, '--disable-scheduler']);
    cleanups.push(() => s1.dispose());
  });
  after(async () => {
    await cleanups.run();
  });

  const followerOf = async (): Promise<TestEtcdMember> => {
    const leader = await etcd.leader();
    return etcd.members.find((m) => m !== leader && m.running)!;
  };
  /** Every member at the same revision and raft index: the restarted ones have caught up. */
  const converged = async (): Promise<boolean> => {
    const st = await Promise.all(etcd.members.map((m) => m.status()));
    return st.every((x) => x.revision === st[0]!.revision && x.raftIndex === st[0]!.raftIndex);
  };

  it('kill -9 of a follower, then of the leader, during a stream of writes: every request answered, stalls of seconds at most, nothing lost, both rejoin', async () => {
    const c = s1.client();
    const acked = new Map<string, string>();
    const failures: string[] = [];
    const phases: { name: string; at: number }[] = [{ name: 'steady', at: Date.now() }];
    const slowest = new Map<string, number>();
    let stop = false;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const name = `f${w}-${i}`;
        const t0 = Date.now();
        const phase = phases[phases.length - 1]!.name;
        try {
          const r = await c.request<{ metadata: { resourceVersion: string } } & Status>('POST', '/api/v1/namespaces/default/configmaps', {
            body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { i: String(i) } },
          });
          if (r.status === 201) acked.set(name, r.body.metadata.resourceVersion);
          else failures.push(`${name}: HTTP ${r.status} ${r.body.message ?? ''}`);
        } catch (e) {
          failures.push(`${name}: ${(e as Error).message}`);
        }
        const took = Date.now() - t0;
        slowest.set(phase, Math.max(slowest.get(phase) ?? 0, took));
      }
    };
    const workers = Array.from({ length: 4 }, (_, w) => worker(w));
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const follower = await followerOf();
      phases.push({ name: 'follower killed', at: Date.now() });
      await follower.kill();
      await new Promise((r) => setTimeout(r, 2500));
      phases.push({ name: 'follower restarting', at: Date.now() });
      await follower.start();
      const leader = await etcd.leader();
      phases.push({ name: 'leader killed', at: Date.now() });
      await leader.kill();
      const newLeader = await etcd.leader();
      assert.notEqual(newLeader, leader);
      await new Promise((r) => setTimeout(r, 2500));
      phases.push({ name: 'old leader restarting', at: Date.now() });
      await leader.start();
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    const figures = [...slowest].map(([p, ms]) => `${p}: ${ms} ms`).join(', ');
    process.stderr.write(`etcd-faults: ${acked.size} creates acknowledged; slowest request per phase: ${figures}\n`);
    assert.deepEqual(failures, [], 'every write was answered with success');
    assert.ok(acked.size > 100, `writes went on (${acked.size})`);
    for (const [phase, ms] of slowest) assert.ok(ms < 6000, `a request stalled ${ms} ms while ${phase}`);

    // Nothing acknowledged is lost, each object at the revision it was acknowledged with.
    const list = await c.call<{ items: { metadata: { name: string; resourceVersion: string } }[] }>('GET', '/api/v1/namespaces/default/configmaps');
    c.close();
    const have = new Map(list.items.map((i) => [i.metadata.name, i.metadata.resourceVersion]));
    assert.deepEqual([...acked].filter(([n, rv]) => have.get(n) !== rv), []);
    // Both killed members rejoined and caught up with the same history.
    await eventually(converged, 20_000, 'the members to converge');
    const raw = new Etcd3({ hosts: etcd.members[0]!.endpoint });
    try {
      for (const m of etcd.members) {
        const one = new Etcd3({ hosts: m.endpoint });
        try {
          const r = await one.kv.range({ key: Buffer.from('/registry/configmaps/default/f'), range_end: Buffer.from('/registry/configmaps/default/g'), count_only: true, serializable: true });
          assert.equal(Number(r.count), acked.size, `member ${m.name} holds every acknowledged write (read locally)`);
        } finally {
          one.close();
        }
      }
    } finally {
      raw.close();
    }
  });

  it('losing quorum: writes fail with a clear 5xx Status, reads from the watch cache and watches go on; all recovers with quorum', async () => {
    await kubectlOk(s1, ['create', 'namespace', 'q']);
    await kubectlOk(s1, ['-n', 'q', 'create', 'configmap', 'before-quorum-loss', '--from-literal=a=1']);
    const watch = watchConfigMaps(s1, 'q');
    const c = s1.client();
    const lost: TestEtcdMember[] = [];
    try {
      await eventually(() => watch.seen().includes('ADDED before-quorum-loss'), 10_000, 'the watch to start');
      const leader = await etcd.leader();
      const follower = etcd.members.find((m) => m !== leader)!;
      lost.push(leader, follower);
      await Promise.all(lost.map((m) => m.kill()));

      // Reads served from the watch cache (resourceVersion=0, as informers list) answer at once.
      const t1 = Date.now();
      const cached = JSON.parse(await kubectlOk(s1, ['get', '--raw', '/api/v1/namespaces/q/configmaps?resourceVersion=0'])) as { items: { metadata: { name: string } }[] };
      assert.ok(cached.items.some((i) => i.metadata.name === 'before-quorum-loss'));
      const one = await c.request<{ data: Record<string, string> }>('GET', '/api/v1/namespaces/q/configmaps/before-quorum-loss?resourceVersion=0');
      assert.equal(one.status, 200);
      assert.equal(one.body.data['a'], '1');
      assert.ok(Date.now() - t1 < 3000, 'cache reads are not held up by etcd');

      // A write: kubectl shows the server's Status, naming the cause, within the store's deadline. A consistent read
      // (no resourceVersion) needs a quorum read of the revision: a clear 5xx too, not a hang. (All at once: each
      // waits out the 5 s deadline.)
      const t0 = Date.now();
      const [w, r, consistent] = await Promise.all([
        kubectl(s1, ['-n', 'q', 'create', 'configmap', 'no-quorum', '--from-literal=a=1']),
        c.request<Status>('POST', '/api/v1/namespaces/q/configmaps', { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'no-quorum-2' } } }),
        kubectl(s1, ['-n', 'q', 'get', 'configmap', 'before-quorum-loss']),
      ]);
      const took = Date.now() - t0;
      process.stderr.write(`etcd-faults: without quorum, kubectl create said: ${w.stderr.trim()}\n`);
      assert.notEqual(w.code, 0);
      assert.match(w.stderr, /Internal error occurred: etcd unavailable \(http:\/\/127\.0\.0\.1:\d+, .*\): create did not succeed within 5000 ms/, w.stderr);
      assert.ok(took < 15_000, `the answers came after ${took} ms`);
      assert.equal(r.status, 500);
      assert.deepEqual([r.body.kind, r.body.code, r.body.reason], ['Status', 500, 'InternalError']);
      assert.notEqual(consistent.code, 0);
      assert.match(consistent.stderr, /InternalError.*etcd unavailable/);
      assert.equal(watch.proc.exitCode, null, 'the watch stays open');
      // Not ready without its store (as kube-apiserver's etcd check), so load balancers send clients elsewhere; alive still.
      const ready = await c.request<string>('GET', '/readyz', { raw: true });
      assert.equal(ready.status, 500);
      assert.match(ready.body, /\[-\]etcd failed/);
      assert.equal((await c.request('GET', '/livez')).status, 200);

      await Promise.all(lost.map((m) => m.start()));
      lost.length = 0;
      await etcd.waitHealthy();
      await eventually(async () => (await kubectl(s1, ['-n', 'q', 'create', 'configmap', 'after-quorum', '--from-literal=a=2'])).code === 0, 20_000, 'writes with quorum back');
      await eventually(async () => (await c.request('GET', '/readyz')).status === 200, 5000, 'ready again');
      await eventually(() => watch.seen().includes('ADDED after-quorum'), 10_000, `the open watch to deliver the new write (saw ${JSON.stringify(watch.seen())})`);
      assert.equal(await kubectlOk(s1, ['-n', 'q', 'get', 'configmap', 'after-quorum', '-o', 'jsonpath={.data.a}']), '2');
      // The controllers (their Lease renewals failed meanwhile) act again.
      await kubectlOk(s1, ['create', 'deployment', 'after-quorum', '--image=nginx', '--replicas=1']);
      await eventually(async () => (await kubectlOk(s1, ['get', 'rs', '-l', 'app=after-quorum', '-o', 'name'])).includes('replicaset.apps/after-quorum-'), 30_000, 'the ReplicaSet');
    } finally {
      watch.proc.kill('SIGKILL');
      c.close();
      // Quorum back for the next test even when an assertion failed.
      await Promise.all(lost.map((m) => m.start().catch(() => {})));
    }
  });

  it('a server cut off from etcd while the history it needs is compacted lists again when it reconnects', async () => {
    // Server 2 reaches etcd through member 3 only; server 1 through all three.
    const only = etcd.members[2]!;
    const s2 = await startServer(['--datastore-endpoint', only.endpoint.replace('http://', 'etcd://'), '--token-file', join(s1.dataDir, 'token'), '--disable-scheduler']);
    cleanups.push(() => s2.dispose());
    await kubectlOk(s1, ['create', 'namespace', 'cut']);
    await kubectlOk(s1, ['-n', 'cut', 'create', 'configmap', 'doomed', '--from-literal=a=1']);
    await kubectlOk(s1, ['-n', 'cut', 'create', 'configmap', 'changed', '--from-literal=a=1']);
    const watch = watchConfigMaps(s2, 'cut');
    try {
      await eventually(() => watch.seen().includes('ADDED changed'), 10_000, 'the watch through server 2 to start');
      await only.kill();
      await kubectlOk(s1, ['-n', 'cut', 'delete', 'configmap', 'doomed']);
      await kubectlOk(s1, ['-n', 'cut', 'patch', 'configmap', 'changed', '-p', '{"data":{"a":"2"}}']);
      await kubectlOk(s1, ['-n', 'cut', 'create', 'configmap', 'while-away', '--from-literal=a=1']);
      // Compact everything up to now: server 2's watch can no longer resume where it stopped.
      const raw = new Etcd3({ hosts: etcd.members[0]!.endpoint });
      try {
        const now = Number((await raw.kv.range({ key: Buffer.from('/'), count_only: true })).header.revision);
        await raw.kv.compact({ revision: now, physical: true });
      } finally {
        raw.close();
      }
      await only.start();
      // Server 2 serves the present: consistent reads wait for its cache, which must have listed again.
      await eventually(async () => (await kubectl(s2, ['-n', 'cut', 'get', 'configmap', 'while-away', '-o', 'jsonpath={.data.a}'])).stdout === '1', 30_000, 'server 2 to see the write made while it was cut off');
      assert.equal(await kubectlOk(s2, ['-n', 'cut', 'get', 'configmap', 'changed', '-o', 'jsonpath={.data.a}']), '2');
      const gone = await kubectl(s2, ['-n', 'cut', 'get', 'configmap', 'doomed']);
      assert.match(gone.stderr, /NotFound/);
      // The watch open through server 2 all along was given the difference.
      await eventually(() => ['ADDED while-away', 'MODIFIED changed', 'DELETED doomed'].every((l) => watch.seen().includes(l)), 10_000,
        `the watch to get the difference (saw ${JSON.stringify(watch.seen())})`);
      assert.equal(watch.proc.exitCode, null);
      // And it follows etcd again.
      await kubectlOk(s1, ['-n', 'cut', 'create', 'configmap', 'back-again']);
      await eventually(() => watch.seen().includes('ADDED back-again'), 10_000, 'the watch to go on');
    } finally {
      watch.proc.kill('SIGKILL');
    }
  });
});

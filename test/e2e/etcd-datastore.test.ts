import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { eventually, kubectl, kubectlBin, kubectlOk, startServer, type TestServer } from './harness.js';
import { makeTestTLS, startEtcd, type TestEtcd } from '../helpers/etcd-server.js';
import { Cleanups } from '../helpers/cleanups.js';

/** `skiff server --datastore-endpoint etcd://…` driven by the real kubectl, checked against what etcd holds. */
describe('skiff server on etcd', () => {
  let etcd: TestEtcd;
  let raw: Etcd3;
  let s: TestServer;
  const cleanups = new Cleanups();
  before(async () => {
    etcd = await startEtcd();
    cleanups.push(() => etcd.stop());
    raw = new Etcd3({ hosts: etcd.endpoint });
    cleanups.push(() => raw.close());
    s = await startServer(['--datastore-endpoint', etcd.endpoint.replace('http://', 'etcd://')]);
    cleanups.push(() => s.dispose());
  });
  after(async () => {
    await cleanups.run();
  });

  /** The object's bytes and revision as etcd has them. */
  async function stored(key: string): Promise<{ obj: Record<string, unknown>; modRev: number } | undefined> {
    const r = await raw.kv.range({ key: Buffer.from(key) });
    const kv = r.kvs[0];
    return kv ? { obj: JSON.parse(kv.value.toString()) as Record<string, unknown>, modRev: Number(kv.mod_revision) } : undefined;
  }

  it('creates, gets, watches and deletes a Deployment with kubectl, stored in etcd', async () => {
    await kubectlOk(s, ['create', 'deployment', 'web', '--image=nginx:1.17.8', '--replicas=2']);
    const got = JSON.parse(await kubectlOk(s, ['get', 'deployment', 'web', '-o', 'json'])) as { metadata: { resourceVersion: string; uid: string }; spec: { replicas: number } };
    assert.equal(got.spec.replicas, 2);
    const inEtcd = await stored('/registry/deployments/default/web');
    assert.ok(inEtcd, 'the Deployment is under its upstream key in etcd');
    assert.equal((inEtcd.obj['metadata'] as { uid: string }).uid, got.metadata.uid);
    assert.equal(String(inEtcd.modRev), got.metadata.resourceVersion, 'resourceVersion is etcd\'s mod_revision');

    // The controllers, fed by watches over etcd, make the ReplicaSet.
    await eventually(async () => (await kubectlOk(s, ['get', 'rs', '-l', 'app=web', '-o', 'name'])).includes('replicaset.apps/web-'), 20_000, 'the ReplicaSet');

    // kubectl --watch sees a change made by another kubectl.
    const watch = spawn(kubectlBin(), [`--kubeconfig=${s.kubeconfig}`, `--cache-dir=${s.cacheDir}`, 'get', 'deployment', 'web', '--watch', '--output-watch-events', '-o', 'jsonpath={.type} {.object.spec.replicas}{"\\n"}'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    watch.stdout.on('data', (d: Buffer) => { seen += d.toString(); });
    try {
      await eventually(() => seen.includes('ADDED 2'), 10_000, 'the watch to start');
      await kubectlOk(s, ['scale', 'deployment', 'web', '--replicas=3']);
      await eventually(() => seen.includes('MODIFIED 3'), 10_000, `a MODIFIED event with 3 replicas (watch said: ${JSON.stringify(seen)})`);
    } finally {
      watch.kill('SIGKILL');
    }

    await kubectlOk(s, ['delete', 'deployment', 'web']);
    const after = await kubectl(s, ['get', 'deployment', 'web']);
    assert.notEqual(after.code, 0);
    assert.match(after.stderr, /NotFound|not found/);
    assert.equal(await stored('/registry/deployments/default/web'), undefined, 'gone from etcd too');
  });

  it('answers 410 Gone for a resourceVersion etcd has compacted away', async () => {
    const first = JSON.parse(await kubectlOk(s, ['create', 'configmap', 'c1', '--from-literal=a=1', '-o', 'json'])) as { metadata: { resourceVersion: string } };
    await kubectlOk(s, ['create', 'configmap', 'c2', '--from-literal=a=2']);
    const url = `/api/v1/namespaces/default/configmaps?resourceVersion=${first.metadata.resourceVersion}&resourceVersionMatch=Exact`;
    const before = JSON.parse(await kubectlOk(s, ['get', '--raw', url])) as { items: { metadata: { name: string } }[] };
    assert.deepEqual(before.items.map((i) => i.metadata.name).filter((n) => n.startsWith('c')), ['c1'], 'the exact snapshot is read from etcd');
    const now = Number((await raw.kv.range({ key: Buffer.from('/'), count_only: true })).header.revision);
    await raw.kv.compact({ revision: now, physical: true });
    const r = await kubectl(s, ['get', '--raw', url]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Expired|410|too old resource version/, r.stderr);
  });

  it('keeps every acknowledged write across a kill -9 of the server, and a second server sees them', async () => {
    const c = s.client();
    const acked = new Map<string, string>();
    let stop = false;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const r = await c.request<{ metadata: { resourceVersion: string } }>('POST', '/api/v1/namespaces/default/configmaps', {
          body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `k${w}-${i}` }, data: { i: String(i) } },
        }).catch(() => undefined);
        if (r?.status === 201) acked.set(`k${w}-${i}`, r.body.metadata.resourceVersion);
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    await new Promise((r) => setTimeout(r, 1000));
    await s.kill();
    stop = true;
    await Promise.all(workers);
    c.close();
    assert.ok(acked.size > 20, `writes were acknowledged before the kill (${acked.size})`);

    await s.start();
    const second = await startServer(['--datastore-endpoint', etcd.endpoint.replace('http://', 'etcd://'), '--token-file', join(s.dataDir, 'token'), '--disable-scheduler', '--controllers=-deployment,-replicaset,-garbagecollector,-namespace']);
    cleanups.push(() => second.dispose());
    for (const server of [s, second]) {
      const list = JSON.parse(await kubectlOk(server, ['get', 'configmaps', '-o', 'json'])) as { items: { metadata: { name: string; resourceVersion: string } }[] };
      const have = new Map(list.items.map((i) => [i.metadata.name, i.metadata.resourceVersion]));
      const lost = [...acked.keys()].filter((n) => have.get(n) !== acked.get(n));
      assert.deepEqual(lost, [], 'every acknowledged object is there with the resourceVersion it was acknowledged with');
    }
    // A write through one server is read at once through the other (a consistent read waits for its watch).
    await kubectlOk(s, ['create', 'configmap', 'cross', '--from-literal=via=first']);
    assert.equal(await kubectlOk(second, ['get', 'configmap', 'cross', '-o', 'jsonpath={.data.via}']), 'first');
  });

  it('answers a clear 5xx Status, not a hang, while etcd is frozen, and works again when it thaws', async () => {
    etcd.pause();
    try {
      const t0 = Date.now();
      const r = await kubectl(s, ['create', 'configmap', 'frozen', '--from-literal=a=1'], { timeoutMs: 30_000 });
      const took = Date.now() - t0;
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Internal error occurred: etcd unavailable \(http:\/\/127\.0\.0\.1:\d+\): create did not succeed within 5000 ms/, r.stderr);
      assert.ok(took < 15_000, `kubectl got its answer after ${took} ms`);
    } finally {
      etcd.resume();
    }
    await eventually(async () => (await kubectl(s, ['create', 'configmap', 'thawed', '--from-literal=a=1'])).code === 0, 20_000, 'writes after the thaw');
    assert.equal(await kubectlOk(s, ['get', 'configmap', 'thawed', '-o', 'jsonpath={.data.a}']), '1');
  });
});

describe('skiff server on etcd over TLS', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  it('connects with --datastore-cafile/--datastore-certfile/--datastore-keyfile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-e2e-etcd-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const tls = makeTestTLS(dir);
    const etcd = await startEtcd({ tls });
    cleanups.push(() => etcd.stop());
    const s = await startServer([
      '--datastore-endpoint', etcd.endpoint.replace('https://', 'etcd://'),
      '--datastore-cafile', tls.caFile, '--datastore-certfile', tls.clientCertFile, '--datastore-keyfile', tls.clientKeyFile,
      '--disable-scheduler', '--controllers=-deployment,-replicaset,-garbagecollector,-namespace',
    ]);
    cleanups.push(() => s.dispose());
    await kubectlOk(s, ['create', 'configmap', 'tls', '--from-literal=over=tls']);
    assert.equal(await kubectlOk(s, ['get', 'configmap', 'tls', '-o', 'jsonpath={.data.over}']), 'tls');
  });
});

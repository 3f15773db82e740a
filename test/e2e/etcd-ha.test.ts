// Several skiff servers on one etcd cluster: a real 3-member etcd (Debian's etcd on loopback ports) and three
// `skiff server --disable-agent` processes sharing it, the second and third started with the first one's token
// (k3s's way: the cluster CA is kept in etcd, sealed with the token). SIMULATION: pods run on `skiff simulate`
// nodes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import { eventually, kubectl, kubectlBin, kubectlOk, SimulatedNodesProcess, type TestServer, startServer } from './harness.js';
import { startEtcdCluster, type TestEtcdCluster } from '../helpers/etcd-server.js';
import { RestClient } from '../../src/client/rest-client.js';
import { parseJoinToken } from '../../src/api/bootstrap-token.js';
import { JOIN_PATH, type JoinResponse } from '../../src/apiserver/node-join.js';
import { REVOKED_NODES_NAMESPACE, REVOKED_NODES_SECRET } from '../../src/apiserver/node-revocations.js';
import { Cleanups } from '../helpers/cleanups.js';

/** Shorter than upstream's 15 s / 2 s (set with --leader-elect-*), so a takeover is quick to wait for. */
const leaseDurationMs = 6_000;
const retryPeriodMs = 1_000;
const leaderElect = ['--leader-elect-lease-duration', `${leaseDurationMs / 1000}s`, '--leader-elect-retry-period', `${retryPeriodMs / 1000}s`];

describe('three skiff servers on a three-member etcd cluster', () => {
  let etcd: TestEtcdCluster;
  const servers: TestServer[] = [];
  let sim: SimulatedNodesProcess | undefined;
  const cleanups = new Cleanups();
  const savedLevel = process.env['SKIFF_LOG_LEVEL'];

  before(async () => {
    etcd = await startEtcdCluster();
    cleanups.push(() => etcd.stop());
    // "became leader" lines (info) tell which server's component holds a Lease.
    process.env['SKIFF_LOG_LEVEL'] = 'info';
    try {
      const first = await startServer(['--datastore-endpoint', etcd.datastoreEndpoint, ...leaderElect]);
      cleanups.push(() => first.dispose());
      servers.push(first);
      const token = ['--token-file', join(first.dataDir, 'token')];
      const rest = await Promise.allSettled([1, 2].map(() => startServer(['--datastore-endpoint', etcd.datastoreEndpoint, ...token, ...leaderElect])));
      for (const r of rest) if (r.status === 'fulfilled') { servers.push(r.value); cleanups.push(() => r.value.dispose()); }
      for (const r of rest) if (r.status === 'rejected') throw r.reason;
    } finally {
      if (savedLevel === undefined) delete process.env['SKIFF_LOG_LEVEL'];
      else process.env['SKIFF_LOG_LEVEL'] = savedLevel;
    }
  });
  after(async () => {
    await sim?.stop();
    await cleanups.run();
  });

  const lease = async (via: TestServer, name: string): Promise<Lease> =>
    JSON.parse(await kubectlOk(via, ['get', 'lease', '-n', 'kube-system', name, '-o', 'json'])) as Lease;
  /** The server whose log says its component became leader with this identity. */
  const holderOf = (identity: string): TestServer | undefined => servers.find((s) => s.output.includes(`"identity":"${identity}"`));

  it('the servers share one cluster CA and token: server 1\'s admin credentials work on server 3', async () => {
    const [s1, s2, s3] = servers as [TestServer, TestServer, TestServer];
    const ca = (s: TestServer): string => readFileSync(join(s.dataDir, 'tls', 'ca.crt'), 'utf8');
    assert.equal(ca(s2), ca(s1));
    assert.equal(ca(s3), ca(s1));
    assert.equal(readFileSync(join(s3.dataDir, 'token'), 'utf8'), readFileSync(join(s1.dataDir, 'token'), 'utf8'));
    // kubectl with server 1's kubeconfig, pointed at server 3: TLS and the client certificate are accepted.
    const r = await kubectl(s1, ['--server', s3.url, 'get', 'namespaces', '-o', 'name']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /namespace\/default/);
  });

  it('kubectl through server 1 creates a Deployment; a watch through server 2 sees it at once', async () => {
    const [s1, s2] = servers as [TestServer, TestServer];
    const watch = spawn(kubectlBin(), [`--kubeconfig=${s2.kubeconfig}`, `--cache-dir=${s2.cacheDir}`, 'get', 'deployments', '--watch', '--output-watch-events', '-o', 'jsonpath={.type} {.object.metadata.name}{"\\n"}'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    let seenAt = 0;
    watch.stdout.on('data', (d: Buffer) => {
      seen += d.toString();
      if (!seenAt && seen.includes('ADDED web')) seenAt = Date.now();
    });
    try {
      // A Deployment that exists already shows when the watch is established.
      await kubectlOk(s1, ['create', 'deployment', 'pre', '--image=nginx:1.17.8', '--replicas=0']);
      await eventually(() => seen.includes('ADDED pre'), 10_000, `the watch through server 2 to start (saw ${JSON.stringify(seen)})`);
      assert.ok(!seen.includes('web'), 'no Deployment web yet');
      await kubectlOk(s1, ['create', 'deployment', 'web', '--image=nginx:1.17.8', '--replicas=3']);
      const created = Date.now();
      await eventually(() => seenAt > 0, 5000, `server 2's watch to deliver ADDED web (saw ${JSON.stringify(seen)})`);
      const lag = seenAt - created;
      process.stderr.write(`etcd-ha: server 2's watch saw server 1's create ${lag} ms after kubectl returned\n`);
      assert.ok(lag < 2000, `the watch through server 2 took ${lag} ms`);
    } finally {
      watch.kill('SIGKILL');
    }
    // A consistent read through server 3 has it too.
    assert.equal(await kubectlOk(servers[2]!, ['get', 'deployment', 'web', '-o', 'jsonpath={.spec.replicas}']), '3');
  });

  it('the controller manager and the scheduler each hold one Lease, elected across the servers; one controller acts', async () => {
    const [s1] = servers as [TestServer];
    for (const name of ['kube-controller-manager', 'kube-scheduler']) {
      const l = await eventually(async () => { const x = await lease(s1, name); return x.spec?.holderIdentity ? x : undefined; }, 20_000, `a holder of ${name}`);
      const holder = await eventually(() => holderOf(l.spec!.holderIdentity!), 5000, `the ${name} holder's log line`).catch(() => undefined);
      assert.ok(holder, `the ${name} holder ${l.spec!.holderIdentity} is one of the three servers' components`);
      // Every server runs the component and campaigns: the other two logged no leadership for this lease.
      const leaders = servers.filter((s) => s.output.split('\n').some((line) => line.includes('"became leader"') && line.includes(`"lease":"${name}"`)));
      assert.deepEqual(leaders, [holder], `only the holder of ${name} became leader`);
    }
    // The ReplicaSet controller runs once: exactly 3 pods for 3 replicas, not one set per server.
    await eventually(async () => (await kubectlOk(s1, ['get', 'pods', '-l', 'app=web', '-o', 'name'])).trim().split('\n').filter(Boolean).length === 3, 20_000, 'three pods');
    await new Promise((r) => setTimeout(r, 2000));
    const pods = (await kubectlOk(s1, ['get', 'pods', '-l', 'app=web', '-o', 'name'])).trim().split('\n').filter(Boolean);
    assert.equal(pods.length, 3, `pods: ${pods.join(' ')}`);
    assert.equal((await kubectlOk(s1, ['get', 'rs', '-l', 'app=web', '-o', 'name'])).trim().split('\n').length, 1, 'one ReplicaSet');
  });

  it('kill -9 of the server holding the controller-manager Lease: another takes over within the lease duration, and a rollout completes', async () => {
    const before = await lease(servers[0]!, 'kube-controller-manager');
    assert.equal(before.spec!.leaseDurationSeconds, leaseDurationMs / 1000, '--leader-elect-lease-duration reached the Lease');
    const victim = holderOf(before.spec!.holderIdentity!)!;
    const survivors = servers.filter((s) => s !== victim);
    const via = survivors[0]!;
    // SIMULATION: nodes for the pods, registered through a server that stays up.
    sim = await SimulatedNodesProcess.start(via, ['--nodes', '2', '--prefix', 'ha-', '--heartbeat-interval', '1s']);
    await kubectlOk(via, ['rollout', 'status', 'deployment/web', '--timeout=60s']);

    const last = await lease(via, 'kube-controller-manager');
    await victim.kill();
    const killedAt = Date.now();
    const client = via.client();
    let after: Lease;
    try {
      after = await eventually(async () => {
        const r = await client.request<Lease>('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager');
        return r.status === 200 && r.body.spec?.holderIdentity !== last.spec?.holderIdentity ? r.body : undefined;
      }, leaseDurationMs + retryPeriodMs + 10_000, 'a new holder of kube-controller-manager');
    } finally {
      client.close();
    }
    const takeoverMs = Date.now() - killedAt;
    // (Its "became leader" line may reach us a moment after the Lease write.)
    const newHolder = await eventually(() => holderOf(after.spec!.holderIdentity!), 5000, 'the new holder\'s log line');
    assert.ok(newHolder && survivors.includes(newHolder), 'a surviving server\'s controller manager took the Lease');
    assert.equal(after.spec!.leaseTransitions, (last.spec!.leaseTransitions ?? 0) + 1);
    // The Lease was free only once it had expired: the new holder took it within one retry period after.
    const expiredAt = Date.parse(last.spec!.renewTime!) + leaseDurationMs;
    const acquiredAt = Date.parse(after.spec!.acquireTime!);
    process.stderr.write(`etcd-ha: controller-manager takeover ${takeoverMs} ms after kill -9; acquired ${acquiredAt - expiredAt} ms after the old Lease expired\n`);
    assert.ok(acquiredAt >= expiredAt - 1000, 'not taken before the old holder\'s Lease expired');
    assert.ok(takeoverMs <= leaseDurationMs + retryPeriodMs + 3000, `takeover took ${takeoverMs} ms`);

    // A rollout through a survivor completes: a new ReplicaSet, its pods created and (simulated) running.
    await kubectlOk(via, ['set', 'image', 'deployment/web', 'nginx=nginx:1.19']);
    await kubectlOk(via, ['rollout', 'status', 'deployment/web', '--timeout=90s'], {});
    const rs = JSON.parse(await kubectlOk(via, ['get', 'rs', '-l', 'app=web', '-o', 'json'])) as { items: { spec: { replicas: number; template: { spec: { containers: { image: string }[] } } }; status: { readyReplicas?: number } }[] };
    const current = rs.items.filter((r) => r.spec.template.spec.containers[0]!.image === 'nginx:1.19');
    assert.equal(current.length, 1, 'one new ReplicaSet');
    assert.equal(current[0]!.spec.replicas, 3);
    assert.equal(current[0]!.status.readyReplicas, 3);
    assert.equal(rs.items.filter((r) => r.spec.template.spec.containers[0]!.image === 'nginx:1.17.8')[0]?.spec.replicas, 0, 'the old ReplicaSet scaled down');
  });
  it('deleting a joined node through one server revokes its certificate on every server, one down at the time and one started after included', async () => {
    // After the kill -9 above: the servers still running.
    const live = servers.filter((s) => s.proc && s.proc.exitCode === null && s.proc.signalCode === null);
    assert.ok(live.length >= 2, 'two servers still run');
    const [via, down] = live as [TestServer, TestServer];
    const ca = readFileSync(join(via.dataDir, 'tls', 'ca.crt'), 'utf8');
    const token = parseJoinToken(readFileSync(join(via.dataDir, 'token'), 'utf8'));
    const clients: RestClient[] = [];
    const nodeClient = (s: TestServer, creds: JoinResponse): RestClient => {
      const c = new RestClient({ server: s.url, ca, cert: creds.client.cert, key: creds.client.key, namespace: 'default', insecureSkipTLSVerify: false });
      clients.push(c);
      return c;
    };
    const statusVia = async (s: TestServer, creds: JoinResponse): Promise<number> => (await nodeClient(s, creds).request('GET', '/api/v1/nodes/revoke-me')).status;
    // Credentials only: the POST `skiff agent` makes (src/cli/agent.ts joinCluster), through the second server.
    const joinVia = async (s: TestServer): Promise<JoinResponse> => {
      const c = new RestClient({ server: s.url, ca, namespace: 'default', insecureSkipTLSVerify: false });
      clients.push(c);
      const r = await c.request<JoinResponse>('POST', JOIN_PATH, { body: { nodeName: 'revoke-me', addresses: ['127.0.0.1'] }, headers: { authorization: `Bearer ${token.id}.${token.secret}` } });
      assert.equal(r.status, 200, `join: ${JSON.stringify(r.body)}`);
      return r.body;
    };
    let late: TestServer | undefined;
    try {
      const creds = await joinVia(down);
      const created = await nodeClient(via, creds).request('POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'revoke-me' } } });
      assert.equal(created.status, 201, `the node registers itself: ${JSON.stringify(created.body)}`);
      for (const s of live) assert.equal(await statusVia(s, creds), 200, `the joined node's certificate works on ${s.url}`);
      // Revocation has whole-second precision (certificates carry whole seconds): delete in a later second than the join.
      await new Promise((r) => setTimeout(r, 1100));

      // One server is down when the Node is deleted through another.
      await down.stop();
      await kubectlOk(via, ['delete', 'node', 'revoke-me']);
      const deletedAt = Date.now();
      for (const s of live.filter((x) => x !== down)) {
        await eventually(async () => await statusVia(s, creds) === 401, 10_000, `${s.url} to refuse the deleted node's certificate`);
      }
      process.stderr.write(`etcd-ha: the deleted node's certificate refused by every running server ${Date.now() - deletedAt} ms after kubectl returned\n`);
      const secret = JSON.parse(await kubectlOk(via, ['get', 'secret', '-n', REVOKED_NODES_NAMESPACE, REVOKED_NODES_SECRET, '-o', 'json'])) as { data: Record<string, string> };
      assert.ok(secret.data['revoke-me'], 'the revocation is in the cluster\'s Secret');

      // The server that was down refuses it from the moment it is ready, and so does one that never ran before.
      await down.start();
      assert.equal(await statusVia(down, creds), 401, 'the restarted server refuses it at once');
      late = await startServer(['--datastore-endpoint', etcd.datastoreEndpoint, '--token-file', join(via.dataDir, 'token'), ...leaderElect]);
      assert.equal(await statusVia(late, creds), 401, 'a server started after the deletion refuses it at once');
      const admin = late.client();
      clients.push(admin);
      assert.equal((await admin.request('GET', '/api/v1/nodes')).status, 200, 'the admin still gets in');

      // Joining again under that name gets credentials every server takes.
      const again = await joinVia(late);
      for (const s of [...live, late]) assert.equal(await statusVia(s, again), 404, `the new certificate works on ${s.url} (no Node yet)`);
    } finally {
      for (const c of clients) c.close();
      await late?.dispose();
    }
  });
});

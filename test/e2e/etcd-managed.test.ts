// Managed etcd members: `skiff server --cluster-init` runs Debian's etcd next to itself and makes a cluster;
// `skiff server --server URL --token-file T` adds its own member to it (a learner, then promoted). Three servers
// on loopback form an HA control plane with no separate etcd setup.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { eventually, kubectl, kubectlOk, runSkiff, type TestServer, startServer } from './harness.js';
import { freePort } from '../helpers/registry.js';

/** True while something accepts connections on the port. */
const listening = (port: number): Promise<boolean> => new Promise((resolve) => {
  const s = createConnection({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

describe('managed etcd members: --cluster-init and --server', () => {
  const servers: TestServer[] = [];
  const ports: { client: number; peer: number }[] = [];

  before(async () => {
    for (let i = 0; i < 3; i++) ports.push({ client: await freePort(), peer: await freePort() });
  });
  after(async () => {
    // Gracefully: each server stops its etcd member before its data dir goes.
    for (const s of servers.reverse()) {
      await s.stop().catch(() => {});
      await s.dispose().catch(() => {});
    }
  });

  const etcdArgs = (i: number): string[] => ['--etcd-client-port', String(ports[i]!.client), '--etcd-peer-port', String(ports[i]!.peer)];
  /** An etcd client with a server's etcd client certificate. */
  const etcdClient = (s: TestServer, port: number): Etcd3 => {
    const f = (n: string): Buffer => readFileSync(join(s.dataDir, 'tls', 'etcd', n));
    return new Etcd3({ hosts: `https://127.0.0.1:${port}`, credentials: { rootCertificate: f('ca.crt'), certChain: f('client.crt'), privateKey: f('client.key') } });
  };

  it('three servers make a three-member etcd cluster; the second is warned that two members is an even count', async () => {
    const s1 = await startServer(['--cluster-init', ...etcdArgs(0)]);
    servers.push(s1);
    const token = ['--token-file', join(s1.dataDir, 'token')];
    // Servers join one at a time, as with k3s.
    const s2 = await startServer(['--server', s1.url, ...token, ...etcdArgs(1)]);
    servers.push(s2);
    const s3 = await startServer(['--server', s2.url, ...token, ...etcdArgs(2)]);
    servers.push(s3);
    assert.match(s2.output, /WARNING: the etcd cluster will have 2 voting members: an even number survives no more failures than 1/);
    assert.doesNotMatch(s3.output, /WARNING: the etcd cluster will have/);

    const c = etcdClient(s1, ports[0]!.client);
    try {
      const list = await c.cluster.memberList({});
      assert.equal(list.members.length, 3);
      assert.deepEqual(list.members.map((m) => m.isLearner), [false, false, false], 'every member was promoted');
      assert.deepEqual(list.members.flatMap((m) => m.clientURLs).map((u) => Number(new URL(u).port)).sort(), ports.map((p) => p.client).sort());
    } finally {
      c.close();
    }
    // Nothing talks to etcd without a certificate of its own CA: not even one of the cluster CA (a node's would be).
    const f = (n: string): Buffer => readFileSync(join(s1.dataDir, 'tls', n));
    const intruder = new Etcd3({ hosts: `https://127.0.0.1:${ports[0]!.client}`, credentials: { rootCertificate: f('etcd/ca.crt'), certChain: f('admin.crt'), privateKey: f('admin.key') } });
    try {
      await assert.rejects(intruder.get('/registry/namespaces/default').string());
    } finally {
      intruder.close();
    }

    await kubectlOk(s1, ['create', 'configmap', 'managed', '--from-literal=via=s1']);
    assert.equal(await kubectlOk(s3, ['get', 'configmap', 'managed', '-o', 'jsonpath={.data.via}']), 's1');
  });

  it('a server killed with -9 takes its member down; the other two keep quorum; restarted, it rejoins with its member', async () => {
    const [s1, s2, s3] = servers as [TestServer, TestServer, TestServer];
    await s2.kill();
    await eventually(async () => !(await listening(ports[1]!.client)), 10_000, 'server 2\'s etcd member to stop with it');
    await eventually(async () => (await kubectl(s1, ['create', 'configmap', 'while-s2-down'])).code === 0, 20_000, 'writes with two members of three');
    assert.equal((await kubectlOk(s3, ['get', 'configmap', 'while-s2-down', '-o', 'name'])).trim(), 'configmap/while-s2-down');
    await s2.start();
    assert.equal((await kubectlOk(s2, ['get', 'configmap', 'while-s2-down', '-o', 'name'])).trim(), 'configmap/while-s2-down');
    const c = etcdClient(s2, ports[1]!.client);
    try {
      assert.equal((await c.cluster.memberList({})).members.length, 3, 'no member was added twice');
    } finally {
      c.close();
    }
  });

  it('skiff etcd-member lists the members and removes a gone server\'s (not its own), warning of an even count', async () => {
    const [s1, , s3] = servers as [TestServer, TestServer, TestServer];
    const member = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => runSkiff(['etcd-member', ...args, '--data-dir', s1.dataDir, '--etcd-client-port', String(ports[0]!.client)]);
    const nameOf = (s: TestServer): string => (JSON.parse(readFileSync(join(s.dataDir, 'db', 'etcd-member.json'), 'utf8')) as { name: string }).name;
    const listed = await member(['list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^NAME\s+ID\s+STATUS\s+LEARNER\s+PEER URLS\s+CLIENT URLS\n/);
    for (const s of servers) assert.match(listed.stdout, new RegExp(`^${nameOf(s)}\\s+[0-9a-f]+\\s+started\\s+false\\s+https://`, 'm'));

    const own = await member(['remove', nameOf(s1)]);
    assert.notEqual(own.code, 0);
    assert.match(own.stderr, /is the member this command talks to .*run the removal on another server/);
    const unknown = await member(['remove', 'nobody']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no etcd member named "nobody": the members are /);

    // Server 3 is gone for good: stopped, its member removed from server 1.
    await s3.stop();
    const removed = await member(['remove', nameOf(s3)]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, new RegExp(`removed etcd member ${nameOf(s3)} \\([0-9a-f]+\\); 2 voting members left`));
    assert.match(removed.stderr, /WARNING: 2 voting members is an even number/);
    const after = await member(['list']);
    assert.equal(after.stdout.trim().split('\n').length, 3, after.stdout);
    assert.doesNotMatch(after.stdout, new RegExp(nameOf(s3)));
    await kubectlOk(s1, ['create', 'configmap', 'after-removal']);
  });
});

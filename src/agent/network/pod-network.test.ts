import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, readdir, stat, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CniPodNetwork, type CniPodNetworkOptions } from './pod-network.js';
import { CniError } from './cni.js';
import { attachmentChains } from './iptables.js';
import { masqueradeChain } from './masquerade.js';
import type { SandboxNetworkRequest, SandboxNetwork } from './types.js';
import {
  TEST_PREFIX, recordBaseline, restoreHostGlobals, removeEverythingTagged, startHttpd, httpGet, httpGetEventually, freePort, primaryIPv4,
  type NetnsHttpd,
} from './test-support.js';

const exec = promisify(execFile);
// Everything this file creates carries `tag`, so parallel files and the final sweep never mix things up.
const tag = `${TEST_PREFIX}${process.pid % 100000}p`;
const octet = 100 + (process.pid % 100);
let dir = '';
const networks: CniPodNetwork[] = [];
const httpds: NetnsHttpd[] = [];

function options(suffix: string, cidr: string): CniPodNetworkOptions {
  return { stateDir: join(dir, suffix), netnsPrefix: `${tag}${suffix}`, bridgeName: `${tag}${suffix}`, networkName: `${tag}${suffix}`, podCIDR: cidr };
}
function network(suffix: string, cidr: string, extra: Partial<CniPodNetworkOptions> = {}): CniPodNetwork {
  const n = new CniPodNetwork({ ...options(suffix, cidr), ...extra });
  networks.push(n);
  return n;
}
function req(id: string, portMappings: SandboxNetworkRequest['portMappings'] = []): SandboxNetworkRequest {
  return { id, podName: `pod-${id}`, podNamespace: 'default', podUid: `uid-${id}`, portMappings };
}
async function serve(n: CniPodNetwork, id: string, body: string): Promise<void> {
  httpds.push(await startHttpd(n.netns.name(id), join(dir, 'www', id), body));
}
async function nat(): Promise<string> {
  return (await exec('iptables-save', ['-t', 'nat'])).stdout;
}
async function linkExists(name: string): Promise<boolean> {
  return exec('ip', ['link', 'show', name]).then(() => true, () => false);
}
async function reservations(n: CniPodNetwork, suffix: string): Promise<string[]> {
  return (await readdir(join(dir, suffix, 'ipam', n.networkName)).catch(() => [] as string[])).filter((f) => /^\d/.test(f));
}
/** Asserts that nothing of sandbox `id` of network `n` (state dir `suffix`) is left on the host. */
async function assertGone(n: CniPodNetwork, suffix: string, id: string, veth?: string): Promise<void> {
  const rules = await nat();
  assert.doesNotMatch(rules, new RegExp(`name: \\\\"${n.networkName}\\\\" id: \\\\"${id}\\\\"`), `nat rules of ${id} left`);
  for (const c of attachmentChains(n.networkName, id)) assert.ok(!rules.includes(c), `chain ${c} left`);
  assert.equal(await n.netns.exists(id), false, `netns of ${id} left`);
  assert.equal(n.status(id), undefined, `cached result of ${id} left`);
  assert.deepEqual(await readdir(join(dir, suffix, 'results')).then((f) => f.filter((x) => x.includes(id)), () => []), []);
  if (veth) assert.equal(await linkExists(veth), false, `veth ${veth} left`);
}
function hostVeth(n: CniPodNetwork, id: string, suffix: string): Promise<string> {
  // The host end of the pair is the result's interface without a sandbox that is not the bridge.
  return import('node:fs/promises').then(async ({ readFile }) => {
    const cached = JSON.parse(await readFile(join(dir, suffix, 'results', `${n.networkName}-${id}-eth0`), 'utf8')) as { result: { interfaces: Array<{ name: string; sandbox?: string }> } };
    const v = cached.result.interfaces.find((i) => !i.sandbox && i.name !== n.bridgeName);
    assert.ok(v, 'host veth in result');
    return v.name;
  });
}

before(async () => {
  await recordBaseline();
  dir = await mkdtemp(join(tmpdir(), 'skiff-podnet-'));
});

after(async () => {
  for (const h of httpds) await h.stop();
  for (const n of networks) await n.destroy().catch(() => {});
  await removeEverythingTagged(tag);
  if (dir) await rm(dir, { recursive: true, force: true });
  await restoreHostGlobals();
});

// Network A carries the main scenario; B runs beside it; C is tiny (/30) to exhaust.
const cidrA = `10.${octet}.1.0/24`;
const cidrB = `10.${octet}.2.0/24`;
const cidrC = `10.${octet}.3.0/30`;
let netA: CniPodNetwork;
let a1: SandboxNetwork;
let a2: SandboxNetwork;
let hostPort = 0;

test('two sandboxes get distinct IPs in the CIDR and serve HTTP to the host', async () => {
  netA = network('a', cidrA);
  hostPort = await freePort();
  [a1, a2] = await Promise.all([
    netA.setUp(req('a1', [{ hostPort, containerPort: 80, protocol: 'TCP' }])),
    netA.setUp(req('a2')),
  ]);
  assert.notEqual(a1.ip, a2.ip);
  for (const s of [a1, a2]) {
    assert.ok(netA.podCidr.contains(s.ip), `${s.ip} in ${cidrA}`);
    assert.notEqual(s.ip, netA.podCidr.gateway);
    assert.deepEqual(s.ips, [s.ip]);
    assert.ok((await stat(s.netnsPath)).isFile());
  }
  assert.equal(a1.netnsPath, `/var/run/netns/${tag}a-a1`);
  await serve(netA, 'a1', 'hello from a1');
  await serve(netA, 'a2', 'hello from a2');
  assert.equal(await httpGetEventually(`http://${a1.ip}/`), 'hello from a1');
  assert.equal(await httpGetEventually(`http://${a2.ip}/`), 'hello from a2');
});

test('pod A reaches pod B over the bridge', async () => {
  const { stdout } = await exec('timeout', ['5', 'ip', 'netns', 'exec', netA.netns.name('a1'), 'busybox', 'wget', '-qO-', `http://${a2.ip}/`]);
  assert.equal(stdout, 'hello from a2');
});

test('traffic leaving the pod CIDR is masqueraded by one rule set for the network, not a chain per pod', async () => {
  // An "outside" host in its own namespace, routed through this host: it can answer the host's address
  // on its link, but has no route back to the pod CIDR, so only a masqueraded request gets its reply.
  const ns = `${tag}out`;
  const outside = `10.${octet}.9.2`;
  await exec('ip', ['netns', 'add', ns]);
  await exec('ip', ['link', 'add', `${tag}o0`, 'type', 'veth', 'peer', 'name', `${tag}o1`]);
  await exec('ip', ['link', 'set', `${tag}o1`, 'netns', ns]);
  await exec('ip', ['addr', 'add', `10.${octet}.9.1/30`, 'dev', `${tag}o0`]);
  await exec('ip', ['link', 'set', `${tag}o0`, 'up']);
  await exec('ip', ['-n', ns, 'addr', 'add', `${outside}/30`, 'dev', `${tag}o1`]);
  await exec('ip', ['-n', ns, 'link', 'set', `${tag}o1`, 'up']);
  const www = join(dir, 'www', 'outside');
  await mkdir(join(www, 'cgi-bin'), { recursive: true });
  await writeFile(join(www, 'cgi-bin', 'ip'), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s" "$REMOTE_ADDR"\n');
  await chmod(join(www, 'cgi-bin', 'ip'), 0o755);
  httpds.push(await startHttpd(ns, www, 'outside'));
  const fromPod = async (): Promise<string> => (await exec('timeout', ['5', 'ip', 'netns', 'exec', netA.netns.name('a2'), 'busybox', 'wget', '-qO-', `http://${outside}/cgi-bin/ip`])).stdout;
  let seen = '';
  for (let i = 0; i < 20 && !seen; i++) seen = await fromPod().catch(async () => { await new Promise((r) => setTimeout(r, 100)); return ''; });
  // busybox httpd listens on IPv6 too and reports IPv4 peers as `[::ffff:a.b.c.d]`.
  assert.equal(seen.replace(/^\[::ffff:(.*)\]$/, '$1'), `10.${octet}.9.1`, 'the outside host sees the node, not the pod');
  const rules = await nat();
  const chain = masqueradeChain(netA.networkName);
  assert.match(rules, new RegExp(`-A POSTROUTING -s ${cidrA.replace(/\./g, '\\.')} -m comment --comment "skiff ${netA.networkName} masquerade" -j ${chain}`));
  assert.ok(rules.includes(`-A ${chain} -d ${cidrA} -j RETURN`), 'pod-to-pod traffic keeps its source');
  assert.ok(!rules.includes(attachmentChains(netA.networkName, 'a2')[0]!), 'no per-pod masquerade chain');
  await exec('ip', ['netns', 'del', ns]);
});

test('a hostPort reaches the pod via 127.0.0.1 and via the host\'s primary IP', async () => {
  assert.equal(await httpGet(`http://127.0.0.1:${hostPort}/`), 'hello from a1');
  assert.equal(await httpGet(`http://${await primaryIPv4()}:${hostPort}/`), 'hello from a1');
  // Hairpin: the pod reaches itself through its own hostPort.
  const { stdout } = await exec('timeout', ['5', 'ip', 'netns', 'exec', netA.netns.name('a1'), 'busybox', 'wget', '-qO-', `http://${await primaryIPv4()}:${hostPort}/`]);
  assert.equal(stdout, 'hello from a1');
});

test('setUp is idempotent and status is recovered from disk by a new instance', async () => {
  assert.deepEqual(await netA.setUp(req('a1')), a1);
  assert.deepEqual(netA.status('a1'), a1);
  const restarted = new CniPodNetwork(options('a', cidrA));
  assert.deepEqual(restarted.status('a2'), a2);
  assert.equal(restarted.status('nope'), undefined);
  assert.equal(restarted.status('../etc'), undefined);
});

test('tearDown removes veth, nat chains and rules, IP reservation, netns and cache; twice is a no-op', async () => {
  for (const h of httpds.splice(0)) await h.stop();
  const veth1 = await hostVeth(netA, 'a1', 'a');
  const veth2 = await hostVeth(netA, 'a2', 'a');
  assert.ok(await linkExists(veth1));
  const before = await nat();
  assert.match(before, new RegExp(`dnat name: \\\\"${netA.networkName}\\\\" id: \\\\"a1\\\\"`));
  assert.ok(before.includes(attachmentChains(netA.networkName, 'a1')[1]!), 'portmap\'s DNAT chain');
  assert.equal((await reservations(netA, 'a')).length, 2);
  await netA.tearDown('a1');
  await netA.tearDown('a2');
  await assertGone(netA, 'a', 'a1', veth1);
  await assertGone(netA, 'a', 'a2', veth2);
  assert.deepEqual(await reservations(netA, 'a'), []);
  assert.equal(await httpGet(`http://127.0.0.1:${hostPort}/`, 500), undefined);
  await netA.tearDown('a1');
  await netA.tearDown('never-existed');
});

test('garbageCollect removes sandboxes left behind by a crashed agent and keeps live ones', async () => {
  await netA.setUp(req('g-left', [{ hostPort: await freePort(), containerPort: 80, protocol: 'tcp' }]));
  const kept = await netA.setUp(req('g-live'));
  await netA.setUp(req('g-nons'));
  const vethLeft = await hostVeth(netA, 'g-left', 'a');
  // Worst case of pitfall 10: the namespace vanished behind the agent's back, so bridge's DEL cannot
  // find the pod IP and would leak its masquerade chain.
  await exec('ip', ['netns', 'del', netA.netns.name('g-nons')]);
  // The agent "crashes": a fresh instance with the same options knows only what is on disk.
  const restarted = new CniPodNetwork(options('a', cidrA));
  await restarted.garbageCollect(new Set(['g-live']));
  await assertGone(restarted, 'a', 'g-left', vethLeft);
  await assertGone(restarted, 'a', 'g-nons');
  assert.deepEqual(restarted.status('g-live'), kept);
  assert.equal(await restarted.netns.exists('g-live'), true);
  assert.deepEqual(await reservations(netA, 'a'), [kept.ip]);
  await serve(netA, 'g-live', 'still here');
  assert.equal(await httpGetEventually(`http://${kept.ip}/`), 'still here');
  for (const h of httpds.splice(0)) await h.stop();
  await restarted.garbageCollect(new Set(['g-live'])); // nothing more to do
  assert.deepEqual(restarted.status('g-live'), kept);
});

test('two networks side by side do not interfere; GC of one leaves the other alone', async () => {
  const netB = network('b', cidrB);
  const b1 = await netB.setUp(req('b1', [{ hostPort: await freePort(), containerPort: 80, protocol: 'tcp' }]));
  const a3 = await netA.setUp(req('a3'));
  assert.ok(netB.podCidr.contains(b1.ip) && !netA.podCidr.contains(b1.ip));
  assert.ok(netA.podCidr.contains(a3.ip));
  assert.ok(await linkExists(netA.bridgeName));
  assert.ok(await linkExists(netB.bridgeName));
  // Same sandbox id on both networks: separate namespaces, caches, reservations, chains.
  const dupB = await netB.setUp(req('g-live'));
  assert.ok(netB.podCidr.contains(dupB.ip));
  await serve(netB, 'b1', 'hello from b1');
  assert.equal(await httpGetEventually(`http://${b1.ip}/`), 'hello from b1');

  await netA.garbageCollect(new Set());
  await assertGone(netA, 'a', 'a3');
  await assertGone(netA, 'a', 'g-live');
  assert.deepEqual(await netB.netns.list(), ['b1', 'g-live']);
  assert.deepEqual(netB.status('b1'), b1);
  assert.deepEqual(netB.status('g-live'), dupB);
  const rules = await nat();
  assert.match(rules, new RegExp(`name: \\\\"${netB.networkName}\\\\" id: \\\\"b1\\\\"`));
  assert.match(rules, new RegExp(`dnat name: \\\\"${netB.networkName}\\\\" id: \\\\"b1\\\\"`));
  assert.ok(rules.includes(`-j ${masqueradeChain(netB.networkName)}`) && rules.includes(`-j ${masqueradeChain(netA.networkName)}`), 'each network keeps its masquerade');
  assert.equal(await httpGet(`http://${b1.ip}/`), 'hello from b1');
  for (const h of httpds.splice(0)) await h.stop();
  await netB.tearDown('b1');
  await netB.tearDown('g-live');
  await assertGone(netB, 'b', 'b1');
  await assertGone(netB, 'b', 'g-live');
  await netB.destroy();
  const after = await nat();
  assert.ok(!after.includes(masqueradeChain(netB.networkName)), 'destroy removes the network\'s masquerade');
  assert.ok(after.includes(`-j ${masqueradeChain(netA.networkName)}`), 'and leaves the other network\'s alone');
  assert.equal(await linkExists(netB.bridgeName), false);
});

test('CNI errors surface clearly and a failed setUp leaves nothing behind', async () => {
  // A /30 has one address once the bridge takes the gateway.
  const netC = network('c', cidrC);
  const c1 = await netC.setUp(req('c1'));
  assert.equal(c1.ip, `10.${octet}.3.2`);
  await assert.rejects(netC.setUp(req('c2')), (e: unknown) => {
    assert.ok(e instanceof CniError, String(e));
    assert.equal(e.plugin, 'bridge');
    assert.equal(e.command, 'ADD');
    assert.match(e.message, new RegExp(`network "${netC.networkName}".*no IP addresses available in range set`));
    return true;
  });
  await assertGone(netC, 'c', 'c2');
  assert.deepEqual(await netC.netns.list(), ['c1']);
  await netC.tearDown('c1');

  const bogus = network('d', `10.${octet}.4.0/24`, { cniBinDir: join(dir, 'no-plugins-here') });
  await assert.rejects(bogus.setUp(req('d1')), /CNI ADD of network "cni-loopback" failed in plugin "loopback".*ENOENT.*containernetworking-plugins/);
  assert.deepEqual(await bogus.netns.list(), []);

  assert.throws(() => network('e', cidrA, { bridgeName: 'a-much-too-long-name' }), /bridge name/);
  assert.throws(() => network('e', 'fd00::/64'), /IPv4 CIDR/);
  await assert.rejects(netC.setUp(req('../x')), /invalid sandbox id/);
});

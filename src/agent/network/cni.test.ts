import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir, readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CniClient, CniError, pluginStdin, cniArgs } from './cni.js';
import type { CniNetworkConfigList, CniRuntimeConf } from './cni-types.js';
import { NetnsManager } from './netns.js';
import { loopbackConflist } from './conflist.js';
import { TEST_PREFIX, recordBaseline, restoreHostGlobals, removeEverythingTagged } from './test-support.js';

const exec = promisify(execFile);
const tag = `${TEST_PREFIX}${process.pid % 100000}c`;
let dir = '';

before(async () => {
  await recordBaseline();
  dir = await mkdtemp(join(tmpdir(), 'skiff-cni-'));
});
after(async () => {
  await removeEverythingTagged(tag);
  if (dir) await rm(dir, { recursive: true, force: true });
  await restoreHostGlobals();
});

const rt = (over: Partial<CniRuntimeConf> = {}): CniRuntimeConf => ({
  containerId: 'c1',
  netns: '/var/run/netns/none',
  ifName: 'eth0',
  args: [['K8S_POD_NAMESPACE', 'default'], ['K8S_POD_NAME', 'p']],
  capabilityArgs: {},
  ...over,
});

test('plugin stdin: name and version added, capabilities consumed, runtimeConfig only where declared, prevResult', () => {
  const list: CniNetworkConfigList = {
    cniVersion: '1.0.0',
    name: 'n',
    plugins: [{ type: 'bridge', bridge: 'br' }, { type: 'portmap', capabilities: { portMappings: true, bandwidth: false }, snat: true }],
  };
  const pm = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }];
  const r = rt({ capabilityArgs: { portMappings: pm, bandwidth: { rate: 1 } } });
  const cases: Array<[number, object | undefined, Record<string, unknown>]> = [
    [0, undefined, { type: 'bridge', bridge: 'br', cniVersion: '1.0.0', name: 'n' }],
    [1, { ips: [] }, { type: 'portmap', snat: true, cniVersion: '1.0.0', name: 'n', runtimeConfig: { portMappings: pm }, prevResult: { ips: [] } }],
  ];
  for (const [i, prev, want] of cases) assert.deepEqual(pluginStdin(list, list.plugins[i]!, r, prev), want);
  // A declared capability the runtime has no value for adds no runtimeConfig at all.
  assert.deepEqual(pluginStdin(list, list.plugins[1]!, rt(), undefined), { type: 'portmap', snat: true, cniVersion: '1.0.0', name: 'n' });
});

test('CNI_ARGS starts with IgnoreUnknown and refuses separators inside values', () => {
  assert.equal(cniArgs([['K8S_POD_NAME', 'web'], ['K8S_POD_UID', 'u-1']]), 'IgnoreUnknown=1;K8S_POD_NAME=web;K8S_POD_UID=u-1');
  assert.throws(() => cniArgs([['K8S_POD_NAME', 'a;b']]), /may not contain/);
  assert.throws(() => cniArgs([['K', 'a=b']]), /may not contain/);
});

// host-local run as a top-level plugin needs no namespace: a real plugin exercising ADD, the result
// cache, DEL with prevResult, and a plugin error, while touching nothing on the host but files.
function ipamList(dataDir: string, subnet: string, gateway: string): CniNetworkConfigList {
  return {
    cniVersion: '1.0.0',
    name: `${tag}-ipam`,
    plugins: [{ type: 'host-local', ipam: { type: 'host-local', ranges: [[{ subnet, gateway }]], dataDir } }],
  };
}

test('ADD caches the result per (network, container, ifname); DEL releases and removes it', async () => {
  const cni = new CniClient({ binDir: '/usr/lib/cni', cacheDir: join(dir, 'results1') });
  const list = ipamList(join(dir, 'ipam1'), '10.255.0.0/30', '10.255.0.1');
  const res = await cni.add(list, rt());
  assert.equal(res.ips?.[0]?.address, '10.255.0.2/30');
  const cached = cni.cached(list.name, 'c1', 'eth0');
  assert.deepEqual(cached?.result, res);
  assert.deepEqual(cached?.config, list);
  assert.deepEqual(await readdir(join(dir, 'results1')), [`${list.name}-c1-eth0`]);
  assert.equal((await readFile(join(dir, 'ipam1', list.name, '10.255.0.2'), 'utf8')).split(/\r?\n/)[0], 'c1');
  await cni.del(list, rt());
  assert.equal(cni.cached(list.name, 'c1', 'eth0'), undefined);
  assert.deepEqual((await readdir(join(dir, 'ipam1', list.name))).filter((f) => f.startsWith('10.')), []);
  await cni.del(list, rt()); // DEL twice is fine: plugins and client are idempotent
});

test('a plugin\'s {code,msg} error becomes a CniError naming network, plugin and command (exhausted range)', async () => {
  const cni = new CniClient({ binDir: '/usr/lib/cni', cacheDir: join(dir, 'results2') });
  // A /30 with its gateway taken leaves exactly one address.
  const list = ipamList(join(dir, 'ipam2'), '10.255.0.4/30', '10.255.0.5');
  await cni.add(list, rt({ containerId: 'first' }));
  const err = await cni.add(list, rt({ containerId: 'second' })).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof CniError, String(err));
  assert.equal(err.plugin, 'host-local');
  assert.equal(err.command, 'ADD');
  assert.equal(err.network, list.name);
  assert.match(err.message, /no IP addresses available in range set/);
  assert.match(err.message, new RegExp(`CNI ADD of network "${list.name}" failed in plugin "host-local" \\(container second\\)`));
  assert.equal(cni.cached(list.name, 'second', 'eth0'), undefined);
  await cni.del(list, rt({ containerId: 'first' }));
});

test('a missing plugin binary is a clear CniError that names the package', async () => {
  const cni = new CniClient({ binDir: join(dir, 'no-such-bin'), cacheDir: join(dir, 'results3') });
  await assert.rejects(cni.add(loopbackConflist(), rt()), (e: unknown) => {
    assert.ok(e instanceof CniError);
    assert.equal(e.plugin, 'loopback');
    assert.match(e.message, /no-such-bin\/loopback: ENOENT.*containernetworking-plugins/);
    return true;
  });
});

test('a plugin that outlives its timeout is killed and reported', async () => {
  // No real plugin hangs on demand, so give a real one a budget no Go binary can meet.
  const cni = new CniClient({ binDir: '/usr/lib/cni', cacheDir: join(dir, 'results4'), timeoutMs: 1 });
  await assert.rejects(cni.add(ipamList(join(dir, 'ipam4'), '10.255.0.8/30', '10.255.0.9'), rt()), /failed in plugin "host-local" \(container c1\): timed out after 1 ms/);
});

test('loopback ADD brings lo up inside a real namespace; CHECK passes; DEL after it', async () => {
  const ns = new NetnsManager(tag);
  const path = await ns.add('lo1');
  try {
    const cni = new CniClient({ binDir: '/usr/lib/cni', cacheDir: join(dir, 'results5') });
    const conf = rt({ containerId: 'lo1', netns: path, ifName: 'lo' });
    const res = await cni.add(loopbackConflist(), conf);
    assert.equal(res.interfaces?.[0]?.name, 'lo');
    const { stdout } = await exec('ip', ['netns', 'exec', ns.name('lo1'), 'ip', '-o', 'link', 'show', 'lo']);
    assert.match(stdout, /<LOOPBACK,UP,LOWER_UP>/);
    await cni.check(loopbackConflist(), conf);
    await cni.del(loopbackConflist(), conf);
    assert.equal(cni.cached(loopbackConflist().name, 'lo1', 'lo'), undefined);
  } finally {
    await ns.delete('lo1');
  }
});

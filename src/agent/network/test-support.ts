/**
 * Helpers for the network tests (not used by the agent): host snapshots and restoring the host-wide
 * state the CNI plugins leave behind by design (runtime.md §3.5, pitfall 11), so a test run leaves the
 * machine as it found it. Several test files run in parallel; the baseline is therefore taken once, by
 * whichever file starts first, and restored by whichever finishes last (each running file holds a
 * marker file naming its pid).
 */
import { readFile, writeFile, rm, readdir, rmdir } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { networkInterfaces } from 'node:os';
import { NETNS_DIR } from './netns.js';

const exec = promisify(execFile);

/** Every test prefix, bridge and network name starts with this, so "is a test still running" is one check. */
export const TEST_PREFIX = 'skt';

const BASELINE_FILE = '/tmp/skiff-network-tests.baseline.json';

/** What the tests may change on the host, in comparable form. */
export interface HostSnapshot {
  readonly netns: string[];
  readonly links: string[];
  /** `iptables-save -t nat` without comments and counters. */
  readonly nat: string;
  readonly ipForward: string;
  readonly nftTables: string[];
  readonly netnsDirExists: boolean;
}

async function sh(file: string, args: string[]): Promise<string> {
  try {
    return (await exec(file, args, { timeout: 15_000 })).stdout;
  } catch (e) {
    return (e as { stdout?: string }).stdout ?? '';
  }
}

/** Reads the host state a network test may touch. */
export async function hostSnapshot(): Promise<HostSnapshot> {
  let netns: string[] = [];
  let netnsDirExists = true;
  try {
    netns = (await readdir(NETNS_DIR)).sort();
  } catch {
    netnsDirExists = false;
  }
  const links = (await sh('ip', ['-o', 'link', 'show'])).split('\n').map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '').filter(Boolean).sort();
  const nat = (await sh('iptables-save', ['-t', 'nat'])).split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/, '')).join('\n');
  const ipForward = (await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim();
  const nftTables = (await sh('nft', ['list', 'tables'])).split('\n').map((l) => l.replace(/^table /, '').trim()).filter(Boolean).sort();
  return { netns, links, nat, ipForward, nftTables, netnsDirExists };
}

/** Marks this test process as using the host network, so no other file restores globals under it. */
function markerFile(pid: number): string {
  return `${MARKER_PREFIX}${pid}`;
}
const MARKER_PREFIX = '/tmp/skiff-network-tests.active.';

/**
 * Call in `before`: records the pre-test host state unless another running test file already did, and
 * registers this process as active until {@link restoreHostGlobals}.
 */
export async function recordBaseline(): Promise<void> {
  await withHostLock(async () => {
    await writeFile(markerFile(process.pid), String(process.pid));
    const snap = await hostSnapshot();
    try {
      await writeFile(BASELINE_FILE, JSON.stringify(snap), { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  });
}

const LOCK_FILE = '/tmp/skiff-network-tests.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Serialises baseline recording and restoring across test processes: without it a file could register
 * while another is restoring, find the old baseline, and then see it deleted under it. A lock held by a
 * dead process is broken; after 20 s the caller goes ahead unlocked rather than hang the run.
 */
async function withHostLock<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 20_000;
  let held = false;
  while (!held) {
    try {
      await writeFile(LOCK_FILE, String(process.pid), { flag: 'wx' });
      held = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(await readFile(LOCK_FILE, 'utf8').catch(() => ''));
      if (holder > 0 && !alive(holder)) {
        await rm(LOCK_FILE, { force: true });
        continue;
      }
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    return await fn();
  } finally {
    if (held) await rm(LOCK_FILE, { force: true });
  }
}

/** Whether another live test process is registered (markers of dead processes are stale and ignored). */
async function othersActive(): Promise<boolean> {
  for (const name of await readdir('/tmp')) {
    const full = `/tmp/${name}`;
    if (!full.startsWith(MARKER_PREFIX)) continue;
    const pid = Number(full.slice(MARKER_PREFIX.length));
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (alive(pid)) return true;
    await rm(full, { force: true }); // a crashed test process's marker
  }
  return false;
}

/** The host's primary IPv4 address (the source of its default route). */
export async function primaryIPv4(): Promise<string> {
  const m = /\bsrc (\d+\.\d+\.\d+\.\d+)/.exec(await sh('ip', ['-4', 'route', 'get', '1.1.1.1']));
  if (m?.[1]) return m[1];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  throw new Error('no primary IPv4 address');
}

/**
 * When no test namespace or bridge is left anywhere (every test file is done), puts back what the
 * plugins changed host-wide and the baseline did not have: the shared `CNI-HOSTPORT-*` chains (only if
 * no attachment uses them), nft tables left empty, `ip_forward`, and the `/run/netns` mount `ip netns
 * add` creates. Does nothing while any foreign bridge or namespace exists, so it never pulls the rug
 * from another agent on the host. Call in every file's `after`, after the file's own cleanup.
 */
export async function restoreHostGlobals(): Promise<void> {
  await withHostLock(() => restoreUnlocked());
}

async function restoreUnlocked(): Promise<void> {
  await rm(markerFile(process.pid), { force: true });
  if (await othersActive()) return; // the last test file to finish restores
  let base: HostSnapshot;
  try {
    base = JSON.parse(await readFile(BASELINE_FILE, 'utf8')) as HostSnapshot;
  } catch {
    return;
  }
  const now = await hostSnapshot();
  const newNetns = now.netns.filter((n) => !base.netns.includes(n));
  const newLinks = now.links.filter((l) => !base.links.includes(l));
  if (newNetns.length > 0 || newLinks.length > 0) return; // a test (ours or someone's) is still running
  if (!base.nat.includes('CNI-HOSTPORT-DNAT') && now.nat.includes(':CNI-HOSTPORT-DNAT')) {
    const lines = now.nat.split('\n');
    const inUse = lines.some((l) => /^-A CNI-HOSTPORT-DNAT /.test(l)) || lines.some((l) => /^:CNI-(?!HOSTPORT-)/.test(l));
    if (!inUse) {
      const shared = ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SETMARK'].filter((c) => now.nat.includes(`:${c} `));
      const jumps = lines.filter((l) => /^-A (PREROUTING|OUTPUT|POSTROUTING|INPUT) /.test(l) && shared.some((c) => l.endsWith(`-j ${c}`)));
      const script = ['*nat', ...jumps.map((l) => l.replace(/^-A /, '-D ')), ...shared.map((c) => `-F ${c}`), ...shared.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
      await new Promise<void>((resolve) => {
        const child = execFile('iptables-restore', ['--noflush'], { timeout: 15_000 }, () => resolve());
        child.stdin?.end(script);
      });
    }
  }
  const ruleset = JSON.parse((await sh('nft', ['-j', 'list', 'ruleset'])) || '{"nftables":[]}') as { nftables: Array<Record<string, { family?: string; table?: string; name?: string }>> };
  const ruleCount = new Map<string, number>();
  for (const o of ruleset.nftables) {
    if (o['table']) ruleCount.set(`${o['table'].family} ${o['table'].name}`, ruleCount.get(`${o['table'].family} ${o['table'].name}`) ?? 0);
    if (o['rule']) ruleCount.set(`${o['rule'].family} ${o['rule'].table}`, (ruleCount.get(`${o['rule'].family} ${o['rule'].table}`) ?? 0) + 1);
  }
  for (const [table, rules] of ruleCount) {
    if (rules === 0 && !base.nftTables.includes(table)) await sh('nft', ['delete', 'table', ...table.split(' ')]);
  }
  if (now.ipForward !== base.ipForward) await writeFile('/proc/sys/net/ipv4/ip_forward', base.ipForward);
  if (!base.netnsDirExists && now.netnsDirExists && now.netns.length === 0) {
    await sh('umount', [NETNS_DIR]);
    await rmdir(NETNS_DIR).catch(() => {});
  }
  await rm(BASELINE_FILE, { force: true });
}

/** A busybox httpd serving one page inside a network namespace; `stop` kills it (by its own pid). */
export interface NetnsHttpd {
  readonly stop: () => Promise<void>;
}

/**
 * Starts `busybox httpd` in the namespace `nsName` serving `body` at `/`. Spawned async (it runs until
 * stopped); `ip netns exec` execs into busybox, so the child's pid is httpd's.
 */
export async function startHttpd(nsName: string, dir: string, body: string): Promise<NetnsHttpd> {
  const { mkdir } = await import('node:fs/promises');
  const { spawn } = await import('node:child_process');
  await mkdir(dir, { recursive: true });
  await writeFile(`${dir}/index.html`, body);
  const child = spawn('ip', ['netns', 'exec', nsName, 'busybox', 'httpd', '-f', '-p', '80', '-h', dir], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => {});
  return {
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** GET `url` with a short timeout; the body, or undefined when nothing answered. */
export async function httpGet(url: string, timeoutMs = 2000): Promise<string | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return await r.text();
  } catch {
    return undefined;
  }
}

/** Polls {@link httpGet} until it answers or `totalMs` passes (a fresh httpd needs a moment to bind). */
export async function httpGetEventually(url: string, totalMs = 5000): Promise<string | undefined> {
  const end = Date.now() + totalMs;
  for (;;) {
    const body = await httpGet(url, 1000);
    if (body !== undefined || Date.now() > end) return body;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP port nothing listens on right now (the kernel picks it). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '0.0.0.0', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Last-resort cleanup for a test file: deletes namespaces and links whose names start with `tag`, and nat
 * rules whose CNI comment names a network starting with `tag`, with their per-attachment chains.
 */
export async function removeEverythingTagged(tag: string): Promise<void> {
  let names: string[] = [];
  try {
    names = await readdir(NETNS_DIR);
  } catch {
    /* no namespaces */
  }
  for (const n of names) if (n.startsWith(tag)) await sh('ip', ['netns', 'del', n]);
  const links = (await sh('ip', ['-o', 'link', 'show'])).split('\n').map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '');
  for (const l of links) if (l.startsWith(tag)) await sh('ip', ['link', 'del', l]);
  const { parseNatRules, attachmentChains } = await import('./iptables.js');
  const saved = await sh('iptables-save', ['-t', 'nat']);
  const table = parseNatRules(saved);
  // Masquerade jumps of tagged networks (masquerade.ts), with the chains they jump to.
  const masq = saved.split('\n').filter((l) => l.startsWith('-A POSTROUTING ') && l.includes(`--comment "skiff ${tag}`));
  const rules = table.cniRules.filter((r) => r.network.startsWith(tag));
  if (rules.length === 0 && masq.length === 0) return;
  const chains = new Set<string>();
  for (const r of rules) {
    if (r.target) chains.add(r.target);
    for (const c of attachmentChains(r.network, r.containerId)) if (table.chains.has(c)) chains.add(c);
  }
  for (const l of masq) chains.add(l.slice(l.lastIndexOf(' -j ') + 4));
  const script = ['*nat', ...rules.map((r) => `-D ${r.chain} ${r.spec}`), ...masq.map((l) => l.replace(/^-A /, '-D ')), ...[...chains].map((c) => `-F ${c}`), ...[...chains].map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
  await new Promise<void>((resolve) => {
    const child = execFile('iptables-restore', ['--noflush'], { timeout: 15_000 }, () => resolve());
    child.stdin?.end(script);
  });
}

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadKubeconfig } from '../../src/client/kubeconfig.js';
import { RestClient } from '../../src/client/rest-client.js';
import { testImages } from '../helpers/test-images.js';
import { startRegistry } from '../helpers/registry.js';
import { recordBaseline, restoreHostGlobals } from '../../src/agent/network/test-support.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');

/** A `skiff server` process started for one test file: its own data dir, a free port, the real binary. */
export class TestServer {
  proc: ChildProcess | undefined;
  url = '';
  output = '';
  readonly kubeconfig: string;
  readonly cacheDir: string;

  /** Set by startServerWithAgent: the agent runs, and dispose() cleans the host up after it. */
  withAgent = false;
  releaseSubnet: (() => void) | undefined;
  /** The agent's node name and kubelet-style root dir (with an agent). */
  nodeName = '';
  rootDir = '';

  constructor(readonly dataDir: string, readonly extraArgs: string[] = []) {
    this.kubeconfig = join(dataDir, 'kubeconfig.yaml');
    this.cacheDir = join(dataDir, 'kubectl-cache');
  }

  /** Starts the server and waits for its "ready" line; reuses the port across restarts. */
  async start(): Promise<void> {
    const port = this.url ? new URL(this.url).port : '0';
    const proc = spawn(process.execPath, [cli, 'server', '--data-dir', this.dataDir, '--https-listen-port', port, '--bind-address', '127.0.0.1', ...this.extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SKIFF_LOG_LEVEL: process.env['SKIFF_LOG_LEVEL'] ?? 'warn' },
    });
    this.proc = proc;
    await new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`skiff server did not become ready in 20s:\n${this.output}`)), 20_000);
      const onData = (d: Buffer): void => {
        this.output += d.toString();
        const m = /ready in [\d.]+s — (https:\/\/[^\s]+)/.exec(this.output);
        if (m) {
          clearTimeout(timer);
          this.url = m[1]!;
          resolveReady();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', (d: Buffer) => { this.output += d.toString(); });
      proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`skiff server exited with ${code}:\n${this.output}`)); });
    });
    this.proc.removeAllListeners('exit');
  }

  /** A REST client authenticated as the admin. */
  client(): RestClient {
    return new RestClient(loadKubeconfig(this.kubeconfig));
  }

  /** Graceful stop (SIGTERM), waiting for exit. */
  async stop(): Promise<void> {
    await this.#signal('SIGTERM');
  }

  /** Abrupt stop (SIGKILL), as a crash. */
  async kill(): Promise<void> {
    await this.#signal('SIGKILL');
  }

  async #signal(sig: NodeJS.Signals): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill(sig);
    });
  }

  /** Stops the server and removes its data dir (and, with an agent, every container and network it made). */
  async dispose(): Promise<void> {
    await this.kill();
    if (this.withAgent) {
      // Containers outlive the server by design: take them, their networks and mounts down explicitly.
      try {
        execFileSync(process.execPath, [cli, 'killall', '--data-dir', this.dataDir], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SKIFF_LOG_LEVEL: 'warn' } });
      } catch (e) {
        process.stderr.write(`skiff killall failed: ${(e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message}\n`);
      }
      this.releaseSubnet?.();
      // The last test file with pod networks puts back what the CNI plugins changed host-wide.
      await restoreHostGlobals();
    }
    // For post-mortems of flaky runs: SKIFF_TEST_SERVER_LOGS=DIR keeps every server's output.
    const keep = process.env['SKIFF_TEST_SERVER_LOGS'];
    if (keep) writeFileSync(join(keep, `${basename(this.dataDir)}.log`), this.output);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Starts a fresh server (no node agent) in a new temporary data dir. */
export async function startServer(extraArgs: string[] = []): Promise<TestServer> {
  return started(new TestServer(mkdtempSync(join(tmpdir(), 'skiff-e2e-')), ['--disable-agent', ...extraArgs]));
}

/**
 * Starts `s`; one that does not come up is disposed of (its process and data dir) before the error goes on — the
 * etcd tests start servers while members are down and must not leave anything behind when one fails.
 */
async function started(s: TestServer): Promise<TestServer> {
  try {
    await s.start();
  } catch (e) {
    await s.dispose();
    throw e;
  }
  return s;
}

/**
 * A pod subnet no other test process on this machine holds (10.200.N.0/24), claimed with an exclusive
 * lock file so test files can run side by side; released by calling the returned function.
 */
export function claimPodSubnet(): { cidr: string; release: () => void } {
  const dir = join(tmpdir(), 'skiff-test-subnets');
  mkdirSync(dir, { recursive: true });
  const start = process.pid % 200;
  for (let i = 0; i < 250; i++) {
    const n = 1 + ((start + i) % 250);
    const lock = join(dir, String(n));
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return { cidr: `10.200.${n}.0/24`, release: () => rmSync(lock, { force: true }) };
    } catch {
      // Held: by a live process, or left by a dead one.
      const pid = Number(readFileSync(lock, 'utf8'));
      let alive = true;
      try { process.kill(pid, 0); } catch { alive = false; }
      if (!alive) { rmSync(lock, { force: true }); i--; }
    }
  }
  throw new Error('no free test pod subnet');
}

/**
 * Starts a server with its node agent on this machine: its own node name, pod subnet, kubelet root
 * dir and log dir; the offline test images both dropped in for import and served by a real registry on
 * 127.0.0.1 that mirrors docker.io (so `image: nginx`, whose pull policy is Always, pulls as it would
 * online). dispose() runs `skiff killall` and stops the registry.
 */
export async function startServerWithAgent(extraArgs: string[] = []): Promise<TestServer> {
  const images = testImages();
  await recordBaseline();
  const dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-'));
  const subnet = claimPodSubnet();
  mkdirSync(join(dataDir, 'images'), { recursive: true });
  copyFileSync(images.archive, join(dataDir, 'images', 'test-images.tar'));
  const registry = await startRegistry();
  const pushes: [string, string, string][] = [
    [images.layouts.busybox, 'latest', 'library/busybox:latest'], [images.layouts.debian, 'latest', 'library/debian:latest'],
    ...images.tags.nginx.map((t): [string, string, string] => [images.layouts.nginx, t, `library/nginx:${t}`]),
    [images.layouts.cpwar, 'v2', 'xxx/cpwar:v2'], [images.layouts.tomcat, '7.0', 'xxx/tomcat:7.0'],
  ];
  // Tags of one repository go one after the other: concurrent uploads of the same blobs into one
  // repository race in the registry ("manifest blob unknown").
  const byRepo = new Map<string, [string, string, string][]>();
  for (const p of pushes) byRepo.set(p[2].split(':')[0]!, [...(byRepo.get(p[2].split(':')[0]!) ?? []), p]);
  await Promise.all([...byRepo.values()].map(async (group) => { for (const [layout, tag, dest] of group) await registry.push(layout, tag, dest); }));
  writeFileSync(join(dataDir, 'registries.yaml'), `mirrors:\n  docker.io:\n    endpoint:\n    - ${registry.url}\n`);
  const nodeName = `node-${basename(dataDir).slice(-6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
  const s = new TestServer(dataDir, [
    '--node-name', nodeName, '--root-dir', join(dataDir, 'kubelet'), '--pod-log-dir', join(dataDir, 'pod-logs'), '--pod-cidr', subnet.cidr, '--kubelet-port', '0', ...extraArgs,
  ]);
  s.withAgent = true;
  s.releaseSubnet = () => { subnet.release(); void registry.stop(); };
  s.nodeName = nodeName;
  s.rootDir = join(dataDir, 'kubelet');
  return started(s);
}

/** Path of a kubectl binary: the dispatcher on PATH, or a pinned version (`1.27` … `1.33`) next to it. */
export function kubectlBin(version?: string): string {
  const onPath = execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim();
  if (!version) return onPath;
  let real = onPath;
  try { real = realpathSync(onPath); } catch { real = readlinkSync(onPath); }
  return join(dirname(real), `kubectl.${version}`);
}

export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real kubectl against a test server (its own kubeconfig and discovery cache). */
export function kubectl(server: TestServer, args: string[], opts: { input?: string; bin?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
  return new Promise((resolveRun, reject) => {
    const p = spawn(opts.bin ?? kubectlBin(), [`--kubeconfig=${server.kubeconfig}`, `--cache-dir=${server.cacheDir}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`kubectl ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`)); }, opts.timeoutMs ?? 30_000);
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (code) => { clearTimeout(timer); resolveRun({ code: code ?? -1, stdout, stderr }); });
    p.stdin.end(opts.input ?? '');
  });
}

/** Runs kubectl and fails with its output unless it exits 0. */
export async function kubectlOk(server: TestServer, args: string[], opts: { input?: string; bin?: string } = {}): Promise<string> {
  const r = await kubectl(server, args, opts);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** Writes a manifest into the server's data dir and returns its path. */
export function manifest(server: TestServer, name: string, yaml: string): string {
  const p = join(server.dataDir, name);
  writeFileSync(p, yaml);
  return p;
}

/** The tutorial's example manifests. */
export const examplesDir = join(root, 'test', 'e2e', 'manifests');

/** Polls `check` until it returns a truthy value or `ms` pass. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, ms = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A `skiff simulate` process (SIMULATION: nodes that run no containers) joined to a test server. */
export class SimulatedNodesProcess {
  proc: ChildProcess | undefined;
  output = '';

  /** Starts it and waits until its nodes are registered. */
  static async start(server: TestServer, args: string[]): Promise<SimulatedNodesProcess> {
    const s = new SimulatedNodesProcess();
    const proc = spawn(process.execPath, [cli, 'simulate', '--kubeconfig', server.kubeconfig, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SKIFF_LOG_LEVEL: 'warn' },
    });
    s.proc = proc;
    await new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`skiff simulate did not become ready:\n${s.output}`)), 30_000);
      proc.stdout!.on('data', (d: Buffer) => {
        s.output += d.toString();
        if (/simulated node\(s\) ready/.test(s.output)) { clearTimeout(timer); resolveReady(); }
      });
      proc.stderr!.on('data', (d: Buffer) => { s.output += d.toString(); });
      proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`skiff simulate exited with ${code}:\n${s.output}`)); });
    });
    proc.removeAllListeners('exit');
    return s;
  }

  /** Stops it (SIGTERM: it removes its nodes). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((r) => { p.once('exit', () => r()); p.kill('SIGTERM'); });
  }
}

/** Runs `skiff ARGS`, collecting its output (warnings and errors only in its log). */
export function runSkiff(args: string[]): Promise<KubectlResult> {
  return new Promise((resolveRun, reject) => {
    const p = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SKIFF_LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('error', reject);
    p.on('close', (code) => resolveRun({ code: code ?? -1, stdout, stderr }));
  });
}

/** Runs a `skiff` command (explain-pending, what-if, ...) against a test server. */
export function skiff(server: TestServer, args: string[]): Promise<KubectlResult> {
  return runSkiff([...args, '--kubeconfig', server.kubeconfig]);
}

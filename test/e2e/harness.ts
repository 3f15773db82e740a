import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync, writeFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadKubeconfig } from '../../src/client/kubeconfig.js';
import { RestClient } from '../../src/client/rest-client.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');

/** A `skiff server` process started for one test file: its own data dir, a free port, the real binary. */
export class TestServer {
  proc: ChildProcess | undefined;
  url = '';
  output = '';
  readonly kubeconfig: string;
  readonly cacheDir: string;

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

  /** Stops the server and removes its data dir. */
  async dispose(): Promise<void> {
    await this.kill();
    // For post-mortems of flaky runs: SKIFF_TEST_SERVER_LOGS=DIR keeps every server's output.
    const keep = process.env['SKIFF_TEST_SERVER_LOGS'];
    if (keep) writeFileSync(join(keep, `${basename(this.dataDir)}.log`), this.output);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Starts a fresh server in a new temporary data dir. */
export async function startServer(extraArgs: string[] = []): Promise<TestServer> {
  const s = new TestServer(mkdtempSync(join(tmpdir(), 'skiff-e2e-')), extraArgs);
  await s.start();
  return s;
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

/** Runs a `skiff` command (explain-pending, what-if, ...) against a test server. */
export function skiff(server: TestServer, args: string[]): Promise<KubectlResult> {
  return new Promise((resolveRun, reject) => {
    const p = spawn(process.execPath, [cli, ...args, '--kubeconfig', server.kubeconfig], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('error', reject);
    p.on('close', (code) => resolveRun({ code: code ?? -1, stdout, stderr }));
  });
}

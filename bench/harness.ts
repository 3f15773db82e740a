/** What the benchmarks share: a `skiff server` child process, /proc readings, bounded parallelism. */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { claimPodSubnet } from '../test/e2e/harness.js';
import { testImages } from '../test/helpers/test-images.js';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** CPU seconds a process has used (user + system, all its threads), from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident memory of a process in MB (one decimal). */
export function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

export interface BenchServer {
  readonly pid: number;
  readonly dataDir: string;
  readonly kubeconfig: string;
  /** What the server printed on stdout before it was ready (its ready line included). */
  readonly banner: string;
  /** Stops the server (gracefully when profiling, so the profile is written) and removes its data (unless the caller gave the data dir). */
  stop(): Promise<void>;
}

/**
 * Starts `skiff server` on a free loopback port with a fresh data dir, logging warnings only; without a
 * node agent unless `agent` asks for one (then with its own pod subnet, root and log dirs, the test
 * images dropped in, and `skiff killall` on stop). BENCH_PROFILE=DIR runs it under --cpu-prof;
 * BENCH_SERVER_LOGS=1 passes its log through (SKIFF_LOG_LEVEL chooses the level). `dataDir` restarts a server on
 * the data dir of an earlier one (which the caller then removes).
 */
export async function startServer(extraArgs: readonly string[] = [], o: { agent?: boolean; dataDir?: string } = {}): Promise<BenchServer> {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'skiff-bench-'));
  let agentArgs: string[] = ['--disable-agent'];
  let release: (() => void) | undefined;
  if (o.agent) {
    const subnet = claimPodSubnet();
    release = subnet.release;
    mkdirSync(join(dataDir, 'images'), { recursive: true });
    copyFileSync(testImages().archive, join(dataDir, 'images', 'test-images.tar'));
    agentArgs = ['--kubelet-port', '0', '--node-name', 'bench-node', '--root-dir', join(dataDir, 'kubelet'), '--pod-log-dir', join(dataDir, 'pod-logs'), '--pod-cidr', subnet.cidr];
  }
  const profile = process.env['BENCH_PROFILE'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_PROFILE']}`] : [];
  const proc = spawn(process.execPath, [...profile, join(root, 'dist', 'src', 'cli', 'main.js'), 'server', '--data-dir', dataDir, '--https-listen-port', '0', '--bind-address', '127.0.0.1', ...agentArgs, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { SKIFF_LOG_LEVEL: 'warn', ...process.env },
  });
  let out = '';
  await new Promise<void>((res, rej) => {
    proc.stdout.on('data', (d: Buffer) => { out += d.toString(); if (/ready in/.test(out)) res(); });
    proc.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    proc.once('exit', (code) => rej(new Error(`server exited ${code}: ${out}`)));
  });
  proc.removeAllListeners('exit');
  if (process.env['BENCH_SERVER_LOGS']) proc.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      await new Promise((r) => { proc.once('exit', r); proc.kill(profile.length > 0 ? 'SIGTERM' : 'SIGKILL'); });
    }
    if (o.agent) {
      execFileSync(process.execPath, [join(root, 'dist', 'src', 'cli', 'main.js'), 'killall', '--data-dir', dataDir], { stdio: 'ignore', env: { ...process.env, SKIFF_LOG_LEVEL: 'error' } });
      release?.();
    }
    if (!o.dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  return { pid: proc.pid!, dataDir, kubeconfig: join(dataDir, 'kubeconfig.yaml'), banner: out, stop };
}

/** Runs fn(0..n-1) with at most `width` calls in flight. */
export async function parallel(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, n) }, async () => { for (let i = next++; i < n; i = next++) await fn(i); }));
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

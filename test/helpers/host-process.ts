// Processes run inside a test host (a network namespace of TestNetwork): started, awaited until they say
// they are ready, and stopped.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Host, TestNetwork } from './netns-hosts.js';
import { repoRoot } from './test-images.js';

export const skiffCli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

export interface Running { readonly proc: ChildProcess; output: () => string }

/** Runs `skiff ARGS` in `host`; resolves once its stdout matches `ready`, rejects if it exits or takes over 60 s. */
export function startOnHost(net: TestNetwork, host: Host, args: string[], ready: RegExp, what: string, env: NodeJS.ProcessEnv = {}): Promise<Running> {
  const proc = net.spawn(host, process.execPath, [skiffCli, ...args], { SKIFF_LOG_LEVEL: process.env['SKIFF_MULTINODE_LOG_LEVEL'] ?? 'warn', ...env });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not become ready:\n${out}`)), 60_000);
    const check = (): void => {
      if (ready.test(out)) {
        clearTimeout(timer);
        proc.stdout!.off('data', check);
        resolve({ proc, output: () => out });
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${what} exited with ${code}:\n${out}`)); });
  });
}

/** Stops a process (SIGKILL after 10 s); resolves once it exited. */
export function stopProc(p: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    p.once('exit', () => { clearTimeout(t); resolve(); });
    p.kill(signal);
  });
}

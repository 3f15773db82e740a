import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { ExecProcess } from '../runtime.js';

/** The exit code of a finished child (128 + signal number when a signal ended it), once its output is drained. */
export function exitOf(p: ChildProcess): Promise<number> {
  return new Promise<number>((resolve) => {
    p.once('error', () => resolve(127));
    p.once('close', (code, signal) => resolve(code ?? (signal ? 128 + (osConstants.signals[signal] ?? 9) : 255)));
  });
}

/** What `runc state` / `runc list -f json` report about one container. */
export interface RuncState {
  readonly id: string;
  readonly pid: number;
  readonly status: 'created' | 'running' | 'paused' | 'stopped' | 'creating';
  readonly bundle: string;
  readonly created: string;
  readonly annotations?: Record<string, string>;
}

/** A runc command that failed: the arguments and what runc printed. */
export class RuncError extends Error {
  constructor(readonly args: readonly string[], readonly stderr: string, readonly code: number | null) {
    super(`runc ${args.join(' ')}: ${stderr.trim() || `exit ${code}`}`);
    this.name = 'RuncError';
  }
  get notFound(): boolean { return /does not exist|not found/.test(this.stderr); }
}

/**
 * The runc binary with this agent's private state root, so `runc list` is exactly this agent's
 * inventory and several agents on one host never see each other's containers.
 */
export class RuncCli {
  constructor(readonly root: string, readonly binary = 'runc', readonly timeoutMs = 30_000) {}

  run(args: readonly string[]): Promise<string> {
    const full = ['--root', this.root, ...args];
    return new Promise((resolve, reject) => {
      // stdio must not be inherited pipes of a container (runtime.md pitfall 2): these commands never start one.
      execFile(this.binary, full, { timeout: this.timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new RuncError(args, stderr || err.message, typeof err.code === 'number' ? err.code : null));
        else resolve(stdout);
      });
    });
  }

  /**
   * Runs `cmd` in the running container `id` and waits for it (CRI's ExecSync): its exit code and its
   * stdout and stderr together. A command still running after `timeoutMs` is killed (exit code 137).
   */
  exec(id: string, cmd: readonly string[], timeoutMs: number): Promise<{ exitCode: number; output: string }> {
    return new Promise((resolve) => {
      execFile(this.binary, ['--root', this.root, 'exec', id, ...cmd], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
        const output = stdout + stderr;
        if (!err) return resolve({ exitCode: 0, output });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        if (e.killed) return resolve({ exitCode: 137, output: `${output}command timed out after ${timeoutMs} ms` });
        resolve({ exitCode: typeof e.code === 'number' ? e.code : 255, output: output || e.message });
      });
    });
  }

  /** `runc exec` with the command's stdio as pipes (no terminal). */
  spawnExec(id: string, cmd: readonly string[], stdin: boolean): ExecProcess {
    const p = spawn(this.binary, ['--root', this.root, 'exec', id, ...cmd], { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    return { stdin: p.stdin, stdout: p.stdout!, stderr: p.stderr!, exited: exitOf(p), kill: () => { p.kill('SIGKILL'); } };
  }

  /**
   * `runc exec` on a pseudo-terminal, through the `skiff-stream tty` helper: runc passes a terminal's
   * master only as a file descriptor over a unix socket, which Node cannot receive. The helper relays
   * stdin and stdout with it and applies sizes written to its fd 3; it exits with the command's code.
   */
  spawnTtyExec(id: string, cmd: readonly string[], helper: string): ExecProcess {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-tty-'));
    const socket = join(dir, 'console.sock');
    const pidFile = join(dir, 'pid');
    const p = spawn(helper, ['tty', socket, pidFile, this.binary, '--root', this.root, 'exec', '--detach', '--tty', '--env', 'TERM=xterm', '--console-socket', socket, '--pid-file', pidFile, id, ...cmd], {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    });
    const control = p.stdio[3] as Writable;
    control.on('error', () => { /* the helper has ended */ });
    const exited = exitOf(p);
    void exited.finally(() => rm(dir, { recursive: true, force: true }).catch(() => {}));
    return {
      stdin: p.stdin, stdout: p.stdout!, stderr: p.stderr!, exited,
      kill: () => { p.kill('SIGKILL'); },
      resize: (width, height) => { if (control.writable) control.write(`${Math.trunc(width)} ${Math.trunc(height)}\n`); },
    };
  }

  async version(): Promise<string> {
    const out = await new Promise<string>((resolve, reject) => {
      execFile(this.binary, ['--version'], { timeout: 5000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    // "runc version 1.1.5+ds1" → "1.1.5"
    return /runc version (\S+)/.exec(out)?.[1]?.replace(/\+.*$/, '') ?? 'unknown';
  }

  /** The container's state, or undefined when runc does not know it. */
  async state(id: string): Promise<RuncState | undefined> {
    try {
      return JSON.parse(await this.run(['state', id])) as RuncState;
    } catch (e) {
      if (e instanceof RuncError && e.notFound) return undefined;
      throw e;
    }
  }

  async start(id: string): Promise<void> {
    await this.run(['start', id]);
  }

  /** Sends a signal; a container that is already gone or stopped is not an error. */
  async kill(id: string, signal: string): Promise<void> {
    try {
      await this.run(['kill', id, signal]);
    } catch (e) {
      if (e instanceof RuncError && (e.notFound || /not running|process already finished|container not running/.test(e.stderr))) return;
      throw e;
    }
  }

  /** Force-deletes; a container runc does not know is not an error. */
  async delete(id: string): Promise<void> {
    try {
      await this.run(['delete', '--force', id]);
    } catch (e) {
      if (e instanceof RuncError && e.notFound) return;
      throw e;
    }
  }
}

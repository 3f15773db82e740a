import { spawn } from 'node:child_process';

/** How a host command ended: its exit code (null when killed) and everything it printed. */
export interface CommandOutput {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the command was killed because it outlived its timeout. */
  readonly timedOut: boolean;
}

/** Options of {@link runCommand}. */
export interface CommandOptions {
  /** Written to the command's stdin, which is then closed. Default: nothing (stdin is /dev/null). */
  readonly input?: string;
  /** The complete environment of the command. Default: this process's environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Kill the command (SIGKILL) after this many milliseconds. Default 30 s. */
  readonly timeoutMs?: number;
}

/** A command that could not be started (ENOENT, EACCES, ...): the binary and the OS error code. */
export class CommandNotStartedError extends Error {
  constructor(readonly file: string, readonly errno: string | undefined, message: string) {
    super(`cannot run ${file}: ${message}`);
    this.name = 'CommandNotStartedError';
  }
}

/**
 * Runs `file args` asynchronously and resolves with its output whatever the exit code; rejects only
 * when the process cannot be started. Async on purpose: the agent's event loop keeps serving while
 * CNI plugins and iptables run (the Sync variants would stall every pod worker and the API watch).
 * Resolution waits for 'close' so stdout is complete; none of these commands leaves a daemon holding
 * the pipes (runtime.md pitfall 2 is about runc containers, not these tools).
 */
export function runCommand(file: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandOutput> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      reject(new CommandNotStartedError(file, e.code, e.message));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    });
    if (opts.input !== undefined && child.stdin) {
      // A plugin that exits without reading stdin closes the pipe; that EPIPE is not our failure.
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input);
    }
  });
}

/** A host tool that exited non-zero: the command line and what it printed. */
export class CommandFailedError extends Error {
  constructor(readonly file: string, readonly args: readonly string[], readonly output: CommandOutput) {
    const why = output.timedOut ? 'timed out' : output.stderr.trim() || output.stdout.trim() || `exit ${output.code ?? output.signal}`;
    super(`${file} ${args.join(' ')}: ${why}`);
    this.name = 'CommandFailedError';
  }
}

/** Like {@link runCommand} but rejects with {@link CommandFailedError} unless the exit code is 0; resolves stdout. */
export async function runChecked(file: string, args: readonly string[], opts: CommandOptions = {}): Promise<string> {
  const r = await runCommand(file, args, opts);
  if (r.code !== 0 || r.timedOut) throw new CommandFailedError(file, args, r);
  return r.stdout;
}

import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

export interface MonitorOptions {
  readonly conmon: string;
  readonly runc: string;
  readonly runcRoot: string;
  readonly id: string;
  readonly bundle: string;
  /** conmon writes the container's exit code to `<exitDir>/<id>` when it ends. */
  readonly exitDir: string;
  /** Where conmon puts the container's attach socket (`<socketDir>/<id>/attach`). */
  readonly socketDir: string;
  /** CRI-format log file for stdout and stderr. */
  readonly logPath: string;
  /** Keep a stdin pipe for `kubectl attach` (the container spec's `stdin: true`). */
  readonly stdin?: boolean;
  /** Close that stdin when the first attached client leaves (the spec's `stdinOnce`). */
  readonly stdinOnce?: boolean;
  /** Run the container on a terminal conmon holds (the spec's `tty: true`); attach and logs read it. */
  readonly tty?: boolean;
  readonly timeoutMs?: number;
}

/**
 * Creates a container under a conmon monitor (runtime.md §4.3): conmon runs `runc create`, holds the
 * container's stdio, writes CRI-format logs and, when the container ends, its exit code — and it
 * outlives this agent, so neither logs nor exit codes are lost across an agent restart. Resolves with
 * the container's pid once it exists (conmon reports it on the sync pipe, fd 3); `runc start` is the
 * caller's next step.
 */
export function createMonitored(o: MonitorOptions): Promise<number> {
  const args = [
    '--api-version', '1', '-c', o.id, '-u', o.id, '-n', o.id,
    '-r', o.runc, '--runtime-arg', `--root=${o.runcRoot}`,
    '-b', o.bundle, '-p', `${o.bundle}/pid`, '-P', `${o.bundle}/conmon.pid`,
    // conmon drops an `oom` marker in its persist dir (the cwd otherwise) when the container hits its limit.
    '--persist-dir', o.bundle,
    '--exit-dir', o.exitDir, '--socket-dir-path', o.socketDir,
    '-l', `k8s-file:${o.logPath}`, '--log-level', 'error',
    ...(o.stdin ? ['-i', ...(o.stdinOnce ? [] : ['--leave-stdin-open'])] : []),
    ...(o.tty ? ['-t'] : []),
  ];
  return new Promise((resolve, reject) => {
    // Detached, in its own session: a signal to the agent's process group must not reach the monitors.
    const child = spawn(o.conmon, args, {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'], detached: true, cwd: o.bundle,
      env: { ...process.env, _OCI_SYNCPIPE: '3' },
    });
    const sync = child.stdio[3] as Readable;
    let out = '';
    let err = '';
    let settled = false;
    const timer = setTimeout(() => finish(new Error(`conmon did not report container ${o.id} within ${o.timeoutMs ?? 30_000} ms`)), o.timeoutMs ?? 30_000);
    const finish = (e: Error | undefined, pid?: number): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sync.destroy();
      child.stderr?.destroy();
      child.unref();
      if (e) reject(e);
      else resolve(pid!);
    };
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    sync.on('data', (d: Buffer) => {
      out += d.toString();
      // One JSON object per line: {"data": <pid>} or {"data": -1, "message": "..."}.
      for (const line of out.split('\n')) {
        if (!line.trim()) continue;
        let msg: { data?: number; message?: string };
        try { msg = JSON.parse(line) as typeof msg; } catch { continue; }
        if (typeof msg.data === 'number' && msg.data > 0) return finish(undefined, msg.data);
        if (typeof msg.data === 'number') return finish(new Error((msg.message ?? err) || 'runc create failed'));
      }
    });
    sync.on('error', () => { /* conmon exiting closes the pipe */ });
    sync.on('end', () => finish(new Error(err.trim() || `conmon ended without reporting container ${o.id}`)));
    child.on('error', (e) => finish(new Error(`cannot run conmon: ${e.message}`)));
  });
}

/** Time between two messages to one control fifo, so that conmon reads them one at a time. */
export const controlPacingMs = 50;

/** Per fifo, the end of the last write plus the pause after it. */
const controlQueues = new Map<string, Promise<void>>();

/**
 * One message to conmon's control fifo (`<bundle>/ctl`: `<type> <height> <width>\n`). conmon (2.1.6) applies the
 * first message of each read to every line read with it, so messages to one fifo — terminal sizes, log reopens —
 * go one at a time, `controlPacingMs` apart. Opened non-blocking, so a fifo nobody reads (conmon gone) fails at
 * once with ENXIO instead of hanging.
 */
export function writeControl(fifo: string, message: string): Promise<void> {
  const run = (controlQueues.get(fifo) ?? Promise.resolve()).then(async () => {
    const f = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      await f.write(message);
    } finally {
      await f.close();
    }
  });
  const after = run.catch(() => {}).then(() => sleep(controlPacingMs));
  controlQueues.set(fifo, after);
  void after.then(() => { if (controlQueues.get(fifo) === after) controlQueues.delete(fifo); });
  return run;
}

/** conmon's control message asking it to reopen its log files (ctrl.c: `<type> <height> <width>\n`, type 2). */
const reopenLogsMessage = '2 0 0\n';

/**
 * Has the conmon of the container whose bundle is `bundle` reopen its log file `logPath` (CRI-O's
 * ReopenContainerLog): one message on the `ctl` fifo conmon keeps in the bundle, after which conmon
 * fsyncs and closes the old file, creates `<logPath>.tmp` and renames it to `logPath`. Resolves once
 * `logPath` is a new file; rejects when no conmon listens or the new file does not appear in time.
 */
export async function reopenLog(bundle: string, logPath: string, timeoutMs = 5000): Promise<void> {
  const before = await stat(logPath).catch(() => undefined);
  await writeControl(join(bundle, 'ctl'), reopenLogsMessage).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`conmon of ${bundle} does not listen for control messages (${e.code ?? e.message})`);
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await stat(logPath).catch(() => undefined);
    if (now && (!before || now.ino !== before.ino || now.dev !== before.dev)) return;
    if (Date.now() > deadline) throw new Error(`conmon did not reopen ${logPath} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

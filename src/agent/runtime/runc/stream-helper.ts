import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { ExecProcess, PodConnection } from '../runtime.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { controlPacingMs, writeControl } from './conmon.js';
import { exitOf } from './runc-cli.js';

/**
 * `skiff-stream dial NETNS PORT` (native/stream-helper.c): a connection to localhost:PORT inside a
 * pod's network namespace, as kubelet's port-forward makes it. Resolves once connected (the helper
 * says so with one byte on stderr); rejects with kubelet's wording when nothing listens there.
 */
export function dialInNetns(helper: string, netnsPath: string, port: number): Promise<PodConnection> {
  return new Promise((resolve, reject) => {
    const p = spawn(helper, ['dial', netnsPath, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    let connected = false;
    const closed = new Promise<void>((r) => p.once('close', () => r()));
    p.stdin.on('error', () => { /* the helper has ended */ });
    p.once('error', (e) => reject(new Error(`cannot run ${helper}: ${e.message}`)));
    p.stderr.on('data', (d: Buffer) => {
      if (!connected && d[0] === 0x2b /* '+' */) {
        connected = true;
        d = d.subarray(1);
        resolve({ toPod: p.stdin, fromPod: p.stdout, closed, close: () => { p.kill('SIGKILL'); } });
      }
      err += d.toString();
    });
    p.once('close', (code) => {
      if (!connected) reject(new Error(err.trim() || `${helper} dial ended with code ${code}`));
    });
  });
}

/**
 * `skiff-stream attach SOCKET`: joins conmon's attach socket (SOCK_SEQPACKET, out of Node's reach) —
 * the container's output from now on, split back into stdout and stderr, and its stdin when conmon keeps
 * one. A terminal's size goes to conmon's control fifo (`1 <height> <width>`). The session ends when the
 * container does (conmon closes the socket) or when the caller kills the helper; the container lives on.
 */
export function attachToContainer(helper: string, socketPath: string, ctlFifo: string, o: { stdin: boolean; tty: boolean }): ExecProcess {
  if (!existsSync(socketPath)) throw new Error(`container is not running (no attach socket at ${socketPath})`);
  const p = spawn(helper, ['attach', socketPath], { stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  p.stdin?.on('error', () => { /* the helper has ended */ });
  const exited = exitOf(p);
  // kubectl attach sends size+1 and then the size at once, to make the program redraw. Messages to conmon go one at a
  // time (see writeControl); of the sizes waiting only the latest is sent, and the last one again when all is quiet,
  // in case conmon still read two together (the same size again changes nothing: no extra redraw).
  let latest: { width: number; height: number } | undefined;
  let pumping = false;
  const send = (size: { width: number; height: number }): Promise<void> =>
    // A resize reaching a conmon that is gone changes nothing: the session ends with it.
    writeControl(ctlFifo, `1 ${Math.trunc(size.height)} ${Math.trunc(size.width)}\n`).catch(() => {});
  const pump = async (): Promise<void> => {
    if (pumping) return;
    pumping = true;
    let last: { width: number; height: number } | undefined;
    while (latest) {
      last = latest;
      latest = undefined;
      await send(last);
      // Again when quiet, twice: a conmon starved of CPU for longer than the pacing reads several at once.
      for (const wait of [controlPacingMs * 4, controlPacingMs * 20]) {
        if (latest) break;
        await sleep(wait);
        if (!latest) await send(last);
      }
    }
    pumping = false;
  };
  const resize = (width: number, height: number): void => {
    latest = { width, height };
    void pump();
  };
  return {
    stdin: p.stdin, stdout: p.stdout!, stderr: p.stderr!, exited,
    kill: () => { p.kill('SIGKILL'); },
    ...(o.tty ? { resize } : {}),
  };
}

import type { WebSocket } from 'ws';
import type { ExecProcess } from '../runtime/runtime.js';

/** The channels of the `v5.channel.k8s.io` protocol: each binary message starts with one of them. */
export const Channel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

/** What channel 3 carries when the command ends: success, or the exit code as kubectl reads it. */
export function exitStatus(code: number, cmd: readonly string[]): object {
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {}, status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${cmd.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

/** A failure before the command could run (channel 3), which kubectl prints as `error: <message>`. */
export function sendFailure(ws: WebSocket, message: string): void {
  ws.send(Buffer.concat([Buffer.from([Channel.error]), Buffer.from(JSON.stringify({ metadata: {}, status: 'Failure', message, reason: 'InternalError', code: 500 }))]), { binary: true });
  ws.close(1000);
}

/**
 * Connects a WebSocket session to a command in a container: stdin from channel 0 (ended by `[255, 0]`),
 * stdout and stderr to channels 1 and 2, and the exit status on channel 3 before a normal close.
 */
export function serveExec(ws: WebSocket, proc: ExecProcess, cmd: readonly string[]): void {
  const send = (channel: number, data: Buffer): void => {
    if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), data]), { binary: true });
  };
  proc.stdout.on('data', (d: Buffer) => send(Channel.stdout, d));
  proc.stderr.on('data', (d: Buffer) => send(Channel.stderr, d));
  proc.stdin?.on('error', () => { /* the command closed its stdin early */ });
  ws.on('message', (raw: Buffer, isBinary: boolean) => {
    if (!isBinary || raw.length === 0) return;
    const channel = raw[0];
    if (channel === Channel.stdin) proc.stdin?.write(raw.subarray(1));
    else if (channel === Channel.close && raw[1] === Channel.stdin) proc.stdin?.end();
    // Channel 4 (resize) only means something with a terminal, which this session does not have.
  });
  ws.on('close', () => proc.kill());
  void proc.exited.then((code) => {
    send(Channel.error, Buffer.from(JSON.stringify(exitStatus(code, cmd))));
    if (ws.readyState === ws.OPEN) ws.close(1000);
  });
}

import type { WebSocket } from 'ws';
import type { ExecProcess } from '../runtime/runtime.js';
import type { SpdySession, SpdyStream } from '../../util/spdy/session.js';
import type { Logger } from '../../util/log.js';

/** The channels of the `v5.channel.k8s.io` protocol: each binary message starts with one of them. */
export const Channel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

/** The remote command protocols this node speaks over SPDY, best first (kubectl 1.27–1.29 offer v4 or v5 first). */
export const REMOTE_COMMAND_SPDY = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;

/** What an exec or attach request asks for (kubelet's query parameters). */
export interface RemoteCommandRequest {
  readonly kind: 'exec' | 'attach';
  readonly cmd: readonly string[];
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
  readonly tty: boolean;
}

/** What the error channel carries when the command ends: success, or the exit code as kubectl reads it. */
export function exitStatus(code: number, cmd: readonly string[]): object {
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {}, status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${cmd.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

/** A failure before the command could run, which kubectl prints as `error: <message>`. */
const failureStatus = (message: string): object => ({ metadata: {}, status: 'Failure', message, reason: 'InternalError', code: 500 });

/** Applies a resize message (`{"Width":100,"Height":30}`) to a session's terminal; others are ignored. */
export function resizeFrom(proc: ExecProcess, payload: Buffer): void {
  if (!proc.resize) return;
  try {
    const size = JSON.parse(payload.toString('utf8')) as { Width?: unknown; Height?: unknown };
    if (typeof size.Width === 'number' && typeof size.Height === 'number' && size.Width > 0 && size.Height > 0) proc.resize(size.Width, size.Height);
  } catch { /* not JSON: kubelet ignores such a message too */ }
}

/** Sends a failure on channel 3 and ends the session. */
export function sendFailure(ws: WebSocket, message: string): void {
  ws.send(Buffer.concat([Buffer.from([Channel.error]), Buffer.from(JSON.stringify(failureStatus(message)))]), { binary: true });
  ws.close(1000);
}

/**
 * A `v5.channel.k8s.io` WebSocket session: starts the process, then stdin from channel 0 (ended by `[255, 0]`), stdout and stderr to channels 1 and 2,
 * resizes from channel 4, and the exit status on channel 3 before a normal close.
 */
export function serveWebSocketCommand(ws: WebSocket, open: () => ExecProcess, r: RemoteCommandRequest): void {
  let proc: ExecProcess;
  try {
    proc = open();
  } catch (e) {
    sendFailure(ws, (e as Error).message);
    return;
  }
  serveExec(ws, proc, r.cmd);
}

function serveExec(ws: WebSocket, proc: ExecProcess, cmd: readonly string[]): void {
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
    else if (channel === Channel.resize) resizeFrom(proc, raw.subarray(1));
  });
  ws.on('close', () => proc.kill());
  void proc.exited.then((code) => {
    send(Channel.error, Buffer.from(JSON.stringify(exitStatus(code, cmd))));
    if (ws.readyState === ws.OPEN) ws.close(1000);
  });
}

/** How long kubectl may take to open every stream it announced (kubelet's stream creation timeout). */
const STREAMS_TIMEOUT_MS = 30_000;

type StreamType = 'error' | 'stdin' | 'stdout' | 'stderr' | 'resize';

/**
 * The same session over SPDY (`v4`/`v5.channel.k8s.io`, as kubectl 1.27–1.29 speak it): kubectl opens
 * one stream per channel, named by its `streamType` header — error, then stdin, stdout, stderr (not with
 * a terminal) and resize (only with one). Once all the request implies are open, the process runs;
 * stdout and stderr end before the status goes on the error stream, which kubectl reads last.
 */
export function serveSpdyCommand(session: SpdySession, open: () => ExecProcess, r: RemoteCommandRequest, log: Logger): void {
  const expected = new Set<StreamType>(['error']);
  if (r.stdin) expected.add('stdin');
  if (r.stdout) expected.add('stdout');
  if (r.stderr && !r.tty) expected.add('stderr');
  if (r.tty) expected.add('resize');
  const streams = new Map<StreamType, SpdyStream>();
  const timer = setTimeout(() => {
    log.warn('kubectl did not open every stream it asked for', { missing: [...expected].filter((t) => !streams.has(t)) });
    session.close();
  }, STREAMS_TIMEOUT_MS);
  timer.unref();
  session.onClose(() => clearTimeout(timer));
  session.onStream((s) => {
    const type = s.headers['streamtype'] as StreamType | undefined;
    if (!type || !expected.has(type) || streams.has(type)) {
      s.reset();
      return;
    }
    s.reply();
    streams.set(type, s);
    if (streams.size === expected.size) {
      clearTimeout(timer);
      void run(session, streams, open, r);
    }
  });
}

async function run(session: SpdySession, streams: Map<StreamType, SpdyStream>, open: () => ExecProcess, r: RemoteCommandRequest): Promise<void> {
  const error = streams.get('error')!;
  const outputs = [streams.get('stdout'), streams.get('stderr')].filter((s): s is SpdyStream => s !== undefined);
  const finish = async (status: object): Promise<void> => {
    await Promise.all(outputs.map((s) => new Promise<void>((resolve) => s.end(resolve))));
    await new Promise<void>((resolve) => error.end(JSON.stringify(status), resolve));
    session.close();
  };
  let proc: ExecProcess;
  try {
    proc = open();
  } catch (e) {
    await finish(failureStatus((e as Error).message));
    return;
  }
  session.onClose(() => proc.kill());
  const stdout = streams.get('stdout');
  // With a terminal everything the command writes is on stdout; the helper's own errors join it there.
  const stderr = streams.get('stderr') ?? (r.tty ? stdout : undefined);
  const drained = [
    pump(proc.stdout, stdout),
    pump(proc.stderr, stderr),
  ];
  const stdin = streams.get('stdin');
  if (stdin && proc.stdin) {
    proc.stdin.on('error', () => { /* the command closed its stdin early */ });
    stdin.pipe(proc.stdin);
  }
  const resize = streams.get('resize');
  if (resize) {
    let pending = '';
    resize.on('data', (d: Buffer) => {
      pending += d.toString('utf8');
      // kubectl writes one JSON object per line (Go's json.Encoder).
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        resizeFrom(proc, Buffer.from(pending.slice(0, nl)));
        pending = pending.slice(nl + 1);
      }
    });
  }
  const code = await proc.exited;
  await Promise.all(drained);
  await finish(exitStatus(code, r.cmd));
}

/** Copies a process's output to a stream without ending it; resolves when the output has ended. */
function pump(from: NodeJS.ReadableStream, to: SpdyStream | undefined): Promise<void> {
  return new Promise((resolve) => {
    from.on('data', (d: Buffer) => { if (to && !to.writableEnded) to.write(d); });
    from.once('end', () => resolve());
    from.once('close', () => resolve());
    from.once('error', () => resolve());
  });
}

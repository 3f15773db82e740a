import { watch, type FSWatcher } from 'node:fs';
import { open } from 'node:fs/promises';

/** What `kubectl logs` asks for, as kubelet's LogOptions. */
export interface LogOptions {
  /** The last N lines only. */
  readonly tailLines?: number;
  /** Lines written at or after this time (ms since the epoch) only. */
  readonly since?: number;
  /** Prefix every line with its RFC 3339 timestamp. */
  readonly timestamps?: boolean;
  /** Stop after this many bytes of output. */
  readonly limitBytes?: number;
  /** Keep streaming new lines until the container ends or the reader goes. */
  readonly follow?: boolean;
}

/** One line of a CRI log file: `<RFC3339Nano> <stdout|stderr> <P|F> <content>`. */
export interface CriLogLine {
  readonly timestamp: string;
  readonly time: number;
  readonly stream: 'stdout' | 'stderr';
  /** The whole line, partial pieces (`P`) joined to their final piece (`F`), with its newline. */
  readonly content: string;
}

/**
 * Parses complete lines (each ending in `\n`) of CRI log text. Partial pieces wait in `pending` (per
 * stream) for their final piece; lines that do not parse are skipped, as kubelet skips them.
 */
export function parseCriLog(text: string, pending: Map<string, { timestamp: string; content: string }> = new Map()): CriLogLine[] {
  const out: CriLogLine[] = [];
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    const a = raw.indexOf(' ');
    const b = raw.indexOf(' ', a + 1);
    const c = raw.indexOf(' ', b + 1);
    if (a < 0 || b < 0) continue;
    const timestamp = raw.slice(0, a);
    const stream = raw.slice(a + 1, b);
    const tag = c < 0 ? raw.slice(b + 1) : raw.slice(b + 1, c);
    const content = c < 0 ? '' : raw.slice(c + 1);
    if (stream !== 'stdout' && stream !== 'stderr') continue;
    const time = Date.parse(timestamp);
    if (Number.isNaN(time)) continue;
    const before = pending.get(stream);
    if (tag.split(':')[0] === 'P') {
      pending.set(stream, { timestamp: before?.timestamp ?? timestamp, content: (before?.content ?? '') + content });
      continue;
    }
    pending.delete(stream);
    out.push({ timestamp: before?.timestamp ?? timestamp, time: before ? Date.parse(before.timestamp) : time, stream, content: `${before?.content ?? ''}${content}\n` });
  }
  return out;
}

/**
 * A CRI timestamp as kubelet prints it with `--timestamps`: Go's RFC3339Nano in UTC (`…05.123456789Z`,
 * trailing zeros of the fraction dropped), whatever offset the log writer used (conmon writes `+00:00`).
 */
export function rfc3339NanoUTC(timestamp: string, time: number): string {
  const frac = /\.(\d+)/.exec(timestamp)?.[1]?.replace(/0+$/, '') ?? '';
  return `${new Date(Math.floor(time / 1000) * 1000).toISOString().slice(0, 19)}${frac ? `.${frac}` : ''}Z`;
}

/** Writes lines as kubectl shows them, honouring the byte limit; false once the limit is reached. */
class LogWriter {
  #left: number;
  constructor(readonly write: (s: string) => void, readonly timestamps: boolean, limitBytes: number | undefined) {
    this.#left = limitBytes ?? Infinity;
  }

  get full(): boolean { return this.#left <= 0; }

  line(l: CriLogLine): boolean {
    if (this.full) return false;
    let s = this.timestamps ? `${rfc3339NanoUTC(l.timestamp, l.time)} ${l.content}` : l.content;
    if (Buffer.byteLength(s) > this.#left) s = Buffer.from(s).subarray(0, this.#left).toString();
    this.#left -= Buffer.byteLength(s);
    this.write(s);
    return !this.full;
  }
}

export interface FollowControl {
  /** Whether the container still runs: following ends once it does not and the file is drained. */
  readonly running: () => Promise<boolean>;
  /** Aborted when the reader goes away. */
  readonly signal: AbortSignal;
  /** How often to look for new lines when no change is signalled (ms). */
  readonly pollMs?: number;
}

/**
 * Streams the CRI log file at `path` to `write` as `kubectl logs` expects: since/tail filtering on
 * what is there, then (with `follow`) new lines as they are written, until the container has ended and
 * its last lines are out, the byte limit is reached, or the reader leaves.
 */
export async function streamCriLog(path: string, o: LogOptions, write: (s: string) => void, follow?: FollowControl): Promise<void> {
  const writer = new LogWriter(write, o.timestamps === true, o.limitBytes);
  const pending = new Map<string, { timestamp: string; content: string }>();
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (!fh) return;
  let offset = 0;
  let rest = '';
  /** The complete lines appended since the last read. */
  const readMore = async (): Promise<CriLogLine[]> => {
    const size = (await fh.stat()).size;
    if (size < offset) { offset = 0; rest = ''; } // truncated (rotated in place): start over
    if (size === offset) return [];
    const buf = Buffer.alloc(size - offset);
    const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
    offset += bytesRead;
    const text = rest + buf.subarray(0, bytesRead).toString('utf8');
    const cut = text.lastIndexOf('\n');
    rest = cut < 0 ? text : text.slice(cut + 1);
    return cut < 0 ? [] : parseCriLog(text.slice(0, cut + 1), pending);
  };
  try {
    let lines = (await readMore()).filter((l) => o.since === undefined || l.time >= o.since);
    if (o.tailLines !== undefined) lines = o.tailLines <= 0 ? [] : lines.slice(-o.tailLines);
    for (const l of lines) if (!writer.line(l)) return;
    if (!o.follow || !follow) return;
    await followFile(path, follow, async () => {
      for (const l of await readMore()) if (!writer.line(l)) return false;
      return true;
    });
  } finally {
    await fh.close();
  }
}

/** Calls `drain` on every change of the file (and every `pollMs`) until it returns false, the reader leaves, or the container ends. */
async function followFile(path: string, f: FollowControl, drain: () => Promise<boolean>): Promise<void> {
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path, () => wake?.());
  } catch {
    /* polling alone */
  }
  const onAbort = (): void => wake?.();
  f.signal.addEventListener('abort', onAbort);
  let lastRunningCheck = 0;
  try {
    for (;;) {
      if (f.signal.aborted) return;
      if (!(await drain())) return;
      if (Date.now() - lastRunningCheck >= 1000) {
        lastRunningCheck = Date.now();
        if (!(await f.running())) {
          // Its last lines may have landed after the check: one more look, then done.
          await drain();
          return;
        }
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, f.pollMs ?? 250);
        wake = () => { clearTimeout(t); resolve(); };
      });
      wake = undefined;
    }
  } finally {
    watcher?.close();
    f.signal.removeEventListener('abort', onAbort);
  }
}

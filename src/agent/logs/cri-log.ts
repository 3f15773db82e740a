import { watch, type FSWatcher } from 'node:fs';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { rotatedLogs } from './log-rotation.js';

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

/** A log file being read: its handle, which file it is (device and inode), and how far it has been read. */
interface OpenLog {
  readonly fh: FileHandle;
  readonly dev: number;
  readonly ino: number;
  offset: number;
  /** Text after the last newline read (a line the writer has not finished). */
  rest: string;
}

async function openLog(path: string): Promise<OpenLog | undefined> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (!fh) return undefined;
  const st = await fh.stat();
  return { fh, dev: st.dev, ino: st.ino, offset: 0, rest: '' };
}

const gunzipAsync = promisify(gunzip);
const stem = (file: string): string => file.replace(/\.gz$/, '');

/** The plain file among `files` that is `f` (same device and inode), newest first. */
async function findFile(files: readonly string[], f: { dev: number; ino: number }): Promise<number> {
  for (let i = files.length - 1; i >= 0; i--) {
    const name = files[i]!;
    if (name.endsWith('.gz')) continue;
    const st = await stat(name).catch(() => undefined);
    if (st && st.ino === f.ino && st.dev === f.dev) return i;
  }
  return -1;
}

/**
 * Where a followed file stands among its log's rotated files (log-rotation.ts): its own rotated name once
 * known, else the newest rotated name that existed when it was opened (it will be rotated after that).
 */
interface Place {
  readonly own?: string;
  readonly after: string;
}

async function placeOf(path: string, f: OpenLog): Promise<Place> {
  const rotated = await rotatedLogs(path);
  const i = await findFile(rotated, f);
  return i >= 0 ? { own: stem(rotated[i]!), after: stem(rotated[i]!) } : { after: stem(rotated.at(-1) ?? '') };
}

/**
 * The rotated files written after `f` and before `next` (the file `path` names now), oldest first, and
 * where `next` stands. Rotated names sort by time. `f` is found by its inode while it is still plain;
 * once gzipped (the reader fell more than one rotation behind) it is the first rotated after `place.after`.
 */
async function rotatedBetween(path: string, f: OpenLog, place: Place, next: OpenLog): Promise<{ files: string[]; next: Place }> {
  const rotated = await rotatedLogs(path);
  const mine = place.own === undefined ? await findFile(rotated, f) : -1;
  const own = place.own ?? (mine >= 0 ? stem(rotated[mine]!) : undefined);
  let files = own !== undefined ? rotated.filter((r) => stem(r) > own) : rotated.filter((r) => stem(r) > place.after).slice(1);
  // `next` may have been rotated too already: the check after reading it moves on from there.
  const nextAt = await findFile(rotated, next);
  const nextName = nextAt >= 0 ? stem(rotated[nextAt]!) : undefined;
  if (nextName !== undefined) files = files.filter((r) => stem(r) < nextName);
  return { files, next: nextName !== undefined ? { own: nextName, after: nextName } : { after: stem(rotated.at(-1) ?? '') } };
}

/**
 * Streams the CRI log file at `path` to `write` as `kubectl logs` expects: since/tail filtering on
 * what is there, then (with `follow`) new lines as they are written, until the container has ended and
 * its last lines are out, the byte limit is reached, or the reader leaves. Only the current file is
 * read at first, as kubelet does; a follower goes on across rotations: when `path` names a new file
 * (the writer reopened it), the old one is read to its end, then any file rotated in between, then the
 * new one from its start, so no line is lost or repeated.
 */
export async function streamCriLog(path: string, o: LogOptions, write: (s: string) => void, follow?: FollowControl): Promise<void> {
  const writer = new LogWriter(write, o.timestamps === true, o.limitBytes);
  const pending = new Map<string, { timestamp: string; content: string }>();
  let cur = await openLog(path);
  if (!cur) return;
  /** The complete lines appended to `f` since its last read. */
  const readMore = async (f: OpenLog): Promise<CriLogLine[]> => {
    const size = (await f.fh.stat()).size;
    if (size < f.offset) { f.offset = 0; f.rest = ''; } // truncated (rotated in place): start over
    if (size === f.offset) return [];
    const buf = Buffer.alloc(size - f.offset);
    const { bytesRead } = await f.fh.read(buf, 0, buf.length, f.offset);
    f.offset += bytesRead;
    const text = f.rest + buf.subarray(0, bytesRead).toString('utf8');
    const cut = text.lastIndexOf('\n');
    f.rest = cut < 0 ? text : text.slice(cut + 1);
    return cut < 0 ? [] : parseCriLog(text.slice(0, cut + 1), pending);
  };
  const emit = (lines: readonly CriLogLine[]): boolean => {
    for (const l of lines) if (!writer.line(l)) return false;
    return true;
  };
  try {
    let lines = (await readMore(cur)).filter((l) => o.since === undefined || l.time >= o.since);
    if (o.tailLines !== undefined) lines = o.tailLines <= 0 ? [] : lines.slice(-o.tailLines);
    if (!emit(lines)) return;
    if (!o.follow || !follow) return;
    let place = await placeOf(path, cur);
    await followFile(path, follow, async () => {
      for (;;) {
        const f: OpenLog = cur!;
        if (!emit(await readMore(f))) return false;
        const now = await stat(path).catch(() => undefined);
        // Still the same file, or none between the rename and the writer's reopen: nothing to switch to.
        if (!now || (now.ino === f.ino && now.dev === f.dev)) return true;
        const next = await openLog(path);
        if (!next) return true;
        // The writer closed the old file before making the new one: what is in it now is all there is.
        if (!emit(await readMore(f))) { await next.fh.close(); return false; }
        // Files rotated after this one and before the next (a reader that fell behind more than one rotation).
        const between = await rotatedBetween(path, f, place, next);
        for (const m of between.files) {
          const data = await readFile(m).catch(() => undefined); // pruned meanwhile
          if (!data) continue;
          const text = (m.endsWith('.gz') ? await gunzipAsync(data) : data).toString('utf8');
          if (!emit(parseCriLog(text.slice(0, text.lastIndexOf('\n') + 1), pending))) { await next.fh.close(); return false; }
        }
        await f.fh.close();
        cur = next;
        place = between.next;
      }
    });
  } finally {
    await cur.fh.close();
  }
}

/**
 * Calls `drain` on every change in the log's directory (the file growing, being rotated or made anew)
 * and every `pollMs`, until it returns false, the reader leaves, or the container ends.
 */
async function followFile(path: string, f: FollowControl, drain: () => Promise<boolean>): Promise<void> {
  let wake: (() => void) | undefined;
  /** A change was signalled while `drain` ran: look again before waiting. */
  let changed = false;
  let watcher: FSWatcher | undefined;
  const name = basename(path);
  try {
    // The directory rather than the file: a watch on the file would stay with it when it is rotated away.
    watcher = watch(dirname(path), (_event, file) => {
      if (file && !file.toString().startsWith(name)) return;
      changed = true;
      wake?.();
    });
  } catch {
    /* polling alone */
  }
  const onAbort = (): void => wake?.();
  f.signal.addEventListener('abort', onAbort);
  let lastRunningCheck = 0;
  try {
    for (;;) {
      if (f.signal.aborted) return;
      changed = false;
      if (!(await drain())) return;
      if (Date.now() - lastRunningCheck >= 1000) {
        lastRunningCheck = Date.now();
        if (!(await f.running())) {
          // Its last lines may have landed after the check: one more look, then done.
          await drain();
          return;
        }
      }
      if (changed) continue;
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

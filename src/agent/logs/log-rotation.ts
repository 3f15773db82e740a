// Container log files as kubelet's container log manager keeps them: the current file `<n>.log`, the
// rotated ones `<n>.log.<UTC time>` beside it, all but the newest of those gzipped.
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

/** When a container's log file is rotated and how many files it may have (kubelet's LogRotatePolicy). */
export interface LogRotationPolicy {
  /** Bytes the current file may hold before it is rotated. */
  readonly maxSize: number;
  /** Files a container's log may have, the current one included; at least 2. */
  readonly maxFiles: number;
}

/** Suffix of a rotated file (upstream's timestampFormat), of a compressed one, and of files half made. */
const gzSuffix = '.gz';
const tmpSuffix = '.tmp';

/** The suffix a file rotated at `time` (ms since the epoch) gets: Go's `20060102-150405` layout, in UTC. */
export function rotationSuffix(time: number): string {
  const iso = new Date(time).toISOString(); // 2006-01-02T15:04:05.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

/** Every `<path>.*` file beside the log at `path` (rotated, compressed, or left half made), sorted by name. */
async function siblings(path: string): Promise<string[]> {
  const prefix = `${basename(path)}.`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(prefix)).sort().map((n) => join(dirname(path), n));
}

/**
 * Splits `<path>.*` files as upstream's filterUnusedLogs does: temporary files, and uncompressed files
 * whose compressed copy exists (a compression that stopped before removing its source), are unused.
 */
function partition(files: readonly string[]): { inUse: string[]; unused: string[] } {
  const all = new Set(files);
  const inUse: string[] = [];
  const unused: string[] = [];
  for (const f of files) {
    if (f.endsWith(tmpSuffix) || (!f.endsWith(gzSuffix) && all.has(f + gzSuffix))) unused.push(f);
    else inUse.push(f);
  }
  return { inUse, unused };
}

/** The rotated files of the log at `path` (plain or gzipped), oldest first; the current file is not among them. */
export async function rotatedLogs(path: string): Promise<string[]> {
  return partition(await siblings(path)).inUse;
}

/** Gzips `file` to `<file>.gz` (through a temporary file, so a crash leaves no half archive in use) and removes it. */
async function compress(file: string): Promise<void> {
  const tmp = `${file}${gzSuffix}${tmpSuffix}`;
  try {
    const { mode } = await stat(file);
    await pipeline(createReadStream(file), createGzip(), createWriteStream(tmp, { mode }));
    await rename(tmp, file + gzSuffix);
  } finally {
    await rm(tmp, { force: true });
  }
  await rm(file, { force: true });
}

/**
 * Rotates the log at `path`, as kubelet's rotateLog: removes what earlier rotations left half done, then
 * the oldest rotated files so that, with the file rotated now and the new current one, at most
 * `maxFiles` remain; gzips the rotated files that are still plain; renames the current file to
 * `<path>.<UTC time>` (kept plain, so a reader following it can finish) and has the writer start a new
 * one with `reopen`. When `reopen` fails the file is renamed back (the next round tries again) and the
 * error is thrown. Resolves with the rotated file's path, or undefined when a file rotated within the
 * same second already has that name (it is left for the next round rather than overwritten).
 */
export async function rotateLog(path: string, policy: LogRotationPolicy, reopen: () => Promise<void>, now: number): Promise<string | undefined> {
  const target = `${path}.${rotationSuffix(now)}`;
  const { inUse, unused } = partition(await siblings(path));
  if (inUse.includes(target) || inUse.includes(target + gzSuffix)) return undefined;
  for (const f of unused) await rm(f, { force: true });
  // Oldest first, so that a reader still on a newer file is not cut off.
  const keep = Math.max(0, policy.maxFiles - 2);
  const excess = inUse.length - keep;
  for (const f of inUse.slice(0, Math.max(0, excess))) await rm(f, { force: true });
  for (const f of inUse.slice(Math.max(0, excess))) if (!f.endsWith(gzSuffix)) await compress(f);
  await rename(path, target);
  try {
    await reopen();
  } catch (e) {
    await rename(target, path);
    throw e;
  }
  return target;
}

/** Removes a container's log files, the current one and every rotated one (kubelet's Clean, when the container goes). */
export async function removeContainerLogs(path: string): Promise<void> {
  for (const f of [path, ...(await siblings(path))]) await rm(f, { force: true });
}

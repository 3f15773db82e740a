import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, readdir, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';

/**
 * kubelet's atomic writer: the content of configMap, secret, downwardAPI and projected volumes is
 * swapped in one rename, so a container never reads half an update.
 *
 * Layout of a target directory:
 * ```
 * ..2024_05_01_10_00_00.Xy12ab/   the real files (a fresh directory per version)
 * ..data -> ..2024_05_01_10_00_00.Xy12ab
 * key    -> ..data/key            one symlink per top-level path of the payload
 * ```
 * An update writes a new timestamped directory, points `..data_tmp` at it and renames that over
 * `..data` (rename(2) of a symlink is atomic), then prunes vanished top-level links and the old
 * directory. Names starting with `..` are reserved for this machinery. Callers must serialise writes
 * to one directory (the manager does, per pod).
 */

/** One file to project: its bytes and permission bits (only 0777 is applied, as Go's os.Chmod). */
export interface FileProjection {
  readonly data: Uint8Array;
  readonly mode: number;
}

/** Relative path inside the volume → file. */
export type Payload = ReadonlyMap<string, FileProjection>;

const dataDirName = '..data';
const newDataDirName = '..data_tmp';
const maxFileNameLength = 255;
const maxPathLength = 4096;

/** Rejects paths the writer cannot place safely, with upstream's validatePath messages. */
export function validatePayloadPath(p: string): void {
  if (p === '') throw new Error(`invalid path: must not be empty: "${p}"`);
  if (p.startsWith('/')) throw new Error(`invalid path: must be relative path: ${p}`);
  if (p.length > maxPathLength) throw new Error(`invalid path: must be less than or equal to ${maxPathLength} characters`);
  const items = p.split('/');
  for (const item of items) {
    if (item === '..') throw new Error(`invalid path: must not contain '..': ${p}`);
    if (item.length > maxFileNameLength) throw new Error(`invalid path: filenames must be less than or equal to ${maxFileNameLength} characters`);
  }
  const first = items[0] ?? '';
  if (first.startsWith('..') && first.length > 2) throw new Error(`invalid path: must not start with '..': ${p}`);
}

function cleanPayload(payload: Payload): Map<string, FileProjection> {
  const out = new Map<string, FileProjection>();
  for (const [p, f] of payload) {
    validatePayloadPath(p);
    // filepath.Clean: "a//b/./c/" → "a/b/c".
    out.set(posix.normalize(p).replace(/\/+$/, ''), f);
  }
  return out;
}

const isNotFound = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT';

async function readlinkOrEmpty(p: string): Promise<string> {
  try {
    return await readlink(p);
  } catch (e) {
    if (isNotFound(e)) return '';
    throw e;
  }
}

/** Every path (files and directories) below `dir`, relative to it. */
async function walk(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const ent of await readdir(join(dir, rel), { withFileTypes: true })) {
    const r = rel === '' ? ent.name : `${rel}/${ent.name}`;
    out.push(r);
    if (ent.isDirectory()) out.push(...(await walk(dir, r)));
  }
  return out;
}

/** True when the stored file differs from the projection in bytes or mode (a missing file differs). */
async function differs(path: string, f: FileProjection): Promise<boolean> {
  try {
    const st = await lstat(path);
    if (!st.isFile() || (st.mode & 0o777) !== (f.mode & 0o777)) return true;
    return !Buffer.from(f.data).equals(await readFile(path));
  } catch (e) {
    if (isNotFound(e)) return true;
    throw e;
  }
}

// Go's time format "..2006_01_02_15_04_05." in UTC, followed by a random suffix like ioutil.TempDir.
function timestampDirName(now: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const ts = `${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}`;
  return `..${ts}.${randomBytes(5).readUInt32BE(0)}`;
}

/**
 * Projects `payload` into `targetDir` (which must exist) atomically. Returns false when the directory
 * already held exactly this content, so nothing was rewritten (upstream skips the swap too, which
 * keeps inotify watchers quiet).
 */
export async function writeAtomically(targetDir: string, payload: Payload): Promise<boolean> {
  const clean = cleanPayload(payload);
  await stat(targetDir); // NewAtomicWriter fails when the target does not exist

  const dataDirPath = join(targetDir, dataDirName);
  const oldTsDir = await readlinkOrEmpty(dataDirPath);
  const oldTsPath = oldTsDir === '' ? '' : join(targetDir, oldTsDir);

  let pathsToRemove: string[] = [];
  if (oldTsPath !== '') {
    let oldPaths: string[] = [];
    try {
      oldPaths = await walk(oldTsPath);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    // Every new file keeps its ancestors, so non-empty directories are never pruned.
    const keep = new Set<string>();
    for (const p of clean.keys()) for (let s = p; s !== '.' && s !== ''; s = posix.dirname(s)) keep.add(s);
    pathsToRemove = oldPaths.filter((p) => !keep.has(p));
    let write = false;
    for (const [p, f] of clean) if (await differs(join(oldTsPath, p), f)) { write = true; break; }
    if (!write && pathsToRemove.length === 0) return false;
  }

  const tsDirName = timestampDirName(new Date());
  const tsDir = join(targetDir, tsDirName);
  await mkdir(tsDir);
  // 0755 so group and other can walk the tree whatever the agent's umask.
  await chmod(tsDir, 0o755);
  try {
    for (const [p, f] of clean) {
      const full = join(tsDir, p);
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, f.data, { mode: f.mode & 0o777 });
      // writeFile's mode is filtered by the umask; the projection's mode must hold exactly.
      await chmod(full, f.mode & 0o777);
    }
  } catch (e) {
    await rm(tsDir, { recursive: true, force: true });
    throw e;
  }

  // User-visible links for each top-level element; existing ones already point through ..data.
  for (const p of clean.keys()) {
    const top = p.split('/')[0] ?? p;
    const visible = join(targetDir, top);
    try {
      await lstat(visible);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await symlink(posix.join(dataDirName, top), visible);
    }
  }

  const newDataDirPath = join(targetDir, newDataDirName);
  await rm(newDataDirPath, { force: true }); // a leftover from an interrupted write
  try {
    await symlink(tsDirName, newDataDirPath);
    await rename(newDataDirPath, dataDirPath);
  } catch (e) {
    await rm(newDataDirPath, { force: true });
    await rm(tsDir, { recursive: true, force: true });
    throw e;
  }

  // Only top-level links live outside the data directory; deeper paths vanished with the swap.
  for (const p of pathsToRemove) if (!p.includes('/')) await rm(join(targetDir, p), { force: true });
  if (oldTsPath !== '') await rm(oldTsPath, { recursive: true, force: true });
  return true;
}

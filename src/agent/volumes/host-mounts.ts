import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/**
 * The host's mount table and the two mount operations volumes need (tmpfs up, anything down).
 * Node has no mount(2) binding, so this shells out to util-linux `mount`/`umount`, as kubelet's
 * mount-utils does; the table is read from /proc/self/mountinfo, which (unlike /proc/mounts) escapes
 * mount points unambiguously and is what mount-utils parses too.
 */

/** One line of /proc/self/mountinfo, reduced to what volume code needs. */
export interface MountInfoEntry {
  /** Absolute mount point in this mount namespace, unescaped. */
  readonly mountPoint: string;
  /** Filesystem type, e.g. `tmpfs`. */
  readonly fsType: string;
  /** Mount source, e.g. `tmpfs` or `/dev/sda1`. */
  readonly source: string;
  /** Filesystem-specific options, e.g. `rw,size=1024k`. */
  readonly superOptions: string;
}

// mountinfo escapes space, tab, newline and backslash as three-digit octal sequences.
const unescapeOctal = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Parses mountinfo text; malformed lines are skipped rather than failing the whole read. */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.split(' ');
    // The optional fields end at a lone "-"; the three after it are fstype, source, super options.
    const sep = fields.indexOf('-', 6);
    const mountPoint = fields[4];
    if (sep < 0 || mountPoint === undefined) continue;
    out.push({
      mountPoint: unescapeOctal(mountPoint),
      fsType: fields[sep + 1] ?? '',
      source: unescapeOctal(fields[sep + 2] ?? ''),
      superOptions: fields[sep + 3] ?? '',
    });
  }
  return out;
}

/** The current mount table of this process's mount namespace. */
export async function readMountInfo(): Promise<MountInfoEntry[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** Entries mounted at `dir` or anywhere below it (`dir` must be a real, absolute path). */
export function mountsUnder(entries: readonly MountInfoEntry[], dir: string): MountInfoEntry[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return entries.filter((e) => e.mountPoint === dir || e.mountPoint.startsWith(prefix));
}

/** The topmost entry mounted exactly at `dir`, if any (later lines stack over earlier ones). */
export async function mountAt(dir: string): Promise<MountInfoEntry | undefined> {
  const entries = (await readMountInfo()).filter((e) => e.mountPoint === dir);
  return entries[entries.length - 1];
}

function run(file: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (!err) return resolve();
      const status = typeof err.code === 'number' ? `exit status ${err.code}` : err.message;
      const output = `${stdout}${stderr}`.trim();
      // The same shape as mount-utils' error: what failed, how it was called, what it said.
      reject(new Error(`${file} failed: ${status}, arguments: ${args.join(' ')}${output ? `, output: ${output}` : ''}`));
    });
  });
}

/**
 * Mounts a fresh tmpfs at `dir`. `sizeBytes` becomes `-o size=<bytes>` when positive; without it
 * the kernel's default (half of RAM) applies, as for kubelet.
 */
export async function mountTmpfs(dir: string, sizeBytes?: bigint): Promise<void> {
  const args = ['-t', 'tmpfs'];
  if (sizeBytes !== undefined && sizeBytes > 0n) args.push('-o', `size=${sizeBytes}`);
  args.push('tmpfs', dir);
  await run('mount', args);
}

/**
 * Unmounts `dir`. `lazy` detaches it even while busy (umount -l): the last resort of a teardown,
 * because the mount then disappears from the host tree and removing the directory cannot reach into it.
 */
export async function unmount(dir: string, lazy = false): Promise<void> {
  await run('umount', lazy ? ['-l', dir] : [dir]);
}

import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

function run(cmd: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, _out, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve()));
  });
}

/**
 * A container's writable root: an overlay of its own upper directory over the image's read-only rootfs,
 * so containers never write into (or create mount points in) the shared image (runtime.md pitfall 13).
 */
export async function mountOverlay(lower: string, bundle: string): Promise<string> {
  const upper = join(bundle, 'upper');
  const work = join(bundle, 'work');
  const merged = join(bundle, 'rootfs');
  await Promise.all([mkdir(upper, { recursive: true }), mkdir(work, { recursive: true }), mkdir(merged, { recursive: true })]);
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
  return merged;
}

/** Unmounts the overlay; not mounted is fine. */
export async function unmountOverlay(bundle: string): Promise<void> {
  try {
    await run('umount', [join(bundle, 'rootfs')]);
  } catch (e) {
    if (!/not mounted|no mount point|No such file/.test((e as Error).message)) throw e;
  }
}

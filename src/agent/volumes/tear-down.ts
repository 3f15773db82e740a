import { realpath, rm } from 'node:fs/promises';
import { sep } from 'node:path';
import type { Logger } from '../../util/log.js';
import { describeError } from './errors.js';
import { mountsUnder, readMountInfo, unmount } from './host-mounts.js';

/**
 * Removing a pod's directory safely: every mount below it (tmpfs of memory emptyDirs and secrets,
 * anything else someone mounted there) comes off first, deepest first, and the tree is removed only
 * once the mount table shows nothing left. Deleting through a live mount would destroy whatever it
 * shows, which for a bind mount can be host data.
 */

const depth = (p: string): number => p.split(sep).length;

// Resolves symlinks in the path (mountinfo lists real paths); a missing tail is kept as written.
async function realOrSelf(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch {
    return p;
  }
}

/**
 * Unmounts everything under `dir` and removes it. Safe when `dir` is already gone or half set up.
 * A mount that will not come off normally (busy) is detached lazily, with a warning. Throws if mounts
 * remain after that, leaving the directory in place.
 */
export async function unmountAndRemove(dir: string, log?: Logger): Promise<void> {
  const real = await realOrSelf(dir);
  // Stacked mounts at one point come off one per round, so loop until the table is clean.
  for (let round = 0; round < 8; round++) {
    const mounted = mountsUnder(await readMountInfo(), real).sort((a, b) => depth(b.mountPoint) - depth(a.mountPoint));
    if (mounted.length === 0) break;
    for (const m of mounted) {
      try {
        await unmount(m.mountPoint);
      } catch (e) {
        log?.warn('unmount failed, detaching lazily', { mountPoint: m.mountPoint, error: describeError(e) });
        await unmount(m.mountPoint, true).catch(() => {}); // re-checked on the next round
      }
    }
  }
  const left = mountsUnder(await readMountInfo(), real);
  if (left.length > 0) throw new Error(`cannot remove ${dir}: still mounted: ${left.map((m) => m.mountPoint).join(', ')}`);
  await rm(dir, { recursive: true, force: true });
}

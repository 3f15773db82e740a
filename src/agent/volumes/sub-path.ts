import { lstat, mkdir, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import type { Logger } from '../../util/log.js';
import { describeError } from './errors.js';
import { VolumeError } from './types.js';

/**
 * volumeMount.subPath: mount one path inside a volume instead of its root. Like kubelet, the path
 * is created as a directory (with the volume root's permissions) when missing, symlinks are resolved
 * so the bind source is the real file (a configMap key's `key -> ..data/key` becomes the file in the
 * timestamped directory), and the result must stay inside the volume: a symlink pointing out of it
 * would otherwise hand the container any file of the node.
 *
 * Consequence shared with upstream: a subPath mount of a configMap or secret key pins that version of
 * the file; later updates of the object do not reach such a mount.
 */

const isWithin = (root: string, p: string): boolean => p === root || p.startsWith(root.endsWith('/') ? root : `${root}/`);

/** Checks the subPath text with upstream's messages (absolute paths and `..` elements are refused). */
export function validateSubPath(subPath: string): void {
  if (isAbsolute(subPath)) throw new VolumeError('CreateContainerConfigError', `error SubPath \`${subPath}\` must not be an absolute path`);
  if (subPath.split('/').includes('..')) throw new VolumeError('CreateContainerConfigError', `unable to provision SubPath \`${subPath}\`: must not contain '..'`);
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/**
 * The real host path to bind for `subPath` of the volume at `volumePath`, creating it as a directory
 * when nothing is there. Throws VolumeError('CreateContainerConfigError', …); an escape from the
 * volume gets kubelet's deliberately vague message, which reveals nothing about the node's files.
 */
export async function resolveSubPath(volumePath: string, subPath: string, volumeMountName: string, containerName: string, log?: Logger): Promise<string> {
  validateSubPath(subPath);
  // The details go to the agent's log only, as upstream keeps them out of the pod's status.
  const fail = (what: 'create subPath directory' | 'prepare subPath', detail: string): VolumeError => {
    log?.warn(`failed to ${what}`, { volumePath, subPath, volumeMount: volumeMountName, container: containerName, detail });
    return new VolumeError('CreateContainerConfigError', `failed to ${what} for volumeMount "${volumeMountName}" of container "${containerName}"`);
  };
  const root = await realpath(volumePath);
  const target = join(root, subPath);
  if (!(await exists(target))) {
    // Find the deepest existing ancestor and make sure it resolves inside the volume before creating
    // anything under it: the missing tail then holds no symlinks to escape through.
    let ancestor = dirname(target);
    while (!(await exists(ancestor))) ancestor = dirname(ancestor);
    const realAncestor = await realpath(ancestor);
    if (!isWithin(root, realAncestor)) throw fail('create subPath directory', `${ancestor} resolves to ${realAncestor}, outside the volume`);
    const perm = (await lstat(volumePath)).mode & 0o7777;
    try {
      await mkdir(target, { recursive: true, mode: perm });
    } catch (e) {
      throw fail('create subPath directory', describeError(e));
    }
  }
  let resolved: string;
  try {
    resolved = await realpath(target);
  } catch (e) {
    throw fail('prepare subPath', describeError(e)); // e.g. a dangling symlink
  }
  if (!isWithin(root, resolved)) throw fail('prepare subPath', `${target} resolves to ${resolved}, outside the volume`);
  return resolved;
}

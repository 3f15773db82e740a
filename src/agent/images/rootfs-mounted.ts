import { readFileSync } from 'node:fs';

/**
 * Whether a container still uses an image's root filesystem, judged from the kernel's mount table: containers use it
 * as an overlay `lowerdir` (or bind-mount something under it), and such a mount exists exactly while the container
 * does. This works across processes, so `skiff images rm` cannot pull a rootfs from under the agent's containers.
 */

/** True when some mount in this mount namespace uses `rootfs` as an overlay layer or lies inside it. */
export function rootfsMounted(rootfs: string, mountinfo = '/proc/self/mountinfo'): boolean {
  let text: string;
  try {
    text = readFileSync(mountinfo, 'utf8');
  } catch {
    return false;
  }
  const dir = rootfs.replace(/\/+$/, '');
  for (const line of text.split('\n')) {
    if (!line.includes(dir)) continue;
    // mountinfo: id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    const fields = line.split(' ');
    const mountpoint = unescape(fields[4] ?? '');
    if (mountpoint === dir || mountpoint.startsWith(`${dir}/`)) return true;
    const sep = fields.indexOf('-');
    const superOptions = unescape(fields[sep + 3] ?? '');
    for (const opt of superOptions.split(',')) {
      const [key, value] = opt.split('=', 2) as [string, string | undefined];
      if ((key === 'lowerdir' || key === 'upperdir') && value?.split(':').some((d) => d === dir || d.startsWith(`${dir}/`))) return true;
    }
  }
  return false;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

import { chmod, lstat, mkdir, realpath } from 'node:fs/promises';
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import { parseQuantity } from '../../api/quantity.js';
import { mountAt, mountTmpfs } from './host-mounts.js';

/**
 * emptyDir: a directory that lives as long as the pod (it survives container restarts because it is
 * on the host, not in the container's rootfs). `medium: Memory` puts a tmpfs there. secret,
 * downwardAPI and projected volumes reuse the Memory flavour, configMap the disk one, as kubelet's
 * wrapped emptyDir does.
 */

/** Where an emptyDir's content lives: the node's disk (`""`) or RAM (`Memory`). */
export type StorageMedium = '' | 'Memory';

// kubelet leaves emptyDirs world-writable (issue 2630) so any container user can write to them.
const defaultPerm = 0o777;

/** Bytes of a quantity, rounded up as upstream's Quantity.Value(). */
export function quantityBytes(q: string | number): bigint {
  const milli = parseQuantity(q);
  return milli / 1000n + (milli % 1000n > 0n ? 1n : 0n);
}

function memoryLimit(c: Container): bigint | undefined {
  const q = c.resources?.limits?.['memory'];
  return q === undefined ? undefined : quantityBytes(q);
}

/**
 * The pod's memory limit as the pod cgroup would get it, or undefined when some container declares
 * none (the pod is then unbounded). Regular containers and restartable init containers (sidecars) run
 * together and add up; a one-shot init container runs alone, so the pod needs at least its limit.
 */
export function podMemoryLimit(pod: Pod): bigint | undefined {
  const spec = pod.spec;
  if (!spec) return undefined;
  let together = 0n;
  let alone = 0n;
  for (const c of spec.containers) {
    const l = memoryLimit(c);
    if (l === undefined) return undefined;
    together += l;
  }
  for (const c of spec.initContainers ?? []) {
    const l = memoryLimit(c);
    if (l === undefined) return undefined;
    if (c.restartPolicy === 'Always') together += l;
    else if (l > alone) alone = l;
  }
  const overhead = spec.overhead?.['memory'];
  return (together > alone ? together : alone) + (overhead === undefined ? 0n : quantityBytes(overhead));
}

/**
 * Size of a memory-backed emptyDir, as upstream's calculateEmptyDirMemorySize: start from the node's
 * allocatable memory (a pod can never use more), shrink to the pod's memory limit, then to the
 * volume's sizeLimit, each only when positive and smaller. Undefined means "no size option".
 */
export function emptyDirMemorySize(pod: Pod, sizeLimit: string | undefined, nodeAllocatableMemory: bigint | undefined): bigint | undefined {
  let size = nodeAllocatableMemory;
  const podLimit = podMemoryLimit(pod);
  if (podLimit !== undefined && podLimit > 0n && (size === undefined || podLimit <= size)) size = podLimit;
  if (sizeLimit !== undefined) {
    const v = quantityBytes(sizeLimit);
    if (v > 0n && (size === undefined || v <= size)) size = v;
  }
  return size;
}

/**
 * Creates the emptyDir at `dir` (mode 0777 whatever the umask) and, for `Memory`, mounts a tmpfs
 * there unless one already is. Idempotent: calling it again keeps the content.
 */
export async function setUpEmptyDir(dir: string, medium: string, sizeBytes: bigint | undefined): Promise<void> {
  if (medium !== '' && medium !== 'Memory') throw new Error(`unknown storage medium "${medium}"`);
  await mkdir(dir, { recursive: true, mode: defaultPerm });
  const st = await lstat(dir);
  // Compare permission bits only: a mounted tmpfs root is 1777, which is already right.
  if ((st.mode & 0o777) !== defaultPerm) await chmod(dir, defaultPerm);
  if (medium !== 'Memory') return;
  // Already a tmpfs mount point: the desired state (content must survive a second setUp). The mount
  // table lists real paths, so a symlinked root dir must be resolved or a second tmpfs would stack
  // over the first and hide its content.
  if ((await mountAt(await realpath(dir)))?.fsType === 'tmpfs') return;
  await mountTmpfs(dir, sizeBytes);
}

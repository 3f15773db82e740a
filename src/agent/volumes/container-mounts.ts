import { mkdir, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import type { Logger } from '../../util/log.js';
import { expandSubPathExpr, staticContainerEnv } from '../downward/container-env.js';
import { containerConfigError } from './errors.js';
import type { ResourceAmounts } from '../downward/resource-field.js';
import { resolveSubPath } from './sub-path.js';
import { VolumeError, type OciMount, type PreparedVolume } from './types.js';

/**
 * Turns a container's volumeMounts into OCI bind mounts, in the order the container lists them (a
 * mount nested under another must come after it, and the user controls that order).
 */

/** What {@link containerMounts} needs besides the pod and container. */
export interface ContainerMountsContext {
  readonly allocatable: ResourceAmounts;
  readonly nodeName?: string;
  readonly log?: Logger;
  /**
   * The container's fully resolved environment, when the caller has it (it then also covers
   * configMapKeyRef, secretKeyRef, envFrom and the real pod IP). Default: what staticContainerEnv
   * can compute from the pod alone.
   */
  readonly env?: ReadonlyMap<string, string>;
}

// mountPropagation → OCI rootfs propagation flag; None (the default) keeps host and container apart.
function propagationOption(mode: string | undefined): string {
  switch (mode ?? 'None') {
    case 'None': return 'rprivate';
    case 'HostToContainer': return 'rslave';
    case 'Bidirectional': return 'rshared';
    default: throw new VolumeError('CreateContainerConfigError', `invalid MountPropagation mode: "${mode}"`);
  }
}

// "/data/", "/data" and "data" are the same mount point (a relative mountPath is taken from "/").
const normalizeMountPath = (p: string): string => {
  const abs = posix.normalize(p.startsWith('/') ? p : `/${p}`);
  return abs === '/' ? abs : abs.replace(/\/+$/, '');
};

/**
 * One `{type: 'bind', options: ['rbind', <propagation>, 'ro'|'rw']}` mount per volumeMount. `ro` when
 * the mount asks for it or the volume is read-only (configMap, secret, downwardAPI, projected).
 * Throws VolumeError('CreateContainerConfigError', …) for an unknown volume, a mountPath used twice,
 * a bad subPath or an unexpandable subPathExpr.
 */
export async function containerMounts(pod: Pod, container: Container, volumes: ReadonlyMap<string, PreparedVolume>, ctx: ContainerMountsContext): Promise<OciMount[]> {
  const mounts: OciMount[] = [];
  const byPath = new Map<string, string>();
  let env: ReadonlyMap<string, string> | undefined = ctx.env;
  for (const vm of container.volumeMounts ?? []) {
    const vol = volumes.get(vm.name);
    if (!vol) throw new VolumeError('CreateContainerConfigError', `cannot find volume "${vm.name}" to mount into container "${container.name}"`);
    const dest = normalizeMountPath(vm.mountPath);
    const other = byPath.get(dest);
    if (other !== undefined) {
      throw new VolumeError('CreateContainerConfigError', `mountPath "${vm.mountPath}" of volumeMount "${vm.name}" in container "${container.name}" is already used by volumeMount "${other}": must be unique`);
    }
    byPath.set(dest, vm.name);

    let subPath = vm.subPath ?? '';
    if (vm.subPathExpr) {
      try {
        env ??= staticContainerEnv(pod, container, ctx.allocatable, ctx.nodeName);
        subPath = expandSubPathExpr(vm.subPathExpr, env);
      } catch (e) {
        throw containerConfigError(e);
      }
    }

    let source = vol.hostPath;
    if (subPath !== '') {
      source = await resolveSubPath(vol.hostPath, subPath, vm.name, container.name, ctx.log);
    } else {
      // A hostPath without a type may name nothing yet; like containerd's CRI, create it as a
      // directory so the bind mount has a source (Docker did the same).
      try {
        await stat(source);
      } catch {
        await mkdir(source, { recursive: true, mode: 0o755 }).catch((e: unknown) => {
          throw containerConfigError(e);
        });
      }
    }
    const readOnly = vm.readOnly === true || vol.readOnly;
    mounts.push({
      // kubelet makes a relative mountPath absolute (MakeAbsolutePath: "/" + path, cleaned).
      destination: vm.mountPath.startsWith('/') ? vm.mountPath : normalizeMountPath(vm.mountPath),
      type: 'bind',
      source,
      options: ['rbind', propagationOption(vm.mountPropagation), readOnly ? 'ro' : 'rw'],
    });
  }
  return mounts;
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import { parseQuantity } from '../api/quantity.js';
import type { ImageConfig } from './images/types.js';
import type { ContainerResources, ContainerSecurity } from './runtime/runtime.js';
import { ContainerConfigError, expand, mappingFor } from './env.js';

/**
 * The process to run, as the container runtime combines spec and image: `command` replaces the image's
 * Entrypoint (and drops its Cmd), `args` replace Cmd; both expand `$(VAR)` from the container's env.
 */
export function processArgs(c: Container, image: ImageConfig, env: ReadonlyMap<string, string>): string[] {
  const command = c.command?.map((s) => expand(s, mappingFor(env)));
  const args = c.args?.map((s) => expand(s, mappingFor(env)));
  let argv: string[];
  if (command && command.length > 0) argv = [...command, ...(args ?? [])];
  else argv = [...(image.Entrypoint ?? []), ...(args ?? image.Cmd ?? [])];
  if (argv.length === 0) throw new ContainerConfigError('no command specified');
  return argv;
}

/** The process environment: the image's, then the container's (which wins), then HOSTNAME. */
export function processEnv(image: ImageConfig, env: ReadonlyMap<string, string>, hostname: string): string[] {
  const merged = new Map<string, string>();
  for (const kv of image.Env ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) merged.set(kv.slice(0, i), kv.slice(i + 1));
  }
  if (!merged.has('PATH')) merged.set('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  merged.set('HOSTNAME', hostname);
  for (const [k, v] of env) merged.set(k, v);
  return [...merged].map(([k, v]) => `${k}=${v}`);
}

/** Looks a user or group name up in the image's /etc/passwd or /etc/group. */
async function lookup(rootfs: string, file: 'passwd' | 'group', name: string): Promise<{ id: number; gid?: number } | undefined> {
  const text = await readFile(join(rootfs, 'etc', file), 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[2] !== undefined) return { id: Number(f[2]), ...(file === 'passwd' && f[3] !== undefined ? { gid: Number(f[3]) } : {}) };
  }
  return undefined;
}

/**
 * uid and gid: the container's securityContext, then the pod's, then the image's `User` ("uid",
 * "uid:gid", "name", "name:group"), root otherwise; supplemental groups from the pod.
 */
export async function processUser(pod: Pod, c: Container, image: ImageConfig, rootfs: string): Promise<{ uid: number; gid: number; additionalGids?: number[] }> {
  const sc = c.securityContext;
  const psc = pod.spec?.securityContext;
  let uid = sc?.runAsUser ?? psc?.runAsUser;
  let gid = sc?.runAsGroup ?? psc?.runAsGroup;
  if (uid === undefined && image.User) {
    const [u, g] = image.User.split(':') as [string, string | undefined];
    if (/^\d+$/.test(u)) uid = Number(u);
    else {
      const found = await lookup(rootfs, 'passwd', u);
      if (!found) throw new ContainerConfigError(`unable to find user ${u}: no matching entries in passwd file`);
      uid = found.id;
      gid ??= found.gid;
    }
    if (g !== undefined && gid === undefined) {
      if (/^\d+$/.test(g)) gid = Number(g);
      else {
        const found = await lookup(rootfs, 'group', g);
        if (!found) throw new ContainerConfigError(`unable to find group ${g}: no matching entries in group file`);
        gid = found.id;
      }
    }
  }
  if (sc?.runAsNonRoot ?? psc?.runAsNonRoot) {
    if (uid === undefined || uid === 0) throw new ContainerConfigError(uid === undefined ? 'container has runAsNonRoot and image will run as root' : 'container\'s runAsUser breaks non-root policy');
  }
  const groups = [...(psc?.supplementalGroups ?? []), ...(psc?.fsGroup !== undefined ? [psc.fsGroup] : [])];
  return { uid: uid ?? 0, gid: gid ?? 0, ...(groups.length > 0 ? { additionalGids: groups } : {}) };
}

/** milli-CPU → cgroup cpu.shares as kubelet converts it (minimum 2). */
export function milliToShares(milli: bigint): number {
  if (milli === 0n) return 2;
  const shares = Number((milli * 1024n) / 1000n);
  return Math.max(2, shares);
}

/** Requests and limits → cgroup controls (cpu.shares from the request, CFS quota and memory from the limits). */
export function containerResources(c: Container): ContainerResources {
  const req = c.resources?.requests ?? {};
  const lim = c.resources?.limits ?? {};
  const cpuReq = req['cpu'] ?? lim['cpu'];
  const out: { cpuShares?: number; cpuQuota?: number; cpuPeriod?: number; memoryLimitBytes?: number } = {
    cpuShares: milliToShares(cpuReq !== undefined ? parseQuantity(cpuReq) : 0n),
  };
  if (lim['cpu'] !== undefined) {
    // Quota in microseconds per 100 ms period, at least 1 ms (the kernel's minimum).
    out.cpuQuota = Math.max(1000, Number((parseQuantity(lim['cpu']) * 100_000n) / 1000n));
    out.cpuPeriod = 100_000;
  }
  if (lim['memory'] !== undefined) out.memoryLimitBytes = Number(parseQuantity(lim['memory']) / 1000n);
  return out;
}

export function containerSecurity(c: Container): ContainerSecurity {
  const sc = c.securityContext;
  return {
    privileged: sc?.privileged === true,
    capabilitiesAdd: sc?.capabilities?.add ?? [],
    capabilitiesDrop: sc?.capabilities?.drop ?? [],
    readOnlyRootFilesystem: sc?.readOnlyRootFilesystem === true,
    noNewPrivileges: sc?.allowPrivilegeEscalation === false,
  };
}

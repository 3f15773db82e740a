/**
 * OCI runtime specs (config.json) for pod sandboxes and containers, generated in-process (spawning a
 * helper per spec costs more than the container start itself; runtime.md §4.8).
 */
import type { ContainerConfig, SandboxConfig } from '../runtime.js';
import type { OciMount } from '../../volumes/types.js';

/** containerd's default capability set for unprivileged containers. */
export const defaultCapabilities = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
] as const;

/** Every capability the kernel knows (for privileged containers). */
export const allCapabilities = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
  'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

const maskedPaths = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
];
const readonlyPaths = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** The annotation keys that carry identity (runc list and state return them verbatim). */
export const annotation = {
  kind: 'io.skiff.kind',
  sandboxId: 'io.kubernetes.cri.sandbox-id',
  podUid: 'io.kubernetes.pod.uid',
  podName: 'io.kubernetes.pod.name',
  podNamespace: 'io.kubernetes.pod.namespace',
  containerName: 'io.kubernetes.container.name',
  restartCount: 'io.kubernetes.container.restartCount',
  containerKind: 'io.skiff.container.kind',
  image: 'io.kubernetes.cri.image-name',
  imageId: 'io.skiff.image-id',
  logPath: 'io.kubernetes.container.logpath',
} as const;

function baseMounts(privileged: boolean): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', privileged ? 'rw' : 'ro'] },
  ];
}

type Json = Record<string, unknown>;

/** The sandbox: pause in its own IPC and UTS (and PID) namespaces, in the pod's pinned network namespace. */
export function sandboxSpec(cfg: SandboxConfig, rootfs: string, annotations: Record<string, string>): Json {
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false, user: { uid: 65535, gid: 65535 }, args: ['/pause'], env: ['PATH=/'], cwd: '/',
      capabilities: { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] },
      // Nobody, no capabilities: its only job is to hold namespaces.
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly: true },
    hostname: cfg.hostname,
    mounts: baseMounts(false),
    annotations,
    linux: {
      cgroupsPath: `${cfg.cgroupParent}/${cfg.id}`,
      resources: { devices: [{ allow: false, access: 'rwm' }], cpu: { shares: 2 } },
      namespaces: [{ type: 'pid' }, { type: 'network', path: cfg.netnsPath }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths, readonlyPaths,
    },
  };
}

/** The pause process's namespaces a container joins. */
export interface SandboxNamespaces {
  readonly pausePid: number;
  readonly netnsPath: string;
  readonly shareProcessNamespace: boolean;
  readonly cgroupParent: string;
}

/** A container: joins the sandbox's network, IPC and UTS namespaces (and PID when the pod shares it). */
export function containerSpec(cfg: ContainerConfig, sb: SandboxNamespaces, rootfs: string, extraMounts: readonly OciMount[], annotations: Record<string, string>): Json {
  const privileged = cfg.security.privileged === true;
  let caps: string[] = privileged ? [...allCapabilities] : [...defaultCapabilities];
  const norm = (c: string): string => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`);
  if (!privileged) {
    const drop = (cfg.security.capabilitiesDrop ?? []).map(norm);
    caps = drop.includes('CAP_ALL') ? [] : caps.filter((c) => !drop.includes(c));
    for (const a of (cfg.security.capabilitiesAdd ?? []).map(norm)) {
      if (a === 'CAP_ALL') caps = [...allCapabilities];
      else if (!caps.includes(a)) caps.push(a);
    }
  }
  const r = cfg.resources;
  const resources: Json = {
    devices: privileged ? [{ allow: true, access: 'rwm' }] : [{ allow: false, access: 'rwm' }],
  };
  if (r.cpuShares !== undefined || r.cpuQuota !== undefined) {
    resources['cpu'] = {
      ...(r.cpuShares !== undefined ? { shares: r.cpuShares } : {}),
      ...(r.cpuQuota !== undefined ? { quota: r.cpuQuota, period: r.cpuPeriod ?? 100_000 } : {}),
    };
  }
  // Swap equal to the limit: memory+swap capped at the limit, so the container cannot swap (as kubelet does).
  if (r.memoryLimitBytes !== undefined) resources['memory'] = { limit: r.memoryLimitBytes, swap: r.memoryLimitBytes };
  const ns = `/proc/${sb.pausePid}/ns`;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: cfg.tty === true,
      user: { uid: cfg.user.uid, gid: cfg.user.gid, ...(cfg.user.additionalGids?.length ? { additionalGids: [...cfg.user.additionalGids] } : {}) },
      // A terminal gets TERM=xterm unless the pod says otherwise (as containerd and CRI-O do).
      args: [...cfg.args], env: cfg.tty && !cfg.env.some((e) => e.startsWith('TERM=')) ? [...cfg.env, 'TERM=xterm'] : [...cfg.env], cwd: cfg.cwd || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      noNewPrivileges: cfg.security.noNewPrivileges === true,
      // No rlimits: RLIMIT_NOFILE above the inherited hard limit fails without CAP_SYS_RESOURCE (runtime.md pitfall 1).
    },
    root: { path: rootfs, readonly: cfg.security.readOnlyRootFilesystem === true },
    mounts: [...baseMounts(privileged), ...extraMounts, ...cfg.mounts],
    annotations,
    linux: {
      cgroupsPath: `${sb.cgroupParent}/${cfg.id}`,
      resources,
      namespaces: [
        sb.shareProcessNamespace ? { type: 'pid', path: `${ns}/pid` } : { type: 'pid' },
        { type: 'network', path: sb.netnsPath },
        { type: 'ipc', path: `${ns}/ipc` },
        { type: 'uts', path: `${ns}/uts` },
        { type: 'mount' },
      ],
      ...(privileged ? {} : { maskedPaths, readonlyPaths }),
    },
  };
}

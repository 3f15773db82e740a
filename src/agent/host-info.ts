import { readFile, statfs } from 'node:fs/promises';
import { cpus, hostname, release } from 'node:os';

/** What a node reports about its machine. */
export interface HostInfo {
  readonly cpu: number;
  readonly memoryKi: number;
  readonly memoryAvailableKi: number;
  readonly storageBytes: number;
  readonly storageAvailableBytes: number;
  readonly kernelVersion: string;
  readonly osImage: string;
  readonly machineID: string;
  readonly bootID: string;
  readonly systemUUID: string;
  readonly architecture: string;
  readonly hostname: string;
  readonly pidMax: number;
  readonly pids: number;
}

const read = (path: string): Promise<string> => readFile(path, 'utf8').then((s) => s.trim(), () => '');

function meminfo(text: string, key: string): number {
  return Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
}

/** Node architecture names as Kubernetes uses them (GOARCH). */
export function goArch(arch: string = process.arch): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[arch] ?? arch;
}

/** Reads capacity and identity from the host: /proc, statfs of the agent's root dir, /etc/os-release. */
export async function readHostInfo(rootDir: string): Promise<HostInfo> {
  const [mem, osRelease, machineID, bootID, uuid, pidMax, loadavg, fs] = await Promise.all([
    read('/proc/meminfo'), read('/etc/os-release'), read('/etc/machine-id'), read('/proc/sys/kernel/random/boot_id'),
    read('/sys/class/dmi/id/product_uuid'), read('/proc/sys/kernel/pid_max'), read('/proc/loadavg'), statfs(rootDir),
  ]);
  return {
    cpu: cpus().length,
    memoryKi: meminfo(mem, 'MemTotal'),
    memoryAvailableKi: meminfo(mem, 'MemAvailable'),
    storageBytes: fs.blocks * fs.bsize,
    storageAvailableBytes: fs.bavail * fs.bsize,
    kernelVersion: release(),
    osImage: /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? 'Linux',
    machineID, bootID, systemUUID: uuid || machineID,
    architecture: goArch(),
    hostname: hostname(),
    pidMax: Number(pidMax) || 32768,
    // /proc/loadavg's 4th field is "running/total" scheduling entities.
    pids: Number(loadavg.split(' ')[3]?.split('/')[1] ?? 0),
  };
}

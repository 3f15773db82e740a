import { readFile, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Mount points of every cgroup hierarchy on this host (v1 controllers and the v2 unified one). */
export async function cgroupMounts(): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of info.split('\n')) {
    // "<id> <parent> <maj:min> <root> <mount point> <opts> ... - <fstype> <source> <super opts>"
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fstype = right.split(' ')[0];
    if (fstype === 'cgroup' || fstype === 'cgroup2') out.push(left.split(' ')[4]!.replace(/\\040/g, ' '));
  }
  return out;
}

/**
 * Removes a cgroup path (absolute, as in an OCI `cgroupsPath`) from every hierarchy, children first.
 * runc removes only the leaf it created (runtime.md §4.7), so pod- and QoS-level parents are ours to
 * clean. A directory still holding processes stays (rmdir fails with EBUSY) and is reported.
 */
export async function removeCgroup(path: string): Promise<string[]> {
  const busy: string[] = [];
  const rm = async (dir: string): Promise<void> => {
    let entries: string[];
    try {
      entries = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      return;
    }
    for (const e of entries) await rm(join(dir, e));
    try {
      await rmdir(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') busy.push(`${dir}: ${code}`);
    }
  };
  for (const m of await cgroupMounts()) await rm(join(m, path));
  return busy;
}

/** How many times the OOM killer struck in the cgroup (v1 `memory.oom_control` or v2 `memory.events`). */
export async function oomKills(path: string): Promise<number> {
  let kills = 0;
  for (const m of await cgroupMounts()) {
    for (const file of ['memory.oom_control', 'memory.events']) {
      try {
        const text = await readFile(join(m, path, file), 'utf8');
        const n = Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
        if (n > kills) kills = n;
      } catch {
        // not this hierarchy
      }
    }
  }
  return kills;
}

/**
 * SIGKILLs every process still in the cgroup tree at `path` (all hierarchies): what is left of
 * containers whose runtime state is gone. Returns how many were killed.
 */
export async function killCgroupProcesses(path: string): Promise<number> {
  const pids = new Set<number>();
  const walk = async (dir: string): Promise<void> => {
    const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const l of procs.split('\n')) if (/^\d+$/.test(l)) pids.add(Number(l));
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isDirectory()) await walk(join(dir, e.name));
  };
  for (const m of await cgroupMounts()) await walk(join(m, path));
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  return pids.size;
}

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Container, Pod, Volume } from 'kubernetes-types/core/v1.js';
import { KubeletVolumeManager, type KubeletVolumeManagerOptions } from './kubelet-volume-manager.js';
import type { VolumeSources } from './types.js';

/**
 * Shared fixtures of the volume tests: a private temp root per test file, an in-memory
 * VolumeSources (the API boundary, the only thing faked), pods, and a cleanup that does not trust the
 * code under test (it reads the mount table itself and detaches anything left).
 */

/** Mount points at or below `dir`, read straight from /proc/self/mountinfo. */
export function mountPointsUnder(dir: string): { mountPoint: string; fsType: string; superOptions: string }[] {
  const out: { mountPoint: string; fsType: string; superOptions: string }[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    const mp = f[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (sep < 0 || mp === undefined) continue;
    if (mp === dir || mp.startsWith(`${dir}/`)) out.push({ mountPoint: mp, fsType: f[sep + 1] ?? '', superOptions: f[sep + 3] ?? '' });
  }
  return out;
}

/** A fresh directory under the OS temp dir, with its real path (mountinfo shows real paths). */
export function makeTempRoot(prefix = 'skiff-volumes-'): string {
  return realpathSync(mkdtempSync(join(tmpdir(), prefix)));
}

/** Detaches every mount under `dir` (deepest first, lazily so nothing can block it) and deletes it. */
export function cleanupTempRoot(dir: string): void {
  for (let i = 0; i < 8; i++) {
    const mounts = mountPointsUnder(dir).sort((a, b) => b.mountPoint.length - a.mountPoint.length);
    if (mounts.length === 0) break;
    for (const m of mounts) {
      try {
        execFileSync('umount', ['-l', m.mountPoint], { stdio: 'ignore' });
      } catch {
        // retried next round; the check below refuses to delete through a live mount
      }
    }
  }
  if (mountPointsUnder(dir).length > 0) throw new Error(`mounts left under ${dir}`);
  rmSync(dir, { recursive: true, force: true });
}

/** An in-memory VolumeSources whose objects tests may change between calls. */
export class MemorySources implements VolumeSources {
  readonly configMaps = new Map<string, { data?: Record<string, string>; binaryData?: Record<string, string> }>();
  readonly secrets = new Map<string, { data?: Record<string, string> }>();

  async configMap(namespace: string, name: string): Promise<{ data?: Record<string, string>; binaryData?: Record<string, string> } | undefined> {
    return this.configMaps.get(`${namespace}/${name}`);
  }

  async secret(namespace: string, name: string): Promise<{ data?: Record<string, string> } | undefined> {
    return this.secrets.get(`${namespace}/${name}`);
  }
}

let uidCounter = 0;

/** A pod with the given volumes and containers (default: one container `app` with no mounts). */
export function makePod(volumes: Volume[], containers: Container[] = [{ name: 'app', image: 'busybox' }], extra: Partial<Pod['metadata']> = {}): Pod {
  uidCounter++;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', uid: `0000-test-${process.pid}-${uidCounter}`, ...extra },
    spec: { nodeName: 'node1', containers, volumes },
  };
}

/** A manager on `rootDir` with fixed node allocatable so results do not depend on the test machine. */
export function makeManager(rootDir: string, sources: VolumeSources = new MemorySources(), opts: Partial<KubeletVolumeManagerOptions> = {}): KubeletVolumeManager {
  return new KubeletVolumeManager({ rootDir, sources, nodeName: 'node1', nodeAllocatable: { cpu: '4', memory: '8Gi', 'ephemeral-storage': '100Gi' }, ...opts });
}

/** File permission bits as an octal string, e.g. "644". */
export function modeOf(st: { mode: number }): string {
  return (st.mode & 0o7777).toString(8);
}

/** A temp root for one test, detached and deleted when the test ends, even if it failed. */
export function tempRootFor(t: { after(fn: () => void): void }): string {
  const dir = makeTempRoot();
  t.after(() => cleanupTempRoot(dir));
  return dir;
}

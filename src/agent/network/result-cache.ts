import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { CniNetworkConfigList, CniResult } from './cni-types.js';

/**
 * What is remembered about one successful ADD: enough to run DEL or CHECK later, after an agent restart,
 * with the same config, arguments and the final result as `prevResult` (libcni keeps the same under
 * `/var/lib/cni/results`).
 */
export interface CachedAttachment {
  readonly kind: 'cniCacheV1';
  readonly containerId: string;
  readonly ifName: string;
  readonly networkName: string;
  readonly netns: string;
  readonly args: ReadonlyArray<readonly [string, string]>;
  readonly capabilityArgs: Readonly<Record<string, unknown>>;
  readonly config: CniNetworkConfigList;
  readonly result: CniResult;
}

/**
 * ADD results on disk, one JSON file per (network, container id, ifname) in one directory that belongs to
 * a single agent. Writes are atomic (temp file, fsync, rename) so a crash never leaves a torn result that
 * would make DEL impossible. Reads are synchronous because they are a few hundred bytes and
 * `PodNetwork.status` is synchronous.
 */
export class ResultCache {
  constructor(readonly dir: string) {}

  /** The file of one attachment; libcni's naming, `<network>-<containerId>-<ifName>`. */
  file(networkName: string, containerId: string, ifName: string): string {
    return join(this.dir, `${networkName}-${containerId}-${ifName}`);
  }

  /** The cached attachment, or undefined when none (or an unreadable one) is stored. */
  get(networkName: string, containerId: string, ifName: string): CachedAttachment | undefined {
    return readEntry(this.file(networkName, containerId, ifName));
  }

  /** Stores `entry` atomically, replacing any previous one. */
  async put(entry: CachedAttachment): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const final = this.file(entry.networkName, entry.containerId, entry.ifName);
    const tmp = `${final}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(entry));
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, final);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /** Removes one attachment's file; a missing file is fine. */
  async remove(networkName: string, containerId: string, ifName: string): Promise<void> {
    await rm(this.file(networkName, containerId, ifName), { force: true });
  }

  /**
   * Every readable attachment in the directory. File names are ambiguous (names and ids may contain '-'),
   * so identity comes from the contents. Leftover temp files of an interrupted write are listed in `stray`.
   */
  list(): { entries: CachedAttachment[]; stray: string[] } {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return { entries: [], stray: [] };
    }
    const entries: CachedAttachment[] = [];
    const stray: string[] = [];
    for (const n of names) {
      const p = join(this.dir, n);
      const e = n.includes('.tmp-') ? undefined : readEntry(p);
      if (e) entries.push(e);
      else stray.push(p);
    }
    return { entries, stray };
  }
}

function readEntry(path: string): CachedAttachment | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<CachedAttachment>;
    if (v.kind !== 'cniCacheV1' || typeof v.containerId !== 'string' || typeof v.networkName !== 'string' || !v.result) return undefined;
    return v as CachedAttachment;
  } catch {
    return undefined;
  }
}

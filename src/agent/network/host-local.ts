import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isIP } from 'node:net';

/** One address host-local has handed out: the file named after the IP records who holds it. */
export interface IpamReservation {
  readonly ip: string;
  readonly containerId: string;
  /** Recorded by plugins ≥ 0.8 on the second line; undefined in older files. */
  readonly ifName?: string;
  readonly path: string;
}

/**
 * The reservations of one network in host-local's store (`<dataDir>/<network>/<ip>`, content
 * `<containerId>\r\n<ifname>`). Other files there (`last_reserved_ip.0`, `lock`) are not reservations.
 */
export async function listReservations(dataDir: string, network: string): Promise<IpamReservation[]> {
  const dir = join(dataDir, network);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: IpamReservation[] = [];
  for (const name of names) {
    if (isIP(name) === 0) continue;
    const path = join(dir, name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      continue; // released between readdir and read
    }
    const [id, ifName] = text.split(/\r?\n/).map((s) => s.trim());
    if (!id) continue;
    out.push({ ip: name, containerId: id, ...(ifName ? { ifName } : {}), path });
  }
  return out.sort((a, b) => a.ip.localeCompare(b.ip));
}

/** Deletes a reservation file directly: the last resort when host-local's own DEL could not release it. */
export async function removeReservation(r: IpamReservation): Promise<void> {
  await rm(r.path, { force: true });
}

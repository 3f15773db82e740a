import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { EndpointSubset, Endpoints } from 'kubernetes-types/core/v1.js';
import type { RestClient } from './rest-client.js';
import type { ServerBalancer } from './server-balancer.js';
import type { Logger } from '../util/log.js';

/** How long a server no longer advertised stays a fallback: one cut off from etcd for a while drops out of the Endpoints. */
const rememberMs = 24 * 3600_000;

/** The API server URLs an Endpoints object lists. */
export function serverURLs(ep: { subsets?: readonly EndpointSubset[] }): string[] {
  const urls: string[] = [];
  for (const s of ep.subsets ?? []) {
    const port = s.ports?.find((p) => p.name === 'https')?.port ?? s.ports?.[0]?.port;
    if (!port) continue;
    for (const a of s.addresses ?? []) urls.push(`https://${a.ip.includes(':') ? `[${a.ip}]` : a.ip}:${port}`);
  }
  return urls;
}

interface Seen { readonly url: string; readonly seen: number }

function readSeen(file: string): Seen[] {
  if (!existsSync(file)) return [];
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return Array.isArray(v) ? v.filter((x): x is Seen => typeof x?.url === 'string' && typeof x?.seen === 'number') : [];
  } catch {
    return [];
  }
}

/** The servers seen within the last day when last running (so a restart works while the first-given server is down). */
export function loadKnownServers(file: string, now = Date.now()): string[] {
  return readSeen(file).filter((s) => now - s.seen < rememberMs).map((s) => s.url);
}

/**
 * Learns the cluster's API servers from the `default/kubernetes` Endpoints (every server keeps itself listed
 * there while it lives), hands them to the balancer and remembers them in `file`. The servers given on the
 * command line stay in the list (the advertised addresses may not be the ones this machine reaches), and so,
 * last, do servers advertised within the last day.
 */
export class ServerDiscovery {
  #timer: NodeJS.Timeout | undefined;
  #last = '';
  readonly #seen = new Map<string, number>();

  constructor(private readonly o: { client: RestClient; balancer: ServerBalancer; configured: readonly string[]; file: string; log: Logger; everyMs?: number }) {
    for (const s of readSeen(o.file)) this.#seen.set(s.url, s.seen);
  }

  async start(): Promise<void> {
    await this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.o.everyMs ?? 15_000);
    this.#timer.unref();
  }

  async refresh(): Promise<void> {
    const r = await this.o.client.request<Endpoints>('GET', '/api/v1/namespaces/default/endpoints/kubernetes').catch(() => undefined);
    if (r?.status !== 200) return;
    const advertised = serverURLs(r.body);
    if (advertised.length === 0) return;
    const now = Date.now();
    for (const u of advertised) this.#seen.set(u, now);
    for (const [u, at] of this.#seen) if (now - at >= rememberMs) this.#seen.delete(u);
    const servers = [...new Set([...this.o.configured, ...advertised, ...this.#seen.keys()])];
    this.#persist();
    const key = servers.join(',');
    if (key === this.#last) return;
    this.#last = key;
    this.o.balancer.setServers(servers);
    this.o.log.info('API servers', { servers, advertised });
  }

  #persist(): void {
    try {
      const tmp = `${this.o.file}.tmp`;
      writeFileSync(tmp, JSON.stringify([...this.#seen].map(([url, seen]) => ({ url, seen }))));
      renameSync(tmp, this.o.file);
    } catch (e) {
      // Only a restart while the given servers are all down needs the file.
      this.o.log.warn('cannot remember the API servers', { file: this.o.file, err: e as Error });
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

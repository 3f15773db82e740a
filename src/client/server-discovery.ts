import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Endpoints } from 'kubernetes-types/core/v1.js';
import type { RestClient } from './rest-client.js';
import type { ServerBalancer } from './server-balancer.js';
import { serverURLs } from '../apiserver/endpoints-reconciler.js';
import type { Logger } from '../util/log.js';

/** The servers known when last running (so a restart works while the first-given server is down). */
export function loadKnownServers(file: string): string[] {
  if (!existsSync(file)) return [];
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * Learns the cluster's API servers from the `default/kubernetes` Endpoints (every server keeps itself listed
 * there while it lives), hands them to the balancer and remembers them in `file`. The servers given on the
 * command line stay in the list: the advertised addresses may not be the ones this machine reaches.
 */
export class ServerDiscovery {
  #timer: NodeJS.Timeout | undefined;
  #last = '';

  constructor(private readonly o: { client: RestClient; balancer: ServerBalancer; configured: readonly string[]; file: string; log: Logger; everyMs?: number }) {}

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
    const servers = [...new Set([...this.o.configured, ...advertised])];
    const key = servers.join(',');
    if (key === this.#last) return;
    this.#last = key;
    this.o.balancer.setServers(servers);
    this.o.log.info('API servers', { servers });
    try {
      const tmp = `${this.o.file}.tmp`;
      writeFileSync(tmp, JSON.stringify(servers));
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

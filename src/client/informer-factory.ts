import type { KubeObject } from '../api/types.js';
import { Informer } from './informer.js';
import { resourcePath } from './paths.js';
import type { RestClient } from './rest-client.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';

/** One shared informer per resource for every controller of a process, as client-go's SharedInformerFactory. */
export class InformerFactory {
  readonly #client: RestClient;
  readonly #informers = new Map<string, Informer<KubeObject>>();
  readonly #o: { clock?: Clock; log?: Logger; resyncMs?: number };
  #started = false;

  constructor(client: RestClient, o: { clock?: Clock; log?: Logger; resyncMs?: number } = {}) {
    this.#client = client;
    this.#o = o;
  }

  /** The cluster-wide informer of a resource (created on first request). */
  for<T extends KubeObject>(group: string, version: string, plural: string): Informer<T> {
    const key = `${group}/${version}/${plural}`;
    let inf = this.#informers.get(key);
    if (!inf) {
      inf = new Informer<KubeObject>(this.#client, { path: resourcePath({ group, version, plural }), clock: this.#o.clock, log: this.#o.log, resyncMs: this.#o.resyncMs });
      this.#informers.set(key, inf);
      if (this.#started) void inf.start();
    }
    return inf as unknown as Informer<T>;
  }

  /** Starts every informer requested so far (and later ones as they are requested); resolves when all have synced. */
  async start(): Promise<void> {
    this.#started = true;
    await Promise.all([...this.#informers.values()].map((i) => i.start()));
  }

  stop(): void {
    for (const i of this.#informers.values()) i.stop();
  }
}

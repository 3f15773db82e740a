import type { KubeObject } from '../api/types.js';
import { realClock, type Clock } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/log.js';
import { ApiRequestError, type RestClient } from './rest-client.js';
import { rfc3339 } from '../util/time.js';
import { EventCorrelator } from './event-correlator.js';

export type EventType = 'Normal' | 'Warning';

const maxPending = 1000;

/**
 * Records core/v1 Events about objects, as client-go's recorder: identical events bump `count` and
 * `lastTimestamp` on one Event (`kubectl describe` shows "x3 over 2m"), similar ones are combined and the
 * long tail is dropped (see EventCorrelator). Writes happen in the background, in order; a recorder
 * never blocks or fails its caller.
 */
export class EventRecorder {
  readonly #client: RestClient;
  readonly #component: string;
  readonly #host: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #correlator = new EventCorrelator();
  #chain: Promise<void> = Promise.resolve();
  #pending = 0;

  constructor(client: RestClient, component: string, o: { host?: string; clock?: Clock; log?: Logger } = {}) {
    this.#client = client;
    this.#component = component;
    this.#host = o.host ?? '';
    this.#clock = o.clock ?? realClock;
    this.#log = o.log ?? silentLogger;
  }

  /** Records an event about `obj` (`fieldPath` points into it, e.g. `spec.containers{nginx}`). */
  event(obj: KubeObject, type: EventType, reason: string, message: string, fieldPath?: string): void {
    if (this.#pending >= maxPending) {
      this.#log.warn('dropping event: too many pending', { reason });
      return;
    }
    this.#pending++;
    this.#chain = this.#chain.then(() => this.#write(obj, type, reason, message, fieldPath)).catch((e: unknown) => {
      this.#log.warn('cannot record event', { reason, object: obj.metadata.name, err: e as Error });
    }).finally(() => { this.#pending--; });
  }

  /** Resolves when every event recorded so far has been written (tests, shutdown). */
  flush(): Promise<void> {
    return this.#chain;
  }

  async #write(obj: KubeObject, type: EventType, reason: string, message: string, fieldPath?: string): Promise<void> {
    const now = this.#clock.now();
    const ns = obj.metadata.namespace || 'default';
    const involvedObject: Record<string, unknown> = {
      kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name, uid: obj.metadata.uid,
      apiVersion: obj.apiVersion, resourceVersion: obj.metadata.resourceVersion,
    };
    if (fieldPath) involvedObject['fieldPath'] = fieldPath;
    const c = this.#correlator.correlate({
      component: this.#component, host: this.#host, kind: obj.kind ?? '', namespace: ns, name: obj.metadata.name ?? '', uid: obj.metadata.uid ?? '',
      apiVersion: obj.apiVersion ?? '', fieldPath: fieldPath ?? '', type, reason, message,
    }, now);
    if (c.skip) return;
    if (c.existing) {
      const r = await this.#client.request('PATCH', `/api/v1/namespaces/${ns}/events/${c.existing.name}`, {
        body: { count: c.count, lastTimestamp: rfc3339(now), message: c.message }, contentType: 'application/merge-patch+json',
      });
      if (r.status === 200) {
        this.#correlator.written(c.key, { name: c.existing.name, count: c.count, firstTimestamp: c.existing.firstTimestamp });
        return;
      }
      // Gone (expired or deleted): start a new Event.
      this.#correlator.forget(c.key);
    }
    const name = `${obj.metadata.name}.${(BigInt(now) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000))).toString(16)}`;
    const body = {
      apiVersion: 'v1', kind: 'Event', metadata: { name, namespace: ns },
      involvedObject, reason, message: c.message, type,
      source: { component: this.#component, ...(this.#host ? { host: this.#host } : {}) },
      firstTimestamp: rfc3339(now), lastTimestamp: rfc3339(now), count: 1,
      reportingComponent: this.#component, reportingInstance: this.#host,
    };
    const r = await this.#client.request('POST', `/api/v1/namespaces/${ns}/events`, { body });
    if (r.status !== 201) throw new ApiRequestError(r.status, r.body as never, 'POST', 'events');
    this.#correlator.written(c.key, { name, count: 1, firstTimestamp: body.firstTimestamp });
  }
}

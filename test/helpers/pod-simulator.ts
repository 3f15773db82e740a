import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../src/api/types.js';
import { Informer } from '../../src/client/informer.js';
import type { RestClient } from '../../src/client/rest-client.js';

type P = Pod & KubeObject;

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * A test stand-in for the scheduler and kubelet, acting only through the API (until those land): binds
 * unscheduled pods to a simulated node, reports them Running (and Ready unless held back), and finishes
 * graceful deletions as a kubelet would. It is a simulation, named so, for controller tests only.
 */
export class PodSimulator {
  readonly #client: RestClient;
  readonly #inf: Informer<P>;
  readonly #node: string;
  /** When false, new pods start Running but not Ready (to watch a rollout wait for availability). */
  ready = true;
  #busy = new Set<string>();
  #latest = new Map<string, P>();

  constructor(client: RestClient, node = 'sim-node-1') {
    this.#client = client;
    this.#node = node;
    this.#inf = new Informer<P>(client, { path: '/api/v1/pods' });
    this.#inf.addHandlers({ add: (p) => this.#step(p), update: (_o, p) => this.#step(p) });
  }

  async start(): Promise<void> {
    await this.#inf.start();
  }

  stop(): void {
    this.#inf.stop();
  }

  /** Makes every Running pod of the simulated node Ready (after `ready = false` held them back). */
  async makeAllReady(): Promise<void> {
    this.ready = true;
    for (const p of this.#inf.list()) await this.#report(p, true);
  }

  #step(p: P): void {
    const key = `${p.metadata.namespace}/${p.metadata.name}`;
    // One action per pod at a time; a version seen meanwhile is acted on when the current action ends.
    if (this.#busy.has(key)) { this.#latest.set(key, p); return; }
    this.#busy.add(key);
    void this.#act(p).catch(() => undefined).finally(() => {
      this.#busy.delete(key);
      const next = this.#latest.get(key);
      this.#latest.delete(key);
      if (next) this.#step(next);
    });
  }

  async #act(p: P): Promise<void> {
    const ns = p.metadata.namespace;
    const name = p.metadata.name;
    if (p.metadata.deletionTimestamp) {
      await this.#client.request('DELETE', `/api/v1/namespaces/${ns}/pods/${name}`, { body: { gracePeriodSeconds: 0, preconditions: { uid: p.metadata.uid } } });
      return;
    }
    if (!p.spec?.nodeName) {
      await this.#client.request('POST', `/api/v1/namespaces/${ns}/pods/${name}/binding`, {
        body: { apiVersion: 'v1', kind: 'Binding', metadata: { name }, target: { apiVersion: 'v1', kind: 'Node', name: this.#node } },
      });
      return;
    }
    if (p.status?.phase === 'Pending') await this.#report(p, this.ready);
  }

  async #report(p: P, ready: boolean): Promise<void> {
    if (p.metadata.deletionTimestamp || !p.spec?.nodeName) return;
    const isReady = p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    if (p.status?.phase === 'Running' && isReady === ready) return;
    const t = now();
    const cond = (type: string, status: boolean): Record<string, unknown> => ({ type, status: status ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: t });
    const status = {
      ...(p.status ?? {}),
      phase: 'Running',
      hostIP: '10.0.0.1',
      podIP: '10.42.0.10',
      podIPs: [{ ip: '10.42.0.10' }],
      startTime: p.status?.startTime ?? t,
      conditions: [cond('PodReadyToStartContainers', true), cond('Initialized', true), cond('Ready', ready), cond('ContainersReady', ready), cond('PodScheduled', true)],
      containerStatuses: (p.spec?.containers ?? []).map((c) => ({
        name: c.name, image: c.image, imageID: '', ready, restartCount: 0, started: true, state: { running: { startedAt: t } },
      })),
    };
    await this.#client.request('PUT', `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}/status`, { body: { ...p, status } });
  }
}

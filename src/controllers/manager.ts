import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { RestClient } from '../client/rest-client.js';
import { InformerFactory } from '../client/informer-factory.js';
import { EventRecorder } from '../client/event-recorder.js';
import { LeaderElector, type LeaderElectionTiming } from '../client/leader-election.js';
import { realClock, type Clock } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { Controller, ControllerConfig, ControllerContext } from './controller.js';
import { ReplicaSetController } from './replicaset/replicaset-controller.js';
import { DeploymentController } from './deployment/deployment-controller.js';
import { GarbageCollector } from './garbagecollector/garbage-collector.js';
import { NamespaceController } from './namespace/namespace-controller.js';
import { NodeIpamController } from './nodeipam/node-ipam-controller.js';
import { NodeLifecycleController } from './nodelifecycle/node-lifecycle-controller.js';
import { TaintEvictionController } from './tainteviction/taint-eviction-controller.js';
import { DisruptionController } from './disruption/disruption-controller.js';
import { PodGCController } from './podgc/pod-gc-controller.js';
import type { NodeLifecycleOptions } from './nodelifecycle/options.js';

/** Every controller skiff has, by the name `--controllers` uses. */
export const controllerNames = ['deployment', 'replicaset', 'garbagecollector', 'namespace', 'nodelifecycle', 'tainteviction', 'disruption', 'nodeipam', 'podgc'] as const;
export type ControllerName = (typeof controllerNames)[number];

const constructors: Record<ControllerName, (ctx: ControllerContext) => Controller> = {
  deployment: (ctx) => new DeploymentController(ctx),
  replicaset: (ctx) => new ReplicaSetController(ctx),
  garbagecollector: (ctx) => new GarbageCollector(ctx),
  namespace: (ctx) => new NamespaceController(ctx),
  nodelifecycle: (ctx) => new NodeLifecycleController(ctx, ctx.nodeLifecycle),
  tainteviction: (ctx) => new TaintEvictionController(ctx),
  disruption: (ctx) => new DisruptionController(ctx),
  nodeipam: (ctx) => new NodeIpamController(ctx),
  podgc: (ctx) => new PodGCController(ctx, ctx.config?.podGC),
};

/** Reads kube-controller-manager style `--controllers` values: `*`, `name`, `-name`. */
export function selectControllers(spec: readonly string[]): ControllerName[] {
  const items = spec.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  const list = items.length === 0 ? ['*'] : items;
  const enabled = new Set<ControllerName>();
  for (const item of list) {
    if (item === '*') controllerNames.forEach((n) => enabled.add(n));
    else if (item.startsWith('-')) enabled.delete(item.slice(1) as ControllerName);
    else if ((controllerNames as readonly string[]).includes(item)) enabled.add(item as ControllerName);
    else throw new Error(`--controllers: unknown controller "${item}" (known: ${controllerNames.join(', ')})`);
  }
  for (const item of list) if (item.startsWith('-') && !(controllerNames as readonly string[]).includes(item.slice(1))) throw new Error(`--controllers: unknown controller "${item.slice(1)}"`);
  return controllerNames.filter((n) => enabled.has(n));
}

export interface ControllerManagerOptions {
  readonly client: RestClient;
  readonly controllers?: readonly ControllerName[];
  readonly workers?: number;
  readonly clock?: Clock;
  readonly log?: Logger;
  /** Settings of the controllers (`--cluster-cidr`, …). */
  readonly config?: ControllerConfig;
  /** Take the `kube-controller-manager` Lease first, so only one manager acts per cluster (default true). */
  readonly leaderElection?: boolean;
  /** Lease duration and retry period (upstream's 15 s and 2 s when absent). */
  readonly leaderElectionTiming?: LeaderElectionTiming;
  /** Node lifecycle settings (grace period, eviction rates, zone thresholds); upstream's defaults when absent. */
  readonly nodeLifecycle?: NodeLifecycleOptions;
}

/**
 * Runs the controllers, as kube-controller-manager does: behind a leader election Lease, with shared
 * informers started and synced before any controller acts, everything through the API client.
 */
export class ControllerManager {
  readonly #o: ControllerManagerOptions;
  readonly #log: Logger;
  readonly #clock: Clock;

  constructor(o: ControllerManagerOptions) {
    this.#o = o;
    this.#log = (o.log ?? silentLogger).with({ component: 'controller-manager' });
    this.#clock = o.clock ?? realClock;
  }

  /** Runs until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const lead = async (leadership: AbortSignal): Promise<void> => {
      const informers = new InformerFactory(this.#o.client, { clock: this.#clock, log: this.#log });
      const recorders: EventRecorder[] = [];
      const ctx: ControllerContext = {
        client: this.#o.client,
        informers,
        clock: this.#clock,
        log: this.#log,
        ...(this.#o.config ? { config: this.#o.config } : {}),
        ...(this.#o.nodeLifecycle ? { nodeLifecycle: this.#o.nodeLifecycle } : {}),
        recorder: (component) => {
          const r = new EventRecorder(this.#o.client, component, { clock: this.#clock, log: this.#log });
          recorders.push(r);
          return r;
        },
      };
      const names = this.#o.controllers ?? controllerNames;
      const controllers = names.map((n) => constructors[n](ctx));
      const started = this.#clock.now();
      await informers.start();
      this.#log.info('controllers starting', { controllers: names, cacheSyncMs: this.#clock.now() - started });
      await Promise.all(controllers.map((c) => c.run(leadership, this.#o.workers ?? 5)));
      informers.stop();
      await Promise.all(recorders.map((r) => r.flush()));
    };
    if (this.#o.leaderElection === false) {
      await lead(signal);
      return;
    }
    const elector = new LeaderElector(this.#o.client, {
      name: 'kube-controller-manager', identity: `${hostname()}_${randomUUID()}`, clock: this.#clock, log: this.#log, ...this.#o.leaderElectionTiming,
    });
    await elector.run(lead, signal);
  }
}

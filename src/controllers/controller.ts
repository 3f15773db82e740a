import type { RestClient } from '../client/rest-client.js';
import type { InformerFactory } from '../client/informer-factory.js';
import type { EventRecorder } from '../client/event-recorder.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { NodeLifecycleOptions } from './nodelifecycle/options.js';
import type { PodGCOptions } from './podgc/pod-gc-controller.js';

/** What every controller gets from the controller manager. */
export interface ControllerContext {
  readonly client: RestClient;
  readonly informers: InformerFactory;
  /** An event recorder reporting as `component` (e.g. `deployment-controller`). */
  recorder(component: string): EventRecorder;
  readonly clock: Clock;
  readonly log: Logger;
  /** Settings of the node lifecycle controller (kube-controller-manager's flags of those names). */
  readonly nodeLifecycle?: NodeLifecycleOptions;
  /** Node IPAM's flags. */
  readonly config?: ControllerConfig;
}

export interface ControllerConfig {
  /** `--cluster-cidr`: where node IPAM takes each node's pod subnet from (default 10.42.0.0/16). */
  readonly clusterCIDR?: string;
  /** `--node-cidr-mask-size` (default 24). */
  readonly nodeCIDRMaskSize?: number;
  /** The pod garbage collector's `--terminated-pod-gc-threshold` (and, for tests, its period and quarantine). */
  readonly podGC?: PodGCOptions;
}

/**
 * A controller in the Kubernetes style: informer handlers only enqueue keys; `run` processes keys with
 * an idempotent, level-triggered sync until the signal aborts.
 */
export interface Controller {
  readonly name: string;
  run(signal: AbortSignal, workers: number): Promise<void>;
}

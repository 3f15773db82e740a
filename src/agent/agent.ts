import { randomBytes } from 'node:crypto';
import { NodeRoutes } from './network/node-routes.js';
import { availableParallelism } from 'node:os';
import { mkdir } from 'node:fs/promises';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../api/types.js';
import { EventRecorder } from '../client/event-recorder.js';
import { Informer } from '../client/informer.js';
import { objectKey } from '../client/paths.js';
import type { RestClient } from '../client/rest-client.js';
import { realClock, type Clock } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/log.js';
import { Backoff } from './backoff.js';
import { readHostInfo } from './host-info.js';
import type { ImageService } from './images/types.js';
import type { PodNetwork } from './network/types.js';
import { NodeStatusReporter } from './node-status.js';
import { PodWorker, type PodWorkerDeps } from './pod-worker.js';
import type { ContainerRuntime, ContainerStatus, SandboxStatus } from './runtime/runtime.js';
import type { VolumeManager, VolumeSources } from './volumes/types.js';
import { ApiVolumeSources } from './api-volume-sources.js';
import type { ResourceAmounts } from './downward/resource-field.js';
import { deepEqual } from '../util/deep-equal.js';
import { PriorityGate } from '../util/priority-gate.js';
import { logTarget, type LogTarget } from './logs/log-target.js';
import { ContainerLogManager } from './logs/container-log-manager.js';

type P = Pod & KubeObject;

export interface AgentOptions {
  readonly client: RestClient;
  readonly nodeName: string;
  /** The node's address (status.addresses InternalIP, status.hostIP of its pods). */
  readonly address: string;
  readonly podCIDR: string;
  /** Route other nodes' pod CIDRs via their addresses (host-gw; default true). */
  readonly podRoutes?: boolean;
  readonly runtime: ContainerRuntime;
  readonly network: PodNetwork;
  readonly images: ImageService;
  readonly volumes: VolumeManager;
  /** kubelet's root dir (pod volumes live under `<rootDir>/pods/<uid>`). */
  readonly rootDir: string;
  readonly podLogDir: string;
  /** Absolute cgroup every pod of this agent goes under. */
  readonly cgroupRoot: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly maxPods?: number;
  readonly kubeletPort?: number;
  readonly heartbeatMs?: number;
  /** How often every pod is synced even when nothing was heard (kubelet's sync frequency). */
  readonly resyncMs?: number;
  /** Sandbox creations and container starts in flight at once (default: the CPUs, at least 2). */
  readonly startConcurrency?: number;
  /**
   * Container log rotation by size (kubelet's containerLogMaxSize, containerLogMaxFiles and
   * containerLogMonitorInterval); defaults in logs/container-log-manager.ts (10 MiB, 5 files, 10 s).
   */
  readonly logRotation?: { readonly maxSize?: number; readonly maxFiles?: number; readonly intervalMs?: number };
  readonly clock?: Clock;
  readonly log?: Logger;
  readonly sources?: VolumeSources;
}

/**
 * The node agent (skiff's kubelet): registers the Node and keeps it alive, watches the pods bound to it,
 * and runs one serialized worker per pod that converges what runs on runc to what the pod asks for. On
 * start it adopts what is already running (containers outlive the agent) and removes what no pod owns.
 */
export class Agent {
  readonly #o: AgentOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #workers = new Map<string, PodWorker>();
  #informer: Informer<P> | undefined;
  #status: NodeStatusReporter | undefined;
  #routes: NodeRoutes | undefined;
  #deps: PodWorkerDeps | undefined;
  #resync: { cancel(): void } | undefined;
  #removingOrphans = false;
  readonly #logs: ContainerLogManager;
  #stopped = false;
  /** Container and sandbox id → pod uid, from the last runtime listing (to route exit events). */
  readonly #owner = new Map<string, string>();
  #state: Promise<{ sandboxes: readonly SandboxStatus[]; containers: readonly ContainerStatus[] }> | undefined;
  /** The last listing asked for has not started yet: new askers can share it. */
  #stateQueued = false;
  #allocatable: ResourceAmounts = new Map();

  constructor(o: AgentOptions) {
    this.#o = o;
    this.#clock = o.clock ?? realClock;
    this.#log = (o.log ?? silentLogger).with({ component: 'agent', node: o.nodeName });
    this.#logs = new ContainerLogManager({ runtime: o.runtime, ...o.logRotation, clock: this.#clock, log: this.#log });
  }

  /**
   * One listing of the runtime serves every worker that asks while it runs; a worker asking after a
   * listing started gets the next one, so nobody acts on a state older than its question.
   */
  #runtimeState(): Promise<{ sandboxes: readonly SandboxStatus[]; containers: readonly ContainerStatus[] }> {
    if (this.#state && this.#stateQueued) return this.#state;
    const previous = this.#state ?? Promise.resolve(undefined);
    this.#stateQueued = true;
    const next = previous.catch(() => undefined).then(async () => {
      this.#stateQueued = false;
      const [sandboxes, containers] = await Promise.all([this.#o.runtime.listSandboxes(), this.#o.runtime.listContainers()]);
      for (const s of sandboxes) this.#owner.set(s.id, s.pod.uid);
      for (const c of containers) this.#owner.set(c.id, c.pod.uid);
      return { sandboxes, containers };
    });
    this.#state = next;
    return next;
  }

  async start(): Promise<void> {
    const o = this.#o;
    await Promise.all([mkdir(o.rootDir, { recursive: true }), mkdir(o.podLogDir, { recursive: true })]);
    const version = await o.runtime.version();
    const recorder = new EventRecorder(o.client, 'kubelet', { host: o.nodeName, clock: this.#clock, log: this.#log });
    this.#status = new NodeStatusReporter({
      client: o.client, nodeName: o.nodeName, address: o.address, podCIDR: o.podCIDR, maxPods: o.maxPods ?? 110,
      labels: {
        'kubernetes.io/hostname': o.nodeName, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': (await readHostInfo(o.rootDir)).architecture,
        'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': (await readHostInfo(o.rootDir)).architecture, ...(o.labels ?? {}),
      },
      runtimeVersion: `${version.name}://${version.version}`, ...(o.kubeletPort !== undefined ? { kubeletPort: o.kubeletPort } : {}),
      host: async () => {
        const h = await readHostInfo(o.rootDir);
        this.#allocatable = new Map([['cpu', BigInt(h.cpu) * 1000n], ['memory', BigInt(h.memoryKi) * 1024n * 1000n], ['ephemeral-storage', BigInt(h.storageBytes) * 1000n]]);
        return h;
      },
      images: () => o.images.list(), clock: this.#clock, log: this.#log,
      ...(o.heartbeatMs !== undefined ? { heartbeatMs: o.heartbeatMs } : {}),
    });
    await this.#status.register();
    this.#status.start();
    if (o.podRoutes !== false) {
      this.#routes = new NodeRoutes({
        client: o.client, nodeName: o.nodeName, address: o.address, podCIDR: o.podCIDR, log: this.#log,
        onPeerPodCIDRs: async (cidrs) => { await o.network.setPeerPodCIDRs?.(cidrs); },
      });
      await this.#routes.start();
    }

    this.#deps = {
      runtime: o.runtime, network: o.network, images: o.images, volumes: o.volumes,
      sources: o.sources ?? new ApiVolumeSources(o.client), client: o.client, recorder, clock: this.#clock, log: this.#log,
      hostIP: o.address, podLogDir: o.podLogDir, rootDir: o.rootDir, cgroupRoot: o.cgroupRoot,
      nodeAllocatable: () => this.#allocatable, runtimeState: () => this.#runtimeState(),
      newId: () => randomBytes(16).toString('hex'),
      restartBackoff: new Backoff(this.#clock), pullBackoff: new Backoff(this.#clock),
      startGate: new PriorityGate(o.startConcurrency ?? Math.max(2, availableParallelism())),
    };
    o.runtime.onExit((id) => {
      this.#stateQueued = false;
      const route = (): boolean => {
        const uid = this.#owner.get(id);
        const w = uid ? this.#workers.get(uid) : undefined;
        w?.kick();
        return uid !== undefined;
      };
      // A container that exits before any listing saw it has no known owner yet: a fresh listing
      // (taken after the exit, so it holds the container) finds it; otherwise the exit would wait for the resync.
      if (!route()) void this.#runtimeState().then(route, (e: Error) => this.#log.warn('cannot list the runtime after an exit', { id, err: e }));
    });

    const inf = new Informer<P>(o.client, { path: '/api/v1/pods', fieldSelector: `spec.nodeName=${o.nodeName}`, clock: this.#clock, log: this.#log });
    this.#informer = inf;
    inf.addHandlers({
      add: (p) => this.#onPod(p),
      update: (_old, p) => this.#onPod(p),
      delete: (p) => this.#workers.get(p.metadata.uid ?? '')?.remove(),
    });
    await inf.start();
    await this.#removeOrphans();
    const every = o.resyncMs ?? 30_000;
    const tick = (): void => {
      if (this.#stopped) return;
      this.#stateQueued = false;
      for (const w of this.#workers.values()) w.kick();
      // Housekeeping, as kubelet's: what a failed or interrupted teardown left behind goes on a later pass.
      void this.#removeOrphans(false).catch((e: Error) => this.#log.warn('cannot remove the containers of pods that are gone', { err: e }));
      this.#resync = this.#clock.setTimeout(tick, every);
    };
    this.#resync = this.#clock.setTimeout(tick, every);
    this.#logs.start();
    this.#log.info('agent started', { pods: this.#workers.size, runtime: `${version.name} ${version.version}` });
  }

  #onPod(p: P): void {
    const uid = p.metadata.uid ?? '';
    let w = this.#workers.get(uid);
    if (!w) {
      w = new PodWorker(this.#deps!, p, () => this.#workers.delete(uid));
      this.#workers.set(uid, w);
      w.update(p);
      return;
    }
    // As kubelet's pod config: a change of status alone (most often our own write coming back) is not a
    // reason to sync; the worker keeps the newest object all the same.
    const before = w.pod;
    const differs = !deepEqual(before.spec, p.spec) || !deepEqual(before.metadata.labels, p.metadata.labels)
      || !deepEqual(before.metadata.annotations, p.metadata.annotations) || before.metadata.deletionTimestamp !== p.metadata.deletionTimestamp
      || before.metadata.deletionGracePeriodSeconds !== p.metadata.deletionGracePeriodSeconds;
    if (differs) {
      this.#stateQueued = false;
      w.update(p);
    } else {
      w.replace(p);
    }
  }

  /**
   * Sandboxes and containers of pods this node no longer has (deleted while the agent was away, or left by a teardown
   * that failed) go. A pod a worker still tears down is its worker's.
   */
  async #removeOrphans(atStart = true): Promise<void> {
    if (this.#removingOrphans) return;
    this.#removingOrphans = true;
    try {
      await this.#removeOrphansOnce(atStart);
    } finally {
      this.#removingOrphans = false;
    }
  }

  /** `atStart`: also the network's leftovers (only then is no sandbox between its network and its container). */
  async #removeOrphansOnce(atStart: boolean): Promise<void> {
    // The listing first: whatever it holds was made by a worker that exists by the time `known` is taken.
    const { sandboxes, containers } = await this.#runtimeState();
    const known = new Set([...this.#informer!.list().map((p) => p.metadata.uid ?? ''), ...this.#workers.keys()]);
    const orphans = new Set([...sandboxes.map((s) => s.pod.uid), ...containers.map((c) => c.pod.uid)].filter((u) => !known.has(u)));
    for (const uid of orphans) {
      this.#log.info('removing the containers of a pod that is gone', { uid });
      for (const c of containers.filter((x) => x.pod.uid === uid)) {
        await this.#o.runtime.stopContainer(c.id, 2000).catch(() => {});
        await this.#o.runtime.removeContainer(c.id).catch((e: Error) => this.#log.warn('cannot remove container', { id: c.id, err: e }));
      }
      for (const s of sandboxes.filter((x) => x.pod.uid === uid)) {
        await this.#o.network.tearDown(s.id).catch(() => {});
        await this.#o.runtime.stopSandbox(s.id).catch(() => {});
        await this.#o.runtime.removeSandbox(s.id).catch((e: Error) => this.#log.warn('cannot remove sandbox', { id: s.id, err: e }));
      }
      await this.#o.volumes.tearDown(uid).catch(() => {});
    }
    this.#stateQueued = false;
    if (!atStart) return;
    const live = new Set((await this.#runtimeState()).sandboxes.map((s) => s.id));
    await this.#o.network.garbageCollect(live).catch((e: Error) => this.#log.warn('network garbage collection failed', { err: e }));
  }

  /** The pod `namespace/podName` as this agent last heard of it. */
  #podNamed(namespace: string, podName: string): P | undefined {
    return this.#informer?.get(objectKey({ namespace, name: podName }));
  }

  /** The log file `kubectl logs` means for a pod's container on this node, or kubelet's reason why there is none. */
  async logTarget(namespace: string, podName: string, container: string, previous: boolean): Promise<LogTarget> {
    const pod = this.#podNamed(namespace, podName);
    const { containers } = pod ? await this.#runtimeState() : { containers: [] };
    return logTarget(pod, podName, container, previous, containers.filter((c) => c.pod.uid === pod?.metadata.uid));
  }

  /** The running instance of a pod's container for `kubectl exec`, or kubelet's words for why there is none. */
  async execTarget(namespace: string, podName: string, container: string): Promise<{ kind: 'ok'; containerId: string } | { kind: 'error'; message: string }> {
    const pod = this.#podNamed(namespace, podName);
    if (!pod) return { kind: 'error', message: `pod not found ("${podName}_${namespace}")` };
    this.#stateQueued = false;
    const c = (await this.#runtimeState()).containers
      .filter((x) => x.pod.uid === pod.metadata.uid && x.name === container && x.state === 'running')
      .sort((a, b) => b.attempt - a.attempt)[0];
    return c ? { kind: 'ok', containerId: c.id } : { kind: 'error', message: `container not found ("${container}")` };
  }

  /** The ready sandbox of a pod for `kubectl port-forward`, or kubelet's words for why there is none. */
  async portForwardTarget(namespace: string, podName: string): Promise<{ kind: 'ok'; podFullName: string; uid: string; sandboxId: string } | { kind: 'error'; message: string }> {
    const pod = this.#podNamed(namespace, podName);
    if (!pod) return { kind: 'error', message: `pod not found ("${podName}_${namespace}")` };
    this.#stateQueued = false;
    const sb = (await this.#runtimeState()).sandboxes
      .filter((x) => x.pod.uid === pod.metadata.uid && x.state === 'ready')
      .sort((a, b) => b.attempt - a.attempt)[0];
    if (!sb) return { kind: 'error', message: `pod "${podName}_${namespace}" has no running sandbox` };
    return { kind: 'ok', podFullName: `${podName}_${namespace}`, uid: pod.metadata.uid ?? '', sandboxId: sb.id };
  }

  /** Whether a container still runs (or is about to): a log follower stops once it does not. */
  async containerRunning(id: string): Promise<boolean> {
    this.#stateQueued = false;
    const c = (await this.#runtimeState()).containers.find((x) => x.id === id);
    return c?.state === 'running' || c?.state === 'created';
  }

  /** Stops watching and heart-beating; containers keep running (they outlive the agent by design). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#resync?.cancel();
    await this.#logs.stop();
    this.#informer?.stop();
    this.#routes?.stop();
    this.#status?.stop();
    await this.#o.runtime.close();
  }
}

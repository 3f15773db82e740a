import type { Node, Pod, Taint } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../api/types.js';
import { Informer } from '../client/informer.js';
import type { RestClient } from '../client/rest-client.js';
import { realClock, type Clock } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/log.js';
import { rfc3339, rfc3339Micro } from '../util/time.js';

type P = Pod & KubeObject;

/** One simulated node's shape. */
export interface SimulatedNodeSpec {
  readonly name: string;
  readonly cpu?: string;
  readonly memory?: string;
  readonly pods?: number;
  readonly ephemeralStorage?: string;
  readonly labels?: Record<string, string>;
  readonly taints?: Taint[];
}

export interface SimulationOptions {
  readonly client: RestClient;
  readonly nodes: readonly SimulatedNodeSpec[];
  readonly clock?: Clock;
  readonly log?: Logger;
  /** How long a simulated container takes to start (default 0 ms). */
  readonly startDelayMs?: number;
  /** Lease renewal period (default 10 s, as the kubelet). */
  readonly heartbeatMs?: number;
  /** Writes in flight at once (default 32). */
  readonly concurrency?: number;
}

/** Annotations a test pod can carry to steer its simulated lifecycle. */
export const simAnnotations = {
  /** Containers exit with this code right after starting. */
  exitCode: 'sim.skiff.io/exit-code',
  /** Containers run this many seconds, then exit 0. */
  runSeconds: 'sim.skiff.io/run-seconds',
  /** Containers start but never become ready. */
  neverReady: 'sim.skiff.io/never-ready',
} as const;

/**
 * On a simulated Node, `"true"` makes it go silent as a crashed machine would: no Lease renewals, and
 * its pods are left as they are (a deletion is not completed). Removing it brings the node back: it
 * reports Ready again and catches up with its pods.
 */
export const simStopHeartbeatsAnnotation = 'sim.skiff.io/stop-heartbeats';

/** A tiny semaphore bounding concurrent API writes. */
class Limiter {
  #active = 0;
  #waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#active >= this.max) await new Promise<void>((r) => this.#waiting.push(r));
    this.#active++;
    try { return await fn(); } finally { this.#active--; this.#waiting.shift()?.(); }
  }
}

/**
 * SIMULATION — not a node agent. Registers Node objects that run no containers, keeps them Ready with
 * Lease heartbeats, and drives the pods bound to them through a believable lifecycle through the API
 * (Running with container statuses, a pod IP and Ready; deletion completed as a kubelet would), so the
 * scheduler and controllers can be tested and benchmarked at a scale no machine could run for real.
 */
export class SimulatedNodes {
  readonly #o: SimulationOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #limit: Limiter;
  readonly #names: Set<string>;
  readonly #nodeIndex = new Map<string, number>();
  readonly #podIPs = new Map<string, number>();
  readonly #acting = new Set<string>();
  readonly #again = new Map<string, P>();
  #pods: Informer<P> | undefined;
  #nodes: Informer<Node & KubeObject> | undefined;
  /** Nodes whose heartbeats are stopped (they act as crashed). */
  readonly #silent = new Set<string>();
  #heartbeat: { cancel(): void } | undefined;
  #stopped = false;

  constructor(o: SimulationOptions) {
    this.#o = o;
    this.#clock = o.clock ?? realClock;
    this.#log = (o.log ?? silentLogger).with({ component: 'simulate' });
    this.#limit = new Limiter(o.concurrency ?? 32);
    this.#names = new Set(o.nodes.map((n) => n.name));
    o.nodes.forEach((n, i) => this.#nodeIndex.set(n.name, i));
  }

  #nodeIP(name: string): string {
    const i = this.#nodeIndex.get(name) ?? 0;
    return `10.200.${Math.floor(i / 250)}.${(i % 250) + 1}`;
  }

  #nodeObject(spec: SimulatedNodeSpec): Node {
    const now = rfc3339(this.#clock.now());
    const capacity = { cpu: spec.cpu ?? '4', memory: spec.memory ?? '8Gi', pods: String(spec.pods ?? 110), 'ephemeral-storage': spec.ephemeralStorage ?? '100Gi' };
    const cond = (type: string, status: string, reason: string, message: string): Record<string, string> => ({ type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: now });
    return {
      apiVersion: 'v1', kind: 'Node',
      metadata: {
        name: spec.name,
        labels: { 'kubernetes.io/hostname': spec.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'node.skiff.io/simulated': 'true', ...(spec.labels ?? {}) },
        annotations: { 'node.skiff.io/simulated': 'true' },
      },
      spec: spec.taints && spec.taints.length > 0 ? { taints: spec.taints } : {},
      status: {
        capacity, allocatable: capacity,
        conditions: [
          cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'simulated node has sufficient memory available'),
          cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'simulated node has no disk pressure'),
          cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'simulated node has sufficient PID available'),
          cond('Ready', 'True', 'KubeletReady', 'simulated node is posting ready status'),
        ] as never,
        addresses: [{ type: 'InternalIP', address: this.#nodeIP(spec.name) }, { type: 'Hostname', address: spec.name }],
        nodeInfo: {
          machineID: '', systemUUID: '', bootID: '', kernelVersion: 'simulated', osImage: 'skiff simulated node',
          containerRuntimeVersion: 'simulated://skiff', kubeletVersion: 'v1.32.0-sim', kubeProxyVersion: '', operatingSystem: 'linux', architecture: 'amd64',
        },
      },
    };
  }

  /** Registers the nodes and their leases, then drives the pods bound to them until `stop`. */
  async start(): Promise<void> {
    const c = this.#o.client;
    await Promise.all(this.#o.nodes.map((spec) => this.#limit.run(async () => {
      const body = this.#nodeObject(spec);
      const r = await c.request('POST', '/api/v1/nodes', { body });
      if (r.status === 409) {
        const cur = await c.call<Node & KubeObject>('GET', `/api/v1/nodes/${spec.name}`);
        await c.request('PUT', `/api/v1/nodes/${spec.name}`, { body: { ...body, metadata: { ...body.metadata, resourceVersion: cur.metadata.resourceVersion } } });
        const fresh = await c.call<Node & KubeObject>('GET', `/api/v1/nodes/${spec.name}`);
        await c.request('PUT', `/api/v1/nodes/${spec.name}/status`, { body: { ...fresh, status: body.status } });
      } else if (r.status !== 201) {
        throw new Error(`cannot register simulated node ${spec.name}: ${r.status} ${(r.body as { message?: string }).message ?? ''}`);
      }
    })));
    await Promise.all(this.#o.nodes.map((spec) => this.#limit.run(() => this.#renewLease(spec.name))));
    this.#scheduleHeartbeats();
    this.#pods = new Informer<P>(c, { path: '/api/v1/pods', clock: this.#clock, log: this.#log });
    this.#pods.addHandlers({ add: (p) => this.#step(p), update: (_o, p) => this.#step(p) });
    await this.#pods.start();
    // Tests stop and resume a node's heartbeats with an annotation on the Node (see simStopHeartbeatsAnnotation).
    this.#nodes = new Informer<Node & KubeObject>(c, { path: '/api/v1/nodes', labelSelector: 'node.skiff.io/simulated=true', clock: this.#clock, log: this.#log });
    // Only a change of the annotation acts, so stopHeartbeats/resumeHeartbeats called directly are not undone.
    const stopAsked = (n: Node & KubeObject): boolean => n.metadata.annotations?.[simStopHeartbeatsAnnotation] === 'true';
    const onNode = (old: (Node & KubeObject) | undefined, n: Node & KubeObject): void => {
      const name = n.metadata.name!;
      const stop = stopAsked(n);
      if (!this.#names.has(name) || (old ? stopAsked(old) : false) === stop) return;
      if (stop) this.stopHeartbeats(name);
      else void this.resumeHeartbeats(name).catch((e: unknown) => this.#log.warn('cannot resume simulated node', { node: name, err: e as Error }));
    };
    this.#nodes.addHandlers({ add: (n) => onNode(undefined, n), update: (o, n) => onNode(o, n) });
    await this.#nodes.start();
    this.#log.info('simulated nodes ready', { nodes: this.#o.nodes.length });
  }

  async #renewLease(name: string): Promise<void> {
    const c = this.#o.client;
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`;
    const spec = { holderIdentity: name, leaseDurationSeconds: 40, renewTime: rfc3339Micro(this.#clock.now()) };
    const cur = await c.request<KubeObject & { spec?: object }>('GET', path);
    if (cur.status === 404) {
      await c.request('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', { body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: 'kube-node-lease' }, spec } });
      return;
    }
    if (cur.status === 200) await c.request('PUT', path, { body: { ...cur.body, spec: { ...(cur.body.spec ?? {}), ...spec } } });
  }

  #scheduleHeartbeats(): void {
    const period = this.#o.heartbeatMs ?? 10_000;
    const names = [...this.#names];
    if (names.length === 0) return;
    // Renewals are spread over the period in small slices, not all at once.
    const tickMs = 100;
    const perTick = Math.max(1, Math.ceil((names.length * tickMs) / period));
    let i = 0;
    const tick = (): void => {
      if (this.#stopped) return;
      for (let k = 0; k < perTick; k++) {
        const n = names[i]!;
        i = (i + 1) % names.length;
        if (this.#silent.has(n)) continue;
        void this.#limit.run(() => this.#renewLease(n)).catch(() => undefined);
      }
      this.#heartbeat = this.#clock.setTimeout(tick, tickMs);
    };
    this.#heartbeat = this.#clock.setTimeout(tick, tickMs);
  }

  /** The node goes silent, as a crashed machine: no more heartbeats, its pods left as they are. */
  stopHeartbeats(name: string): void {
    if (!this.#names.has(name)) throw new Error(`${name} is not a node of this simulation`);
    this.#silent.add(name);
    this.#log.info('simulated node stopped heartbeating', { node: name });
  }

  /**
   * The node is back: it renews its Lease, reports Ready again (as a restarted kubelet does) and catches
   * up with its pods — deletions completed, running pods reported Ready again.
   */
  async resumeHeartbeats(name: string): Promise<void> {
    if (!this.#silent.delete(name)) return;
    const spec = this.#o.nodes.find((n) => n.name === name)!;
    await this.#renewLease(name);
    const c = this.#o.client;
    const fresh = this.#nodeObject(spec).status;
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await c.request<Node & KubeObject>('GET', `/api/v1/nodes/${name}`);
      if (cur.status !== 200) break;
      const r = await c.request('PUT', `/api/v1/nodes/${name}/status`, { body: { ...cur.body, status: { ...(cur.body.status ?? {}), conditions: fresh?.conditions } } });
      if (r.status !== 409) break;
    }
    this.#log.info('simulated node heartbeating again', { node: name });
    for (const p of this.#pods?.list() ?? []) {
      if (p.spec?.nodeName !== name) continue;
      this.#step(p);
    }
  }

  /** A running pod whose containers all run, and that should be Ready but is not reported so. */
  #shouldBeReady(p: P): boolean {
    if (p.metadata.annotations?.[simAnnotations.neverReady] === 'true') return false;
    const statuses = p.status?.containerStatuses ?? [];
    if (statuses.length === 0 || !statuses.every((cs) => cs.state?.running)) return false;
    return !p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True');
  }

  /** A running pod's containers are ready again (after its node came back). */
  async #reportReady(p: P): Promise<void> {
    const now = rfc3339(this.#clock.now());
    const status = structuredClone(p.status ?? {}) as NonNullable<P['status']>;
    for (const cond of status.conditions ?? []) {
      if ((cond.type === 'Ready' || cond.type === 'ContainersReady') && cond.status !== 'True') Object.assign(cond, { status: 'True', lastTransitionTime: now });
    }
    for (const cs of status.containerStatuses ?? []) Object.assign(cs, { ready: true });
    await this.#o.client.request('PUT', `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}/status`, { body: { ...p, status } });
  }

  #step(p: P): void {
    if (!p.spec?.nodeName || !this.#names.has(p.spec.nodeName)) return;
    if (this.#silent.has(p.spec.nodeName)) return;
    const key = `${p.metadata.namespace}/${p.metadata.name}`;
    if (this.#acting.has(key)) { this.#again.set(key, p); return; }
    this.#acting.add(key);
    void this.#limit.run(() => this.#act(p)).catch((e: unknown) => this.#log.debug('simulated pod step failed', { pod: key, err: e as Error })).finally(() => {
      this.#acting.delete(key);
      const next = this.#again.get(key);
      this.#again.delete(key);
      if (next && !this.#stopped) this.#step(next);
    });
  }

  async #act(p: P): Promise<void> {
    const c = this.#o.client;
    const path = `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`;
    if (p.metadata.deletionTimestamp) {
      // The simulated containers stop at once; the kubelet's last word is the deletion with grace 0.
      await c.request('DELETE', path, { body: { gracePeriodSeconds: 0, preconditions: { uid: p.metadata.uid } } });
      return;
    }
    if (p.status?.phase === 'Running' && this.#shouldBeReady(p)) {
      // Marked not Ready while its node was away (the node lifecycle controller does that): report it again, as a kubelet would.
      await this.#reportReady(p);
      return;
    }
    if (p.status?.phase !== 'Pending') return;
    const delay = this.#o.startDelayMs ?? 0;
    if (delay > 0) await new Promise<void>((r) => this.#clock.setTimeout(r, delay));
    await c.request('PUT', `${path}/status`, { body: { ...p, status: this.#runningStatus(p) } });
    const runSeconds = Number(p.metadata.annotations?.[simAnnotations.runSeconds]);
    if (Number.isFinite(runSeconds) && runSeconds > 0) {
      this.#clock.setTimeout(() => void this.#limit.run(() => this.#finish(p, 0)).catch(() => undefined), runSeconds * 1000);
    }
  }

  #podIP(node: string): string {
    const n = (this.#podIPs.get(node) ?? 1) + 1;
    this.#podIPs.set(node, n > 250 ? 2 : n);
    const i = this.#nodeIndex.get(node) ?? 0;
    return `10.${100 + Math.floor(i / 256) % 100}.${i % 256}.${n}`;
  }

  #runningStatus(p: P): Record<string, unknown> {
    const now = rfc3339(this.#clock.now());
    const exitCode = p.metadata.annotations?.[simAnnotations.exitCode];
    const failed = exitCode !== undefined && exitCode !== '0';
    const ready = !failed && p.metadata.annotations?.[simAnnotations.neverReady] !== 'true';
    const cond = (type: string, status: boolean): Record<string, unknown> => ({ type, status: status ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: now });
    const ip = this.#podIP(p.spec!.nodeName!);
    const restartAlways = (p.spec?.restartPolicy ?? 'Always') === 'Always';
    const containerStatuses = (p.spec?.containers ?? []).map((c) => ({
      name: c.name, image: c.image, imageID: `simulated://${c.image}`, containerID: `simulated://${p.metadata.uid}/${c.name}`, started: !failed,
      ready, restartCount: 0,
      state: failed
        ? (restartAlways ? { waiting: { reason: 'CrashLoopBackOff', message: `back-off restarting failed container ${c.name}` } } : { terminated: { exitCode: Number(exitCode), reason: 'Error', startedAt: now, finishedAt: now } })
        : { running: { startedAt: now } },
      ...(failed && restartAlways ? { lastState: { terminated: { exitCode: Number(exitCode), reason: 'Error', startedAt: now, finishedAt: now } } } : {}),
    }));
    const initContainerStatuses = (p.spec?.initContainers ?? []).map((c) => ({
      name: c.name, image: c.image, imageID: `simulated://${c.image}`, containerID: `simulated://${p.metadata.uid}/${c.name}`, ready: true, restartCount: 0,
      state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: now, finishedAt: now } },
    }));
    return {
      ...(p.status ?? {}),
      phase: failed && !restartAlways ? 'Failed' : 'Running',
      hostIP: this.#nodeIP(p.spec!.nodeName!), hostIPs: [{ ip: this.#nodeIP(p.spec!.nodeName!) }],
      podIP: ip, podIPs: [{ ip }],
      startTime: now,
      conditions: [cond('PodReadyToStartContainers', true), cond('Initialized', true), cond('Ready', ready), cond('ContainersReady', ready), cond('PodScheduled', true)],
      containerStatuses,
      ...(initContainerStatuses.length > 0 ? { initContainerStatuses } : {}),
    };
  }

  async #finish(p: P, exitCode: number): Promise<void> {
    const c = this.#o.client;
    const path = `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`;
    const cur = await c.request<P>('GET', path);
    if (cur.status !== 200 || cur.body.metadata.uid !== p.metadata.uid) return;
    const now = rfc3339(this.#clock.now());
    const status = { ...(cur.body.status ?? {}) } as Record<string, unknown>;
    const restartAlways = (p.spec?.restartPolicy ?? 'Always') === 'Always';
    if (restartAlways) return;
    status['phase'] = exitCode === 0 ? 'Succeeded' : 'Failed';
    status['conditions'] = ((status['conditions'] as { type: string }[]) ?? []).map((x) => (x.type === 'Ready' || x.type === 'ContainersReady' ? { ...x, status: 'False', reason: 'PodCompleted', lastTransitionTime: now } : x));
    status['containerStatuses'] = (p.spec?.containers ?? []).map((ct) => ({
      name: ct.name, image: ct.image, imageID: `simulated://${ct.image}`, containerID: `simulated://${p.metadata.uid}/${ct.name}`, ready: false, started: false, restartCount: 0,
      state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: now, finishedAt: now } },
    }));
    await c.request('PUT', `${path}/status`, { body: { ...cur.body, status } });
  }

  /** Stops driving pods; with `removeNodes`, deletes the simulated nodes and their leases. */
  async stop(removeNodes = false): Promise<void> {
    this.#stopped = true;
    this.#heartbeat?.cancel();
    this.#pods?.stop();
    this.#nodes?.stop();
    if (!removeNodes) return;
    const c = this.#o.client;
    // When the server is gone there is nothing to clean up: give up at the first connection failure
    // rather than trying thousands of nodes one by one.
    let unreachable = false;
    await Promise.all([...this.#names].map((n) => this.#limit.run(async () => {
      if (unreachable) return;
      try {
        await c.request('DELETE', `/api/v1/nodes/${n}`);
        await c.request('DELETE', `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${n}`);
      } catch (e) {
        if (!unreachable) this.#log.warn('cannot remove simulated nodes: server unreachable', { err: e as Error });
        unreachable = true;
      }
    })));
  }
}

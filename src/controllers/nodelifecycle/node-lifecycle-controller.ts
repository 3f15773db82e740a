import type { Node, NodeCondition, Pod, PodStatus, Taint } from 'kubernetes-types/core/v1.js';
import { PodsByNode } from '../pods-by-node.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { KubeObject } from '../../api/types.js';
import type { Informer } from '../../client/informer.js';
import type { EventRecorder } from '../../client/event-recorder.js';
import { objectKey, resourcePath } from '../../client/paths.js';
import { ApiRequestError } from '../../client/rest-client.js';
import { WorkQueue, runWorkers } from '../../client/work-queue.js';
import { updatePodCondition } from '../../api/update-pod-condition.js';
import type { Controller, ControllerContext } from '../controller.js';
import { checkNodeHealth, type HealthCheck, type NodeHealth } from './node-health.js';
import { hasTaint, noScheduleTaintChanges, notReadyTaint, swapTaints, unreachableTaint } from './node-taints.js';
import { nodeLifecycleSettings, type NodeLifecycleOptions, type NodeLifecycleSettings } from './options.js';
import { RateLimitedTimedQueue, type ActionResult } from './rate-limited-queue.js';
import { excludeDisruptionLabel, planDisruption, zoneKey, zoneName, type ZoneState } from './zone-state.js';

type N = Node & KubeObject;
type L = Lease & KubeObject;
type P = Pod & KubeObject;

/** How often queued nodes are tainted while some wait for their zone's rate (upstream's NodeEvictionPeriod). */
const taintingPeriodMs = 100;
/** Attempts at a write that lost a race with another writer of the same node. */
const writeAttempts = 5;

/**
 * The node lifecycle controller, as kube-controller-manager's: watches Nodes and their Leases in
 * `kube-node-lease`; a node silent for `--node-monitor-grace-period` gets its Ready (and pressure)
 * conditions set to Unknown, its pods marked not Ready, and — through its zone's rate-limited queue —
 * the NoExecute taint `node.kubernetes.io/unreachable` (`not-ready` when the agent itself reports
 * Ready=False), which the taint eviction controller acts on. The taints go when the node is healthy
 * again. Zone states throttle or stop evictions when many nodes fail at once, and stop them entirely
 * when every node is down (it is then the control plane that is cut off). It also keeps the NoSchedule
 * taints that mirror node conditions and cordons (TaintNodesByCondition).
 */
export class NodeLifecycleController implements Controller {
  readonly name = 'nodelifecycle';
  readonly #ctx: ControllerContext;
  readonly #s: NodeLifecycleSettings;
  readonly #rec: EventRecorder;
  readonly #nodes: Informer<N>;
  readonly #leases: Informer<L>;
  readonly #pods: Informer<P>;
  readonly #health = new Map<string, NodeHealth>();
  /** When the informers delivered each node's latest Lease renewal and Ready heartbeat (see checkNodeHealth). */
  readonly #seen = new Map<string, { renewTime?: string; leaseAt?: number; heartbeat?: string; readyAt?: number }>();
  readonly #known = new Set<string>();
  readonly #tainters = new Map<string, RateLimitedTimedQueue>();
  readonly #podsByNode = new PodsByNode();
  readonly #noSchedule: WorkQueue<string>;
  #zoneStates = new Map<string, ZoneState>();
  #wake: (() => void) | undefined;
  #again = false;
  #taintTimer: { cancel(): void } | undefined;
  #tainting = false;
  #stopped = false;

  constructor(ctx: ControllerContext, options: NodeLifecycleOptions = {}) {
    this.#ctx = ctx;
    this.#s = nodeLifecycleSettings(options);
    this.#rec = ctx.recorder('node-controller');
    this.#noSchedule = new WorkQueue({ clock: ctx.clock });
    this.#nodes = ctx.informers.for<N>('', 'v1', 'nodes');
    this.#leases = ctx.informers.for<L>('coordination.k8s.io', 'v1', 'leases');
    this.#pods = ctx.informers.for<P>('', 'v1', 'pods');
    this.#nodes.addHandlers({
      add: (n) => { this.#noteHeartbeat(n); this.#noSchedule.add(n.metadata.name!); this.#kick(); },
      update: (old, n) => {
        if (old.metadata.resourceVersion === n.metadata.resourceVersion) return;
        this.#noteHeartbeat(n);
        this.#noSchedule.add(n.metadata.name!);
        // A node reporting Ready again (or not) is acted on at once rather than at the next period; a
        // healthy node's routine heartbeat only needs noting.
        const changed = readyOf(old)?.status !== readyOf(n)?.status;
        const unhealthy = this.#health.get(n.metadata.name!)?.ready?.status !== 'True';
        if (changed || (unhealthy && readyOf(old)?.lastHeartbeatTime !== readyOf(n)?.lastHeartbeatTime)) this.#kick();
      },
      delete: (n) => { this.#seen.delete(n.metadata.name!); this.#kick(); },
    });
    this.#leases.addHandlers({
      add: (l) => this.#noteRenewal(l),
      update: (_old, l) => {
        this.#noteRenewal(l);
        // A renewal from a node we consider unhealthy may mean it is back.
        if (l.metadata.namespace === 'kube-node-lease' && this.#health.get(l.metadata.name!)?.ready?.status !== 'True') this.#kick();
      },
    });
    this.#pods.addHandlers({
      add: (p) => this.#podsByNode.update(undefined, p),
      update: (old, p) => this.#podsByNode.update(old, p),
      delete: (p) => this.#podsByNode.update(p, undefined),
    });
  }

  /**
   * Heartbeats count from when they arrive, not from the next health pass: a node's grace period then
   * ends `--node-monitor-grace-period` after its last heartbeat, not up to a monitor period later.
   */
  #noteRenewal(l: L): void {
    if (l.metadata.namespace !== 'kube-node-lease') return;
    const s = this.#seen.get(l.metadata.name!) ?? {};
    const renew = l.spec?.renewTime;
    if (renew && renew !== s.renewTime) this.#seen.set(l.metadata.name!, { ...s, renewTime: renew, leaseAt: this.#ctx.clock.now() });
  }

  #noteHeartbeat(n: N): void {
    const s = this.#seen.get(n.metadata.name!) ?? {};
    const hb = readyOf(n)?.lastHeartbeatTime;
    if (hb && hb !== s.heartbeat) this.#seen.set(n.metadata.name!, { ...s, heartbeat: hb, readyAt: this.#ctx.clock.now() });
  }

  async run(signal: AbortSignal, workers: number): Promise<void> {
    signal.addEventListener('abort', () => {
      this.#stopped = true;
      this.#noSchedule.shutDown();
      this.#taintTimer?.cancel();
      this.#wake?.();
    });
    await Promise.all([this.#nodes.waitForSync(), this.#leases.waitForSync(), this.#pods.waitForSync()]);
    await Promise.all([
      runWorkers(this.#noSchedule, Math.max(1, Math.min(workers, 4)), (name) => this.#syncNoScheduleTaints(name), (name, e) => this.#ctx.log.warn('node taint sync failed', { node: name, err: e as Error })),
      this.#monitorLoop(),
    ]);
  }

  // ------------------------------------------------------------------ health monitor

  /** Runs a health pass every `--node-monitor-period`, sooner when a node's grace runs out first or something changed. */
  async #monitorLoop(): Promise<void> {
    while (!this.#stopped) {
      let nextMs = this.#s.monitorPeriodMs;
      this.#again = false;
      try {
        nextMs = await this.#monitorNodeHealth();
      } catch (e) {
        this.#ctx.log.warn('node health pass failed', { err: e as Error });
      }
      if (this.#stopped) return;
      if (this.#again) continue;
      await new Promise<void>((resolve) => {
        const t = this.#ctx.clock.setTimeout(() => { this.#wake = undefined; resolve(); }, nextMs);
        this.#wake = () => { t.cancel(); this.#wake = undefined; resolve(); };
      });
    }
  }

  /** Asks for a health pass now (or right after the running one). */
  #kick(): void {
    this.#again = true;
    this.#wake?.();
  }

  /** One pass over every node (upstream's monitorNodeHealth); resolves with the delay until the next one is due. */
  async #monitorNodeHealth(): Promise<number> {
    const nodes = this.#nodes.list();
    const names = new Set(nodes.map((n) => n.metadata.name!));
    for (const n of nodes) {
      const name = n.metadata.name!;
      if (this.#known.has(name)) continue;
      this.#known.add(name);
      this.#rec.event(nodeRef(n), 'Normal', 'RegisteredNode', `Node ${name} event: Registered Node ${name} in Controller`);
      this.#tainter(zoneKey(n));
      // As upstream, a node new to this controller starts without the controller's NoExecute taints;
      // they come back within the pass if it is still unhealthy.
      await this.#markReachable(n);
    }
    for (const name of [...this.#known]) {
      if (names.has(name)) continue;
      this.#known.delete(name);
      this.#rec.event({ apiVersion: 'v1', kind: 'Node', metadata: { name } }, 'Normal', 'RemovingNode', `Node ${name} event: Removing Node ${name} from Controller`);
      this.#health.delete(name);
      for (const q of this.#tainters.values()) q.remove(name);
    }

    const zones = new Map<string, (string | undefined)[]>();
    let nextMs = this.#s.monitorPeriodMs;
    for (const n of nodes) {
      if (this.#stopped) return nextMs;
      let r: (HealthCheck & { node: N }) | undefined;
      try {
        r = await this.#updateNodeHealth(n);
      } catch (e) {
        this.#ctx.log.warn('cannot update node health', { node: n.metadata.name, err: e as Error });
        continue;
      }
      if (!r) continue;
      const node = r.node;
      if (!node.metadata.labels?.[excludeDisruptionLabel]) {
        const z = zoneKey(node);
        let list = zones.get(z);
        if (!list) zones.set(z, (list = []));
        list.push(r.current?.status);
      }
      if (r.current) {
        // The condition as it is now, our own write included, decides the taint, so a lost node is
        // tainted in the pass that finds it lost (upstream waits for the next pass).
        await this.#processTaintBasedEviction(node, r.current);
        if (r.current.status !== 'True') {
          if (r.observed.status === 'True') {
            this.#rec.event(nodeRef(node), 'Normal', 'NodeNotReady', `Node ${node.metadata.name} status is now: NodeNotReady`);
          }
          await this.#markPodsNotReady(node.metadata.name!);
        }
      }
      if (r.current?.status !== 'Unknown') nextMs = Math.min(nextMs, r.deadline - this.#ctx.clock.now() + 1);
    }
    await this.#handleDisruption(zones, nodes);
    return Math.max(10, nextMs);
  }

  /** Checks one node's heartbeats and writes Unknown conditions when it went silent, re-reading it after a conflict. */
  async #updateNodeHealth(first: N): Promise<(HealthCheck & { node: N }) | undefined> {
    const name = first.metadata.name!;
    const c = this.#ctx.client;
    const lease = this.#leases.get(`kube-node-lease/${name}`);
    let node = first;
    for (let attempt = 0; attempt < writeAttempts; attempt++) {
      const seen = this.#seen.get(name);
      const observed = {
        ...(seen?.renewTime === lease?.spec?.renewTime && seen?.leaseAt !== undefined ? { lease: seen.leaseAt } : {}),
        ...(seen?.heartbeat === readyOf(node)?.lastHeartbeatTime && seen?.readyAt !== undefined ? { ready: seen.readyAt } : {}),
      };
      const check = checkNodeHealth(node, lease, this.#health.get(name), this.#ctx.clock.now(), this.#s.monitorGracePeriodMs, this.#s.startupGracePeriodMs, observed);
      if (!check.conditions) {
        this.#health.set(name, check.health);
        return { ...check, node };
      }
      const path = resourcePath({ group: '', version: 'v1', plural: 'nodes', name, subresource: 'status' });
      const r = await c.request<N>('PUT', path, { body: { ...node, status: { ...(node.status ?? {}), conditions: check.conditions } } });
      if (r.status === 200) {
        this.#health.set(name, check.health);
        this.#ctx.log.info('node stopped posting status', { node: name, graceMs: this.#s.monitorGracePeriodMs });
        return { ...check, node: r.body };
      }
      if (r.status === 404) return undefined;
      if (r.status !== 409) throw new ApiRequestError(r.status, r.body as never, 'PUT', path);
      const fresh = await c.request<N>('GET', resourcePath({ group: '', version: 'v1', plural: 'nodes', name }));
      if (fresh.status === 404) return undefined;
      if (fresh.status !== 200) throw new ApiRequestError(fresh.status, fresh.body as never, 'GET', path);
      node = fresh.body;
    }
    throw new Error(`node ${name}: too many conflicts updating its status`);
  }

  /** Upstream's processTaintBaseEviction: queue the node for its NoExecute taint, swap it, or take it off. */
  async #processTaintBasedEviction(node: N, ready: NodeCondition): Promise<void> {
    const taints = node.spec?.taints;
    switch (ready.status) {
      case 'False':
        // Already tainted unreachable: the swap needs no token, it is the same eviction.
        if (hasTaint(taints, unreachableTaint)) await this.#updateTaints(node.metadata.name!, (n) => swapTaints(n.spec?.taints, [notReadyTaint], [unreachableTaint], this.#ctx.clock.now()));
        else this.#markForTainting(node, notReadyTaint);
        return;
      case 'Unknown':
        if (hasTaint(taints, notReadyTaint)) await this.#updateTaints(node.metadata.name!, (n) => swapTaints(n.spec?.taints, [unreachableTaint], [notReadyTaint], this.#ctx.clock.now()));
        else this.#markForTainting(node, unreachableTaint);
        return;
      default:
        await this.#markReachable(node);
    }
  }

  #markForTainting(node: N, taint: Taint): void {
    const q = this.#tainter(zoneKey(node));
    const name = node.metadata.name!;
    // Not tainted yet: (re)queue behind the others, as upstream does.
    if (!hasTaint(node.spec?.taints, taint)) q.remove(name);
    if (q.add(name, node.metadata.uid ?? '')) this.#kickTainting();
  }

  /** Takes the controller's NoExecute taints off a node and out of its zone's queue (upstream's markNodeAsReachable). */
  async #markReachable(node: N): Promise<void> {
    const name = node.metadata.name!;
    for (const q of this.#tainters.values()) q.remove(name);
    const taints = node.spec?.taints;
    if (!hasTaint(taints, unreachableTaint) && !hasTaint(taints, notReadyTaint)) return;
    const r = await this.#updateTaints(name, (n) => swapTaints(n.spec?.taints, [], [unreachableTaint, notReadyTaint], this.#ctx.clock.now()));
    if (r === 'updated') this.#ctx.log.info('node is healthy again; NoExecute taints removed', { node: name });
  }

  /** Upstream's MarkPodsNotReady: the Ready condition of every pod on the node goes False. */
  async #markPodsNotReady(nodeName: string): Promise<void> {
    const now = this.#ctx.clock.now();
    for (const key of this.#podsByNode.on(nodeName)) {
      const pod = this.#pods.get(key);
      if (!pod || pod.spec?.nodeName !== nodeName) continue;
      const status = structuredClone(pod.status ?? {}) as PodStatus;
      const ready = status.conditions?.find((c) => c.type === 'Ready');
      if (!ready || !updatePodCondition(status, { ...ready, status: 'False' }, now)) continue;
      const path = resourcePath({ group: '', version: 'v1', plural: 'pods', namespace: pod.metadata.namespace, name: pod.metadata.name, subresource: 'status' });
      const r = await this.#ctx.client.request('PUT', path, { body: { ...pod, status } });
      // A conflict or a pod gone: the next pass looks again.
      if (r.status === 200) this.#rec.event(pod, 'Warning', 'NodeNotReady', 'Node is not ready');
      else if (r.status !== 404 && r.status !== 409) this.#ctx.log.warn('cannot mark pod not ready', { pod: key, code: r.status });
    }
  }

  /** Applies the zone plan: eviction rates per zone, and the all-zones-down mode (upstream's handleDisruption). */
  async #handleDisruption(zones: Map<string, (string | undefined)[]>, nodes: N[]): Promise<void> {
    const plan = planDisruption(this.#zoneStates, zones, this.#s);
    if (plan.enterMasterDisruption) {
      this.#ctx.log.warn('every node is not ready: entering master disruption mode, no evictions until some node is back');
      for (const n of nodes) await this.#markReachable(n);
    }
    if (plan.exitMasterDisruption) {
      this.#ctx.log.info('some nodes are ready again: leaving master disruption mode');
      // Every node gets a full grace period from now before it can be found lost again.
      const now = this.#ctx.clock.now();
      for (const [name, h] of this.#health) this.#health.set(name, { ...h, probeTimestamp: now, readyTransitionTimestamp: now });
    }
    for (const [zone, state] of plan.states) {
      if (this.#zoneStates.get(zone) !== state && state !== 'Initial') this.#ctx.log.info('zone state changed', { zone: zoneName(zone), state });
    }
    for (const [zone, rate] of plan.rates) this.#tainter(zone).swapLimiter(rate);
    this.#zoneStates = plan.states;
  }

  #tainter(zone: string): RateLimitedTimedQueue {
    let q = this.#tainters.get(zone);
    if (!q) this.#tainters.set(zone, (q = new RateLimitedTimedQueue(this.#s.evictionRate, this.#ctx.clock)));
    return q;
  }

  // ------------------------------------------------------------------ NoExecute tainting

  #kickTainting(delayMs = 0): void {
    if (this.#stopped || this.#tainting || this.#taintTimer) return;
    this.#taintTimer = this.#ctx.clock.setTimeout(() => {
      this.#taintTimer = undefined;
      void this.#taintingPass();
    }, delayMs);
  }

  /** Taints the queued nodes each zone's rate allows (upstream's doNoExecuteTaintingPass). */
  async #taintingPass(): Promise<void> {
    this.#tainting = true;
    try {
      for (const q of this.#tainters.values()) {
        await q.try(async (name): Promise<ActionResult> => {
          let outcome: 'ready' | 'noCondition' | undefined;
          const r = await this.#updateTaints(name, (n) => {
            const ready = readyOf(n);
            if (!ready) { outcome = 'noCondition'; return undefined; }
            // The node reports again: nothing to taint. Not-ready and unreachable exclude each other, as the condition's values do.
            if (ready.status === 'False') return swapTaints(n.spec?.taints, [notReadyTaint], [unreachableTaint], this.#ctx.clock.now());
            if (ready.status === 'Unknown') return swapTaints(n.spec?.taints, [unreachableTaint], [notReadyTaint], this.#ctx.clock.now());
            outcome = 'ready';
            return undefined;
          });
          if (r === 'failed' || outcome === 'noCondition') return { done: false, retryAfterMs: 50 };
          if (r === 'updated') this.#ctx.log.info('node tainted for eviction', { node: name });
          return { done: true };
        });
      }
    } catch (e) {
      this.#ctx.log.warn('tainting pass failed', { err: e as Error });
    } finally {
      this.#tainting = false;
    }
    if ([...this.#tainters.values()].some((q) => q.length > 0)) this.#kickTainting(taintingPeriodMs);
  }

  // ------------------------------------------------------------------ NoSchedule taints

  /** Keeps the NoSchedule taints of a node in line with its conditions and cordon. */
  async #syncNoScheduleTaints(name: string): Promise<void> {
    const node = this.#nodes.get(name);
    if (!node) return;
    const { add, remove } = noScheduleTaintChanges(node);
    if (add.length === 0 && remove.length === 0) return;
    const r = await this.#updateTaints(name, (n) => {
      const ch = noScheduleTaintChanges(n);
      return swapTaints(n.spec?.taints, ch.add, ch.remove, this.#ctx.clock.now());
    });
    if (r === 'failed') throw new Error(`cannot update the NoSchedule taints of node ${name}`);
  }

  /**
   * Rewrites a node's taints from its current state: `compute` returns the new list, or undefined for
   * no change; the write is pinned to the version read and retried on conflicts.
   */
  async #updateTaints(name: string, compute: (node: N) => Taint[] | undefined): Promise<'updated' | 'unchanged' | 'missing' | 'failed'> {
    const c = this.#ctx.client;
    const path = resourcePath({ group: '', version: 'v1', plural: 'nodes', name });
    for (let attempt = 0; attempt < writeAttempts; attempt++) {
      const g = await c.request<N>('GET', path);
      if (g.status === 404) return 'missing';
      if (g.status !== 200) return 'failed';
      const taints = compute(g.body);
      if (!taints) return 'unchanged';
      const r = await c.request('PATCH', path, {
        body: { metadata: { resourceVersion: g.body.metadata.resourceVersion }, spec: { taints: taints.length > 0 ? taints : null } },
        contentType: 'application/merge-patch+json',
      });
      if (r.status === 200) return 'updated';
      if (r.status === 404) return 'missing';
      if (r.status !== 409) {
        this.#ctx.log.warn('cannot update node taints', { node: name, code: r.status, message: (r.body as { message?: string }).message });
        return 'failed';
      }
    }
    return 'failed';
  }
}

function readyOf(n: Node): NodeCondition | undefined {
  return n.status?.conditions?.find((c) => c.type === 'Ready');
}

/** The node as an event's involved object. */
function nodeRef(n: N): KubeObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name: n.metadata.name, uid: n.metadata.uid } };
}

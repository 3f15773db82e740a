import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { KubeObject } from '../../api/types.js';
import { WorkQueue, runWorkers } from '../../client/work-queue.js';
import type { Informer } from '../../client/informer.js';
import { resourcePath } from '../../client/paths.js';
import { ApiRequestError } from '../../client/rest-client.js';
import type { Controller, ControllerContext } from '../controller.js';

/** A resource the collector follows: objects of these kinds can own, or be owned by, others. */
interface Monitored { group: string; version: string; plural: string; kind: string; namespaced: boolean }

const monitored: Monitored[] = [
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  { group: 'apps', version: 'v1', plural: 'replicasets', kind: 'ReplicaSet', namespaced: true },
  { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true },
  { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  { group: '', version: 'v1', plural: 'endpoints', kind: 'Endpoints', namespaced: true },
  { group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true },
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true },
  { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false },
];

const byKind = new Map(monitored.map((m) => [`${m.group ? `${m.group}/` : ''}${m.version}/${m.kind}`, m]));

function kindOf(apiVersion: string | undefined, kind: string | undefined): Monitored | undefined {
  return byKind.get(`${apiVersion}/${kind}`);
}

/** One object in the ownership graph. */
interface Node {
  uid: string;
  res: Monitored;
  namespace?: string;
  name: string;
  owners: OwnerReference[];
  dependents: Set<string>;
}

const orphanFinalizer = 'orphan';
const foregroundFinalizer = 'foregroundDeletion';

/**
 * The garbage collector: keeps a graph of ownerReferences over every monitored object and deletes
 * dependents whose owners are gone (Background), deletes dependents before their owner
 * (`foregroundDeletion` finalizer, waiting on `blockOwnerDeletion` ones), and strips references from
 * dependents of an owner deleted with the `orphan` finalizer.
 */
export class GarbageCollector implements Controller {
  readonly name = 'garbagecollector';
  readonly #ctx: ControllerContext;
  readonly #informers = new Map<Monitored, Informer<KubeObject>>();
  readonly #graph = new Map<string, Node>();
  readonly #queue: WorkQueue<string>;

  constructor(ctx: ControllerContext) {
    this.#ctx = ctx;
    this.#queue = new WorkQueue({ clock: ctx.clock });
    for (const m of monitored) {
      const inf = ctx.informers.for<KubeObject>(m.group, m.version, m.plural);
      this.#informers.set(m, inf);
      inf.addHandlers({
        add: (o) => this.#observe(m, o),
        update: (_old, o) => this.#observe(m, o),
        delete: (o) => this.#forget(o),
      });
    }
  }

  #observe(res: Monitored, obj: KubeObject): void {
    const uid = obj.metadata.uid;
    if (!uid) return;
    let node = this.#graph.get(uid);
    const owners = obj.metadata.ownerReferences ?? [];
    if (!node) {
      node = { uid, res, namespace: obj.metadata.namespace, name: obj.metadata.name ?? '', owners: [], dependents: new Set() };
      this.#graph.set(uid, node);
    }
    for (const o of node.owners) if (!owners.some((x) => x.uid === o.uid)) this.#graph.get(o.uid)?.dependents.delete(uid);
    node.owners = owners;
    for (const o of owners) {
      // An owner not (yet) observed gets a placeholder; the dependent is checked against the API.
      let owner = this.#graph.get(o.uid);
      if (!owner) {
        const r = kindOf(o.apiVersion, o.kind);
        if (r) {
          owner = { uid: o.uid, res: r, namespace: r.namespaced ? obj.metadata.namespace : undefined, name: o.name, owners: [], dependents: new Set() };
          this.#graph.set(o.uid, owner);
        }
      }
      owner?.dependents.add(uid);
    }
    if (owners.length > 0) this.#queue.add(`attempt:${uid}`);
    const finalizers = obj.metadata.finalizers ?? [];
    if (obj.metadata.deletionTimestamp && finalizers.includes(orphanFinalizer)) this.#queue.add(`orphan:${uid}`);
    if (obj.metadata.deletionTimestamp && finalizers.includes(foregroundFinalizer)) this.#queue.add(`attempt:${uid}`);
  }

  #forget(obj: KubeObject): void {
    const uid = obj.metadata.uid;
    if (!uid) return;
    const node = this.#graph.get(uid);
    if (!node) return;
    this.#graph.delete(uid);
    for (const o of node.owners) {
      const owner = this.#graph.get(o.uid);
      if (!owner) continue;
      owner.dependents.delete(uid);
      // An owner waiting in foreground deletion may now be free to go.
      this.#queue.add(`attempt:${o.uid}`);
    }
    for (const d of node.dependents) this.#queue.add(`attempt:${d}`);
  }

  async run(signal: AbortSignal, workers: number): Promise<void> {
    signal.addEventListener('abort', () => this.#queue.shutDown());
    await Promise.all([...this.#informers.values()].map((i) => i.waitForSync()));
    await runWorkers(this.#queue, workers, (key) => this.sync(key), (key, e) => this.#ctx.log.warn('garbage collection failed', { key, err: e as Error }));
  }

  /** The current object behind a graph node, from the informer cache. */
  #current(node: Node): KubeObject | undefined {
    const inf = this.#informers.get(node.res);
    const obj = inf?.get(node.namespace ? `${node.namespace}/${node.name}` : node.name);
    return obj && obj.metadata.uid === node.uid ? obj : undefined;
  }

  #path(res: Monitored, namespace: string | undefined, name: string): string {
    return resourcePath({ group: res.group, version: res.version, plural: res.plural, namespace: res.namespaced ? namespace : undefined, name });
  }

  async sync(key: string): Promise<void> {
    const [op, uid] = key.split(':') as ['attempt' | 'orphan', string];
    const node = this.#graph.get(uid);
    if (!node) return;
    const obj = this.#current(node);
    if (!obj) return;
    if (op === 'orphan') await this.#orphanDependents(node, obj);
    else await this.#attemptToDelete(node, obj);
  }

  /** Does an owner exist with that uid? Unmonitored kinds are assumed to exist: never delete on a guess. */
  async #ownerState(o: OwnerReference, namespace: string | undefined): Promise<'absent' | 'solid' | 'waiting'> {
    const res = kindOf(o.apiVersion, o.kind);
    if (!res) return 'solid';
    const node = this.#graph.get(o.uid);
    let owner = node ? this.#current(node) : undefined;
    if (!owner) {
      // The cache may lag: ask the API before calling an owner gone.
      const r = await this.#ctx.client.request<KubeObject>('GET', this.#path(res, namespace, o.name));
      if (r.status === 404) return 'absent';
      if (r.status !== 200) throw new ApiRequestError(r.status, r.body as never, 'GET', o.name);
      if (r.body.metadata.uid !== o.uid) return 'absent';
      owner = r.body;
    }
    if (owner.metadata.deletionTimestamp && (owner.metadata.finalizers ?? []).includes(foregroundFinalizer)) return 'waiting';
    return 'solid';
  }

  async #attemptToDelete(node: Node, obj: KubeObject): Promise<void> {
    const finalizers = obj.metadata.finalizers ?? [];
    if (obj.metadata.deletionTimestamp) {
      if (finalizers.includes(foregroundFinalizer)) await this.#processDeletingDependents(node, obj);
      return;
    }
    const owners = obj.metadata.ownerReferences ?? [];
    if (owners.length === 0) return;
    const states = await Promise.all(owners.map(async (o) => ({ o, state: await this.#ownerState(o, obj.metadata.namespace) })));
    const solid = states.filter((s) => s.state === 'solid');
    const waiting = states.filter((s) => s.state === 'waiting');
    const dangling = states.filter((s) => s.state === 'absent');
    if (solid.length > 0) {
      const drop = [...dangling, ...waiting];
      if (drop.length === 0) return;
      await this.#patch(node.res, obj, { metadata: { uid: obj.metadata.uid, ownerReferences: drop.map((s) => ({ $patch: 'delete', uid: s.o.uid })) } });
      return;
    }
    if (waiting.length > 0 && waiting.some((s) => s.o.blockOwnerDeletion)) {
      // The owner waits for its dependents: this one goes first, its own dependents before it.
      await this.#delete(node.res, obj, 'Foreground');
      return;
    }
    const policy = finalizers.includes(orphanFinalizer) ? 'Orphan' : finalizers.includes(foregroundFinalizer) ? 'Foreground' : 'Background';
    await this.#delete(node.res, obj, policy);
  }

  /** Foreground deletion: delete the dependents; drop the finalizer once no blocking dependent is left. */
  async #processDeletingDependents(node: Node, obj: KubeObject): Promise<void> {
    let blocking = 0;
    for (const depUid of node.dependents) {
      const dep = this.#graph.get(depUid);
      if (!dep) continue;
      const ref = dep.owners.find((o) => o.uid === node.uid);
      if (ref?.blockOwnerDeletion) blocking++;
      this.#queue.add(`attempt:${depUid}`);
    }
    if (blocking > 0) return;
    await this.#removeFinalizer(node.res, obj, foregroundFinalizer);
  }

  /** Orphan deletion: every dependent loses its reference to the owner, then the owner may go. */
  async #orphanDependents(node: Node, owner: KubeObject): Promise<void> {
    for (const depUid of [...node.dependents]) {
      const dep = this.#graph.get(depUid);
      const depObj = dep && this.#current(dep);
      if (!dep || !depObj) continue;
      await this.#patch(dep.res, depObj, { metadata: { uid: depObj.metadata.uid, ownerReferences: [{ $patch: 'delete', uid: node.uid }] } });
    }
    await this.#removeFinalizer(node.res, owner, orphanFinalizer);
  }

  async #patch(res: Monitored, obj: KubeObject, body: unknown): Promise<void> {
    const r = await this.#ctx.client.request('PATCH', this.#path(res, obj.metadata.namespace, obj.metadata.name!), { body, contentType: 'application/strategic-merge-patch+json' });
    if (r.status !== 200 && r.status !== 404 && r.status !== 409) throw new ApiRequestError(r.status, r.body as never, 'PATCH', obj.metadata.name ?? '');
  }

  async #delete(res: Monitored, obj: KubeObject, policy: 'Background' | 'Foreground' | 'Orphan'): Promise<void> {
    const r = await this.#ctx.client.request('DELETE', this.#path(res, obj.metadata.namespace, obj.metadata.name!), {
      body: { propagationPolicy: policy, preconditions: { uid: obj.metadata.uid } },
    });
    if (r.status !== 200 && r.status !== 202 && r.status !== 404 && r.status !== 409) throw new ApiRequestError(r.status, r.body as never, 'DELETE', obj.metadata.name ?? '');
  }

  /** Removes one finalizer, comparing against the object's resourceVersion so a concurrent change is not lost. */
  async #removeFinalizer(res: Monitored, obj: KubeObject, finalizer: string): Promise<void> {
    const finalizers = (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    if (finalizers.length === (obj.metadata.finalizers ?? []).length) return;
    const r = await this.#ctx.client.request('PATCH', this.#path(res, obj.metadata.namespace, obj.metadata.name!), {
      body: [
        { op: 'test', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion },
        { op: 'replace', path: '/metadata/finalizers', value: finalizers },
      ],
      contentType: 'application/json-patch+json',
    });
    if (r.status === 422 || r.status === 409) throw new Error(`finalizer ${finalizer} of ${obj.metadata.name}: object changed, retrying`);
    if (r.status !== 200 && r.status !== 404) throw new ApiRequestError(r.status, r.body as never, 'PATCH', obj.metadata.name ?? '');
  }
}

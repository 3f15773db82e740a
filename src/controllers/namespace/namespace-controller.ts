import type { Namespace } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/types.js';
import { WorkQueue, runWorkers } from '../../client/work-queue.js';
import type { Informer } from '../../client/informer.js';
import { ApiRequestError } from '../../client/rest-client.js';
import type { Controller, ControllerContext } from '../controller.js';
import { rfc3339 } from '../../util/time.js';

type NS = Namespace & KubeObject;

interface DiscoveredResource { path: string; name: string }

/** How often a namespace whose content is still going away is looked at again. */
const recheckMs = 2000;


/**
 * The namespace controller: when a namespace is deleted (phase Terminating), deletes everything in it,
 * resource type by resource type as discovery lists them, reports what is left in the namespace's
 * conditions, and once it is empty removes the `kubernetes` finalizer so the namespace itself goes.
 */
export class NamespaceController implements Controller {
  readonly name = 'namespace';
  readonly #ctx: ControllerContext;
  readonly #inf: Informer<NS>;
  readonly #queue: WorkQueue<string>;

  constructor(ctx: ControllerContext) {
    this.#ctx = ctx;
    this.#queue = new WorkQueue({ clock: ctx.clock });
    this.#inf = ctx.informers.for<NS>('', 'v1', 'namespaces');
    const enqueue = (ns: NS): void => { if (ns.metadata.deletionTimestamp) this.#queue.add(ns.metadata.name!); };
    this.#inf.addHandlers({ add: enqueue, update: (_o, ns) => enqueue(ns) });
  }

  async run(signal: AbortSignal, workers: number): Promise<void> {
    signal.addEventListener('abort', () => this.#queue.shutDown());
    await this.#inf.waitForSync();
    await runWorkers(this.#queue, workers, (key) => this.sync(key), (key, e) => this.#ctx.log.warn('namespace cleanup failed', { namespace: key, err: e as Error }));
  }

  /** Namespaced resources that can be deleted as a collection, from the server's discovery. */
  async #resources(): Promise<DiscoveredResource[]> {
    const c = this.#ctx.client;
    const out: DiscoveredResource[] = [];
    const groupVersions = ['v1'];
    const groups = await c.call<{ groups: { preferredVersion: { groupVersion: string } }[] }>('GET', '/apis');
    for (const g of groups.groups) groupVersions.push(g.preferredVersion.groupVersion);
    for (const gv of groupVersions) {
      const list = await c.call<{ resources: { name: string; namespaced: boolean; verbs: string[] }[] }>('GET', gv === 'v1' ? '/api/v1' : `/apis/${gv}`);
      for (const r of list.resources) {
        if (!r.namespaced || r.name.includes('/') || !r.verbs.includes('deletecollection') || !r.verbs.includes('list')) continue;
        // events.k8s.io events are the core events again.
        if (gv === 'events.k8s.io/v1') continue;
        out.push({ path: gv === 'v1' ? `/api/v1` : `/apis/${gv}`, name: r.name });
      }
    }
    return out;
  }

  async sync(name: string): Promise<void> {
    const ns = this.#inf.get(name);
    if (!ns || !ns.metadata.deletionTimestamp) return;
    if (!(ns.spec?.finalizers ?? []).includes('kubernetes')) return;
    const c = this.#ctx.client;
    const remaining: string[] = [];
    let total = 0;
    for (const r of await this.#resources()) {
      const base = `${r.path}/namespaces/${encodeURIComponent(name)}/${r.name}`;
      const del = await c.request('DELETE', base, { body: { propagationPolicy: 'Background' } });
      if (del.status !== 200 && del.status !== 404 && del.status !== 405) throw new ApiRequestError(del.status, del.body as never, 'DELETE', base);
      const left = await c.call<{ items: unknown[] }>('GET', base);
      if (left.items.length > 0) {
        // Upstream's wording: `<resource>.<group>`, so core resources read "pods." .
        remaining.push(`${r.name}.${r.path === '/api/v1' ? '' : r.path.split('/')[2]} has ${left.items.length} resource instances`);
        total += left.items.length;
      }
    }
    if (total > 0) {
      await this.#setContentCondition(ns, `Some resources are remaining: ${remaining.join(', ')}`);
      this.#queue.addAfter(name, recheckMs);
      return;
    }
    const finalizers = (ns.spec?.finalizers ?? []).filter((f) => f !== 'kubernetes');
    const r = await c.request('PUT', `/api/v1/namespaces/${encodeURIComponent(name)}/finalize`, {
      body: { ...ns, spec: { ...(ns.spec ?? {}), finalizers } },
    });
    if (r.status !== 200 && r.status !== 404) throw new ApiRequestError(r.status, r.body as never, 'PUT', `namespaces/${name}/finalize`);
  }

  async #setContentCondition(ns: NS, message: string): Promise<void> {
    const conditions = (ns.status?.conditions ?? []).filter((c) => c.type !== 'NamespaceContentRemaining');
    const prev = ns.status?.conditions?.find((c) => c.type === 'NamespaceContentRemaining');
    if (prev?.message === message) return;
    conditions.push({ type: 'NamespaceContentRemaining', status: 'True', lastTransitionTime: rfc3339(this.#ctx.clock.now()), reason: 'SomeResourcesRemain', message });
    await this.#ctx.client.request('PUT', `/api/v1/namespaces/${encodeURIComponent(ns.metadata.name!)}/status`, {
      body: { ...ns, status: { ...(ns.status ?? {}), conditions } },
    });
  }
}

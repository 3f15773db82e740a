import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../api/types.js';
import { objectKey } from '../client/paths.js';

type P = Pod & KubeObject;

/** An index of pod keys (`ns/name`) by the node they are bound to, fed by a pod informer's events. */
export class PodsByNode {
  readonly #byNode = new Map<string, Set<string>>();

  /** One informer event: `old` is what was indexed before (undefined on add), `pod` what is now (undefined on delete). */
  update(old: P | undefined, pod: P | undefined): void {
    const prev = old?.spec?.nodeName;
    const next = pod?.spec?.nodeName;
    const key = objectKey((pod ?? old)!.metadata);
    if (prev && prev !== next) {
      const s = this.#byNode.get(prev);
      s?.delete(key);
      if (s?.size === 0) this.#byNode.delete(prev);
    }
    if (next) {
      let s = this.#byNode.get(next);
      if (!s) this.#byNode.set(next, (s = new Set()));
      s.add(key);
    }
  }

  /** The keys of the pods on `node` (a copy: callers may change the index while going through it). */
  on(node: string): string[] {
    return [...(this.#byNode.get(node) ?? [])];
  }
}

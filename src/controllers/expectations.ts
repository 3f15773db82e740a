import type { Clock } from '../util/clock.js';

/** Expectations older than this are treated as met, so a lost watch event cannot stall a controller forever. */
const ttlMs = 5 * 60 * 1000;

interface Expectation { adds: number; dels: number; at: number; deleting: Set<string> }

/**
 * Upstream's ControllerExpectations: after a controller asks for N creates or deletes, it does not
 * act on that owner again until its informer has observed them — otherwise a burst of creates would
 * be doubled by a sync that ran before the first ones were seen.
 */
export class Expectations {
  readonly #items = new Map<string, Expectation>();
  constructor(private readonly clock: Clock) {}

  satisfied(key: string): boolean {
    const e = this.#items.get(key);
    if (!e) return true;
    return (e.adds <= 0 && e.dels <= 0) || this.clock.now() - e.at > ttlMs;
  }

  expect(key: string, adds: number, deleting: string[] = []): void {
    this.#items.set(key, { adds, dels: deleting.length, at: this.clock.now(), deleting: new Set(deleting) });
  }

  /** An expected create was observed (or failed and will never be). */
  creationObserved(key: string): void {
    const e = this.#items.get(key);
    if (e) e.adds--;
  }

  /** An expected deletion of the pod with this key was observed (or failed). */
  deletionObserved(key: string, podKey: string): void {
    const e = this.#items.get(key);
    if (e && e.deleting.delete(podKey)) e.dels--;
  }

  delete(key: string): void {
    this.#items.delete(key);
  }
}

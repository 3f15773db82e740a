import type { Pod } from 'kubernetes-types/core/v1.js';
import type { Clock } from '../util/clock.js';
import { podKey } from './node-info.js';
import { deepEqual } from '../util/deep-equal.js';

interface Entry { pod: Pod; attempts: number; enqueued: number; backoffUntil: number }

const initialBackoffMs = 1000;
const maxBackoffMs = 10_000;
/** Unschedulable pods are retried at least this often even without a helpful event (upstream: 5 min). */
const maxUnschedulableMs = 5 * 60 * 1000;

function priority(p: Pod): number {
  return p.spec?.priority ?? 0;
}

/**
 * Did an update change anything the scheduler looks at? Status writes (including the scheduler's own
 * PodScheduled condition) do not, so they never retry an unschedulable pod (upstream's isPodUpdated).
 */
function schedulingRelevantChange(a: Pod, b: Pod): boolean {
  return !deepEqual(a.spec, b.spec) || !deepEqual(a.metadata?.labels, b.metadata?.labels) || !deepEqual(a.metadata?.annotations, b.metadata?.annotations);
}

/** A binary heap ordered by priority, then by time queued (upstream's PrioritySort). */
class Heap {
  #items: Entry[] = [];
  get size(): number { return this.#items.length; }
  #less(a: Entry, b: Entry): boolean {
    const pa = priority(a.pod);
    const pb = priority(b.pod);
    return pa !== pb ? pa > pb : a.enqueued < b.enqueued;
  }
  push(e: Entry): void {
    const a = this.#items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }
  pop(): Entry | undefined {
    const a = this.#items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.#less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.#less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Upstream's scheduling queue: an active heap (highest priority, then oldest first), a backoff area for
 * pods whose attempt failed (1 s doubling to 10 s), and an unschedulable set of pods that wait for a
 * cluster event that could help (a node added or changed, a pod deleted) before they are tried again.
 */
export class SchedulingQueue {
  readonly #clock: Clock;
  readonly #active = new Heap();
  /** Every pod the queue knows, by key; the heap may hold stale entries, skipped on pop. */
  readonly #entries = new Map<string, Entry>();
  readonly #inActive = new Set<string>();
  readonly #backoff = new Set<string>();
  readonly #unschedulable = new Map<string, number>();
  #waiters: ((p: Pod | undefined) => void)[] = [];
  #closed = false;
  #timer: { cancel(): void } | undefined;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get pending(): { active: number; backoff: number; unschedulable: number } {
    return { active: this.#inActive.size, backoff: this.#backoff.size, unschedulable: this.#unschedulable.size };
  }

  /** Adds or updates a pod waiting to be scheduled. A changed pod in the unschedulable set gets another try. */
  add(pod: Pod): void {
    const key = podKey(pod);
    const e = this.#entries.get(key);
    if (e) {
      const changed = schedulingRelevantChange(e.pod, pod);
      e.pod = pod;
      if (changed && this.#unschedulable.has(key)) {
        // As upstream: back to the active queue, or to backoff while its backoff lasts.
        this.#unschedulable.delete(key);
        if (e.backoffUntil > this.#clock.now()) { this.#backoff.add(key); this.#ensureTimer(); }
        else this.#activate(key);
      }
      return;
    }
    this.#entries.set(key, { pod, attempts: 0, enqueued: this.#clock.now(), backoffUntil: 0 });
    this.#activate(key);
  }

  delete(pod: Pod): void {
    const key = podKey(pod);
    this.#entries.delete(key);
    this.#inActive.delete(key);
    this.#backoff.delete(key);
    this.#unschedulable.delete(key);
  }

  has(pod: Pod): boolean {
    return this.#entries.has(podKey(pod));
  }

  #activate(key: string): void {
    const e = this.#entries.get(key);
    if (!e || this.#inActive.has(key)) return;
    this.#backoff.delete(key);
    const w = this.#waiters.shift();
    if (w) { w(e.pod); return; }
    this.#inActive.add(key);
    this.#active.push(e);
  }

  /** The next pod to schedule; waits for one. Undefined once closed. */
  pop(): Promise<Pod | undefined> {
    for (;;) {
      const e = this.#active.pop();
      if (!e) break;
      const key = podKey(e.pod);
      if (!this.#inActive.has(key) || this.#entries.get(key) !== e) continue;
      this.#inActive.delete(key);
      return Promise.resolve(e.pod);
    }
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise((r) => this.#waiters.push(r));
  }

  /** The pod could not be placed now: back off, then wait in the unschedulable set for a helpful event. */
  unschedulable(pod: Pod): void {
    const key = podKey(pod);
    const e = this.#entries.get(key);
    if (!e) return;
    this.#failed(key, e);
    this.#unschedulable.set(key, this.#clock.now());
    this.#ensureTimer();
  }

  /** A transient error (a failed binding): retry after the backoff. */
  retry(pod: Pod): void {
    const key = podKey(pod);
    const e = this.#entries.get(key);
    if (!e) return;
    this.#failed(key, e);
    this.#backoff.add(key);
    this.#ensureTimer();
  }

  /**
   * A failed attempt: one more backoff step, and (as upstream refreshes the queued timestamp) the pod
   * queues behind pods of its priority that have waited since.
   */
  #failed(key: string, e: Entry): void {
    e.attempts++;
    e.backoffUntil = this.#clock.now() + Math.min(maxBackoffMs, initialBackoffMs * 2 ** (e.attempts - 1));
    if (!this.#inActive.has(key)) e.enqueued = this.#clock.now();
  }

  /** Scheduled: the pod leaves the queue. */
  done(pod: Pod): void {
    this.delete(pod);
  }

  /** A cluster event that may help: unschedulable pods become eligible again (after their backoff). */
  moveAllToActive(): void {
    const now = this.#clock.now();
    for (const key of [...this.#unschedulable.keys()]) {
      const e = this.#entries.get(key);
      this.#unschedulable.delete(key);
      if (!e) continue;
      if (e.backoffUntil > now) this.#backoff.add(key);
      else this.#activate(key);
    }
    this.#ensureTimer();
  }

  #ensureTimer(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => { this.#timer = undefined; this.#tick(); }, 200);
  }

  #tick(): void {
    const now = this.#clock.now();
    for (const key of [...this.#backoff]) {
      const e = this.#entries.get(key);
      if (!e) { this.#backoff.delete(key); continue; }
      if (e.backoffUntil <= now) this.#activate(key);
    }
    for (const [key, since] of [...this.#unschedulable]) {
      if (now - since >= maxUnschedulableMs) { this.#unschedulable.delete(key); this.#activate(key); }
    }
    if (this.#backoff.size > 0 || this.#unschedulable.size > 0) this.#ensureTimer();
  }

  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
    for (const w of this.#waiters.splice(0)) w(undefined);
  }
}

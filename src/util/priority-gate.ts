/**
 * Lets at most `slots` tasks run at once and, when a slot frees, starts the waiting task with the lowest
 * priority number. The agent runs its CPU-heavy runtime work (sandboxes, container starts) through one,
 * ordered by when each pod arrived: twenty pods started at once then finish one after the other, the
 * first within a fraction of the time, rather than all together at the end as with a free-for-all.
 */
export class PriorityGate {
  readonly #slots: number;
  #running = 0;
  readonly #waiting: { priority: number; start: () => void }[] = [];

  constructor(slots: number) {
    if (!(slots >= 1)) throw new Error(`a gate needs at least one slot, not ${slots}`);
    this.#slots = slots;
  }

  async run<T>(priority: number, task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#slots) {
      await new Promise<void>((start) => {
        const w = { priority, start };
        // Ties keep their arrival order.
        const at = this.#waiting.findIndex((x) => x.priority > priority);
        if (at < 0) this.#waiting.push(w);
        else this.#waiting.splice(at, 0, w);
      });
    } else {
      this.#running++;
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      // The slot passes straight to the next task, so a newcomer cannot slip in between.
      if (next) next.start();
      else this.#running--;
    }
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }
}

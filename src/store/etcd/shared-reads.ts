interface Waiter<T> { resolve(v: T): void; reject(e: Error): void }

/**
 * Runs one read at a time for any number of callers: callers of the same moment share a read, and those that
 * arrive while it is on its way share the next one, sent after all of them arrived. For a linearisable read
 * that keeps its promise to each caller (it reflects everything acknowledged before the call) with at most one
 * request in flight.
 */
export class SharedReads<T> {
  readonly #read: () => Promise<T>;
  #waiting: Waiter<T>[] = [];
  #busy = false;
  #scheduled = false;

  constructor(read: () => Promise<T>) {
    this.#read = read;
  }

  next(): Promise<T> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      if (this.#busy || this.#scheduled) return;
      // Callers in this same turn join the read too (it is still sent after each of them arrived).
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#pump();
      });
    });
  }

  #pump(): void {
    if (this.#busy || this.#waiting.length === 0) return;
    const batch = this.#waiting;
    this.#waiting = [];
    this.#busy = true;
    this.#read().then((v) => { for (const w of batch) w.resolve(v); }, (e: Error) => { for (const w of batch) w.reject(e); }).finally(() => {
      this.#busy = false;
      this.#pump();
    });
  }
}

/** A map that forgets its least recently used entries beyond `capacity` (client-go's correlator caches). */
export class LruMap<K, V> {
  readonly #items = new Map<K, V>();
  constructor(readonly capacity: number) {}

  get(key: K): V | undefined {
    const v = this.#items.get(key);
    if (v !== undefined) {
      // Map keeps insertion order: re-inserting marks the entry as the most recently used.
      this.#items.delete(key);
      this.#items.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.#items.delete(key);
    this.#items.set(key, value);
    if (this.#items.size > this.capacity) this.#items.delete(this.#items.keys().next().value as K);
  }

  delete(key: K): void {
    this.#items.delete(key);
  }

  get size(): number { return this.#items.size; }
}

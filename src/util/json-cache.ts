/**
 * JSON of objects that are never mutated once built (cached API objects): serialised once, on first
 * use, then shared by every response and watcher that sends the same object.
 */
const cache = new WeakMap<object, string>();

export function cachedJson(obj: object): string {
  let s = cache.get(obj);
  if (s === undefined) {
    s = JSON.stringify(obj);
    cache.set(obj, s);
  }
  return s;
}

/**
 * Records JSON already made for an object (byte for byte what JSON.stringify would give), so its first use
 * costs nothing.
 */
export function seedJson(obj: object, json: string): void {
  cache.set(obj, json);
}

const buffers = new WeakMap<object, Buffer>();

/** The cached JSON as UTF-8 bytes, for responses assembled from many objects (lists). */
export function cachedJsonBuffer(obj: object): Buffer {
  let b = buffers.get(obj);
  if (b === undefined) {
    b = Buffer.from(cachedJson(obj), 'utf8');
    buffers.set(obj, b);
  }
  return b;
}

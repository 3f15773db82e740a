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

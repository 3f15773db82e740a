/**
 * Trims a history of events kept for watches that resume from a revision: once it holds a quarter more than
 * `size`, the oldest are dropped down to `size`. Cutting the front off on every event, as before, moved the whole
 * array each time (thousands of entries per write).
 * Returns the newest event dropped (the history no longer reaches back to it), or undefined.
 */
export function trimHistory<T>(history: T[], size: number): T | undefined {
  if (history.length <= size + (size >> 2)) return undefined;
  const drop = history.length - size;
  const newestDropped = history[drop - 1];
  history.splice(0, drop);
  return newestDropped;
}

let lastSecond = NaN;
let lastText = '';

/** A Kubernetes `Time`: RFC 3339 in UTC with second precision (`2026-11-28T00:24:31Z`). */
export function rfc3339(ms: number): string {
  // Every write stamps a time or two, mostly within the same second as the one before.
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastText = new Date(second * 1000).toISOString().replace('.000Z', 'Z');
    lastSecond = second;
  }
  return lastText;
}

/** A Kubernetes `MicroTime`: RFC 3339 with microseconds (`2026-11-28T00:24:31.123000Z`). */
export function rfc3339Micro(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

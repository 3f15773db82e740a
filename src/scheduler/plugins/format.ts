/** Human-readable amounts for explanations ("2.5Gi", "500m", "3"): milli-units in, short text out. */
export function formatAmount(resource: string, milli: number): string {
  if (resource === 'cpu') return milli % 1000 === 0 ? String(milli / 1000) : `${Math.round(milli)}m`;
  if (resource === 'pods') return String(milli);
  const bytes = milli / 1000;
  for (const [unit, size] of [['Ti', 2 ** 40], ['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]] as const) {
    if (Math.abs(bytes) >= size) {
      const v = bytes / size;
      return `${Number.isInteger(v) ? v : Math.round(v * 10) / 10}${unit}`;
    }
  }
  return String(Math.round(bytes));
}

/** `--server` values: one URL, or several separated by commas, each possibly repeated. */
export function parseServerList(values: readonly string[]): string[] {
  const urls = values.flatMap((v) => v.split(',')).map((v) => v.trim().replace(/\/+$/, '')).filter(Boolean);
  for (const u of urls) {
    let parsed: URL;
    try { parsed = new URL(u); } catch { throw new Error(`--server: "${u}" is not a URL (https://HOST:PORT)`); }
    if (parsed.protocol !== 'https:') throw new Error(`--server: "${u}" is not an https:// URL`);
  }
  return [...new Set(urls)];
}


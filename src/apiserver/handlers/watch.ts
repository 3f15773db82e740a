import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiWatchEvent, RestStore, WatchOptions } from '../registry/rest-store.js';
import { tableRow, toTable, type IncludeObject } from '../table.js';
import type { Negotiated } from '../http.js';
import type { Clock } from '../../util/clock.js';
import type { KubeObject } from '../../api/types.js';

/** A watcher whose socket cannot keep up is cut off past this much unsent data; it re-watches, as with upstream. */
const maxBufferedBytes = 32 * 1024 * 1024;
const bookmarkEveryMs = 60_000;

export interface WatchStreamOptions {
  readonly neg: Negotiated;
  readonly include: IncludeObject;
  readonly timeoutSeconds?: number;
  readonly clock: Clock;
}

/**
 * Streams a watch as newline-delimited JSON events (Tables when kubectl asked for them), until the
 * timeout, the client going away (`res` close, not `req` close: Node 20 fires that when the body is
 * read), or an ERROR event.
 */
export async function serveWatch(req: IncomingMessage, res: ServerResponse, rest: RestStore, namespace: string | undefined, o: WatchOptions, s: WatchStreamOptions): Promise<void> {
  const def = rest.def;
  let first = true;
  let closed = false;
  let handle: { close(): void } | undefined;
  const timers: NodeJS.Timeout[] = [];
  const finish = (): void => {
    if (closed) return;
    closed = true;
    handle?.close();
    for (const t of timers) clearTimeout(t);
    if (!res.writableEnded) res.end();
  };

  const line = (e: ApiWatchEvent): string => {
    if (s.neg.table && e.type !== 'ERROR' && e.type !== 'BOOKMARK') {
      const obj = e.object as KubeObject;
      const storage = def.conversion ? def.conversion.toStorage(structuredClone(obj)) : obj;
      const table = toTable(def, [tableRow(def, obj, storage, s.include, s.clock.now())], {
        version: s.neg.tableVersion, resourceVersion: obj.metadata?.resourceVersion, withColumns: first,
      });
      first = false;
      return `{"type":"${e.type}","object":${JSON.stringify(table)}}\n`;
    }
    return `{"type":"${e.type}","object":${e.json ?? JSON.stringify(e.object)}}\n`;
  };

  const send = (events: ApiWatchEvent[]): void => {
    if (closed) return;
    if (!res.headersSent) start();
    let chunk = '';
    let error = false;
    for (const e of events) {
      chunk += line(e);
      if (e.type === 'ERROR') error = true;
    }
    // Commits that land in the same turn of the event loop leave in one socket write (and one TLS record)
    // instead of one each: under load that is most of the cost of a watch.
    if (!corked) {
      corked = true;
      res.cork();
      setImmediate(() => { corked = false; res.uncork(); });
    }
    res.write(chunk);
    if (error || res.writableLength > maxBufferedBytes) finish();
  };
  let corked = false;

  const start = (): void => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
  };

  res.on('close', finish);
  handle = await rest.watch(namespace, o, send);
  if (closed) { handle.close(); return; }
  if (!res.headersSent) start();
  // Upstream picks a timeout between 30 and 60 minutes when the client gives none.
  const timeoutMs = s.timeoutSeconds !== undefined && s.timeoutSeconds > 0 ? s.timeoutSeconds * 1000 : (1800 + Math.random() * 1800) * 1000;
  timers.push(setTimeout(() => {
    if (o.allowWatchBookmarks) send([rest.bookmark()]);
    finish();
  }, timeoutMs));
  if (o.allowWatchBookmarks) {
    const tick = (): void => {
      if (closed) return;
      send([rest.bookmark()]);
      timers.push(setTimeout(tick, bookmarkEveryMs));
    };
    timers.push(setTimeout(tick, bookmarkEveryMs));
  }
  void req;
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ApiServer } from '../../src/apiserver/server.js';
import { RestClient } from '../../src/client/rest-client.js';
import type { Clock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/log.js';

/** A real API server in this process, over plain HTTP on a free loopback port, for client-side tests. */
export interface InProcessServer {
  readonly url: string;
  readonly server: ApiServer;
  /** A new client to the server (each with its own connection pool). */
  client(userAgent?: string): RestClient;
  close(): Promise<void>;
}

export async function startInProcessServer(o: { clock?: Clock; watchCacheSize?: number } = {}): Promise<InProcessServer> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-inproc-'));
  // SKIFF_INPROC_LOG=1 shows the server's and store's log (SKIFF_LOG_LEVEL chooses the level).
  const log = process.env['SKIFF_INPROC_LOG'] ? createLogger('inproc') : undefined;
  const store = new SqliteStore({ path: join(dir, 'state.db'), ...(log ? { log } : {}) });
  await store.ready();
  const server = new ApiServer({ store, clock: o.clock, compactIntervalMs: 0, watchCacheSize: o.watchCacheSize, ...(log ? { log } : {}) });
  await server.start(0, '127.0.0.1');
  const url = `http://127.0.0.1:${server.port}`;
  const clients: RestClient[] = [];
  return {
    url,
    server,
    client(userAgent?: string) {
      const c = new RestClient({ server: url, namespace: 'default', insecureSkipTLSVerify: false }, { userAgent });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.close();
      await server.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

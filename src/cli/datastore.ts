import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Store } from '../store/store.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { EtcdStore } from '../store/etcd/etcd-store.js';
import type { EtcdTLS } from '../store/etcd/connection.js';
import type { Logger } from '../util/log.js';

/** Where `skiff server` keeps its state, from `--datastore-*` flags. */
export type DatastoreConfig =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'etcd'; readonly endpoints: readonly string[]; readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };

export interface DatastoreFlags {
  /** `sqlite://PATH`, `etcd://h1:2379,h2:2379`, or k3s's `https://h1:2379,https://h2:2379`; absent: SQLite in the data dir. */
  readonly endpoint?: string;
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly dataDir: string;
}

/**
 * Reads the datastore flags. `etcd://` endpoints use TLS when a CA or client certificate is given; hosts without
 * a port get etcd's 2379. TLS files are refused for SQLite, and a client certificate needs its key.
 */
export function datastoreConfig(f: DatastoreFlags): DatastoreConfig {
  const endpoint = f.endpoint?.trim() ?? '';
  const tlsGiven = f.caFile !== undefined || f.certFile !== undefined || f.keyFile !== undefined;
  if (endpoint === '' || endpoint.startsWith('sqlite://')) {
    if (tlsGiven) throw new Error('--datastore-cafile/--datastore-certfile/--datastore-keyfile apply to etcd only');
    const path = endpoint.slice('sqlite://'.length);
    return { kind: 'sqlite', path: path ? resolve(path) : join(f.dataDir, 'db', 'state.db') };
  }
  if ((f.certFile === undefined) !== (f.keyFile === undefined)) throw new Error('--datastore-certfile and --datastore-keyfile go together');
  let scheme: string;
  let hosts: string[];
  if (endpoint.startsWith('etcd://')) {
    scheme = tlsGiven ? 'https' : 'http';
    hosts = endpoint.slice('etcd://'.length).split(',');
  } else if (/^https?:\/\//.test(endpoint)) {
    const urls = endpoint.split(',').map((u) => u.trim());
    const schemes = new Set(urls.map((u) => /^(https?):\/\//.exec(u)?.[1]));
    if (schemes.size !== 1 || schemes.has(undefined)) throw new Error(`--datastore-endpoint: "${endpoint}" mixes http and https endpoints, or has one without a scheme`);
    scheme = [...schemes][0]!;
    hosts = urls.map((u) => u.replace(/^https?:\/\//, ''));
  } else {
    throw new Error(`--datastore-endpoint: "${endpoint}" is not sqlite://PATH, etcd://HOST:PORT[,HOST:PORT...] or http(s)://HOST:PORT[,...]`);
  }
  const endpoints = hosts.map((h) => h.trim().replace(/\/+$/, '')).map((h) => {
    if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(h)) throw new Error(`--datastore-endpoint: "${h}" is not HOST[:PORT]`);
    return `${scheme}://${/:\d+$/.test(h) ? h : `${h}:2379`}`;
  });
  return { kind: 'etcd', endpoints, caFile: f.caFile, certFile: f.certFile, keyFile: f.keyFile };
}

/** Reads the TLS files of an etcd datastore; undefined without a CA or client certificate (plain, or the system's roots). */
export function etcdTLS(c: Extract<DatastoreConfig, { kind: 'etcd' }>): EtcdTLS | undefined {
  const read = (file: string | undefined, flag: string): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (e) {
      throw new Error(`${flag}: cannot read ${file}: ${(e as Error).message}`);
    }
  };
  const ca = read(c.caFile, '--datastore-cafile');
  const cert = read(c.certFile, '--datastore-certfile');
  const key = read(c.keyFile, '--datastore-keyfile');
  // Without a CA file, https endpoints are checked against the system's roots.
  return ca || cert ? { ca, cert, key } : undefined;
}

/** Opens the configured store and waits until it can serve (for etcd: until the cluster answers). */
export async function openDatastore(c: DatastoreConfig, log: Logger): Promise<Store> {
  if (c.kind === 'sqlite') {
    const store = new SqliteStore({ path: c.path, log });
    await store.ready();
    return store;
  }
  const store = new EtcdStore({ endpoints: c.endpoints, tls: etcdTLS(c), log });
  try {
    await store.ready();
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}

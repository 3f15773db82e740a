import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { ISnapshotResponse } from 'etcd3';
import { EtcdConnection, type EtcdConnectionOptions } from './connection.js';
import { describe } from './errors.js';

/** What `etcdctl snapshot status` reports of a snapshot file. */
export interface SnapshotStatus {
  readonly hash: number;
  readonly revision: number;
  readonly totalKey: number;
  readonly totalSize: number;
}

/** The result of saveSnapshot. */
export interface SavedSnapshot {
  readonly file: string;
  readonly bytes: number;
  /** What etcd's own tool reads from the file (undefined when etcdctl is not installed). */
  readonly status?: SnapshotStatus;
}

/**
 * Saves a snapshot of the whole etcd keyspace to `file` through etcd's maintenance Snapshot API (what
 * `etcdctl snapshot save` does): one member streams its backend database followed by its SHA-256, which
 * `etcdctl snapshot restore` checks. Written to `file.part`, synced, then renamed, so `file` is either complete or
 * absent. Fails if the member stops sending for `idleTimeoutMs` (default 30 s).
 */
export async function saveSnapshot(o: EtcdConnectionOptions & { readonly file: string; readonly idleTimeoutMs?: number }): Promise<SavedSnapshot> {
  const conn = new EtcdConnection({ ...o, requestTimeoutMs: o.requestTimeoutMs ?? 10_000 });
  const part = `${o.file}.part`;
  try {
    // Connecting goes through the usual retries across members.
    await conn.call('reach a member', (opts) => conn.client.maintenance.status(opts));
    const stream = await conn.client.maintenance.snapshot();
    const out = createWriteStream(part, { mode: 0o600 });
    const opened = new Promise<void>((resolve, reject) => { out.once('open', () => resolve()); out.once('error', reject); });
    await opened;
    let bytes = 0;
    const idleMs = o.idleTimeoutMs ?? 30_000;
    let idle: NodeJS.Timeout | undefined;
    const cancel = (): void => (stream as unknown as { cancel(): void }).cancel();
    const arm = (): void => { clearTimeout(idle); idle = setTimeout(cancel, idleMs); };
    arm();
    try {
      for await (const chunk of stream as unknown as AsyncIterable<ISnapshotResponse>) {
        arm();
        bytes += chunk.blob.length;
        if (!out.write(chunk.blob)) await new Promise<void>((r) => out.once('drain', () => r()));
      }
    } catch (e) {
      throw new Error(`etcd snapshot interrupted after ${bytes} bytes: ${describe(e)}`, { cause: e });
    } finally {
      clearTimeout(idle);
      await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    }
    if (bytes === 0) throw new Error('etcd sent an empty snapshot');
    const fh = await open(part, 'r+');
    await fh.sync();
    await fh.close();
    renameSync(part, o.file);
    // etcd 3.4 leaves the stream's headers empty: the revision is read back from the file, which checks it too.
    let status: SnapshotStatus | undefined;
    try {
      etcdctlBinary();
      status = await snapshotStatus(o.file);
    } catch (e) {
      if (!/etcdctl is not installed/.test((e as Error).message)) throw e;
    }
    return { file: o.file, bytes, status };
  } finally {
    rmSync(part, { force: true });
    conn.close();
  }
}

/** Fails loudly (with the Debian package to install) when `etcdctl` is missing. */
export function etcdctlBinary(): string {
  const r = spawnSync('sh', ['-c', 'command -v etcdctl'], { encoding: 'utf8' });
  const path = r.stdout.trim();
  if (r.status !== 0 || !path) throw new Error('etcdctl is not installed: it comes with Debian\'s etcd-client package (scripts/ensure-deps.sh installs it)');
  return path;
}

function etcdctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(etcdctlBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ETCDCTL_API: '3' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Reads a snapshot file's revision, key count and size with `etcdctl snapshot status` (which also checks it opens). */
export async function snapshotStatus(file: string): Promise<SnapshotStatus> {
  if (!existsSync(file)) throw new Error(`${file}: no such snapshot file`);
  const r = await etcdctl(['snapshot', 'status', file, '--write-out', 'json']);
  if (r.code !== 0) throw new Error(`etcdctl snapshot status ${file} failed: ${r.stderr.trim() || r.stdout.trim()}`);
  return JSON.parse(r.stdout) as SnapshotStatus;
}

/** How the restored member will run: as `etcdctl snapshot restore` names it (its defaults in brackets). */
export interface RestoreOptions {
  readonly file: string;
  /** The new member's data dir; must not exist yet, or be empty. */
  readonly dataDir: string;
  /** [default] */
  readonly name?: string;
  /** [http://localhost:2380] */
  readonly initialAdvertisePeerURLs?: string;
  /** [NAME=ADVERTISE-PEER-URLS] */
  readonly initialCluster?: string;
  /** [etcd-cluster] */
  readonly initialClusterToken?: string;
}

/**
 * Restores a snapshot into a new member data dir with etcd's own `etcdctl snapshot restore` (which checks the
 * snapshot's SHA-256 and gives the member new cluster and member ids, so it cannot rejoin the old cluster by
 * mistake). Start etcd on the directory with the same name and peer URL afterwards.
 */
export async function restoreSnapshot(o: RestoreOptions): Promise<void> {
  if (!existsSync(o.file)) throw new Error(`${o.file}: no such snapshot file`);
  if (existsSync(o.dataDir) && (!statSync(o.dataDir).isDirectory() || readdirSync(o.dataDir).length > 0)) {
    throw new Error(`${o.dataDir} exists and is not empty: restore into a new directory (etcd would otherwise start on the old data)`);
  }
  if (existsSync(o.dataDir)) rmSync(o.dataDir, { recursive: true });
  const name = o.name ?? 'default';
  const peer = o.initialAdvertisePeerURLs ?? 'http://localhost:2380';
  const r = await etcdctl([
    'snapshot', 'restore', o.file, '--data-dir', o.dataDir, '--name', name, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', o.initialCluster ?? `${name}=${peer}`, '--initial-cluster-token', o.initialClusterToken ?? 'etcd-cluster',
  ]);
  if (r.code !== 0) throw new Error(`etcdctl snapshot restore failed: ${r.stderr.trim() || r.stdout.trim()}`);
}

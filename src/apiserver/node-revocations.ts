import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Secret } from 'kubernetes-types/core/v1.js';
import type { Status } from 'kubernetes-types/meta/v1.js';
import type { KubeObject } from '../api/types.js';
import { secrets } from '../api/kinds/core.js';
import { Informer } from '../client/informer.js';
import type { RestClient } from '../client/rest-client.js';
import type { KV, Store } from '../store/store.js';
import { silentLogger, type Logger } from '../util/log.js';
import { decode } from './registry/codec.js';

/** The group of credentials issued by joining: only those are revoked with their Node (the server's own agent re-registers as kubelet does). */
export const JOINED_NODES_GROUP = 'skiff:joined-nodes';

/** Where the cluster keeps revocations: one Secret every server reads and writes (nodes may do neither). */
export const REVOKED_NODES_NAMESPACE = 'kube-system';
export const REVOKED_NODES_SECRET = 'skiff-revoked-nodes';
export const REVOKED_NODES_TYPE = 'skiff.io/revoked-nodes';
const SECRETS_PATH = `/api/v1/namespaces/${REVOKED_NODES_NAMESPACE}/secrets`;
const SECRET_PATH = `${SECRETS_PATH}/${REVOKED_NODES_SECRET}`;

/** One node's revocation: its joined certificates issued before `at` (ms) are refused. */
export interface Revocation {
  readonly at: number;
  /** The deleted Node's uid: tells a second server's sighting of the same deletion from a later deletion. */
  readonly uid?: string;
}

/** The value stored under the node's name in the Secret (base64 of this JSON, as Secret data is). */
interface StoredRevocation { revokedAt: string; nodeUID?: string }

export function encodeRevocation(r: Revocation): string {
  const v: StoredRevocation = { revokedAt: new Date(r.at).toISOString(), ...(r.uid ? { nodeUID: r.uid } : {}) };
  return Buffer.from(JSON.stringify(v)).toString('base64');
}

/**
 * The Secret's revocations. An entry that does not parse revokes every certificate of that node (fail closed: only a
 * cluster admin can have written it, and the next deletion of the node replaces it); `problems` names them.
 */
export function parseRevocations(secret: Pick<Secret, 'data'> | undefined): { revocations: Map<string, Revocation>; problems: string[] } {
  const revocations = new Map<string, Revocation>();
  const problems: string[] = [];
  for (const [node, value] of Object.entries(secret?.data ?? {})) {
    try {
      const v = JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as StoredRevocation;
      const at = Date.parse(v.revokedAt);
      if (!Number.isFinite(at)) throw new Error(`revokedAt "${String(v.revokedAt)}" is not an RFC 3339 time`);
      revocations.set(node, { at, ...(typeof v.nodeUID === 'string' && v.nodeUID ? { uid: v.nodeUID } : {}) });
    } catch (e) {
      revocations.set(node, { at: Infinity });
      problems.push(`${node}: ${(e as Error).message}`);
    }
  }
  return { revocations, problems };
}

/**
 * What the Secret should hold for a node once `incoming` is recorded, or undefined when `existing` stands. Every
 * server sees every Node deletion and records it: sightings of the same deletion (same Node uid) keep the earliest
 * time, so a node that joined again right after is not revoked by a server that saw the deletion late; a later
 * deletion (another Node of that name, or one whose uid is unknown) moves the time later, revoking the newer
 * certificates too.
 */
export function mergeRevocation(existing: Revocation | undefined, incoming: Revocation): Revocation | undefined {
  if (!existing || !Number.isFinite(existing.at)) return incoming;
  if (incoming.uid && incoming.uid === existing.uid) return incoming.at < existing.at ? incoming : undefined;
  return incoming.at > existing.at ? incoming : undefined;
}

/** The server's file of revocations (node name → ms): those not yet in the Secret, or an older server's whole list. */
function readPendingFile(file: string): Map<string, Revocation> {
  const out = new Map<string, Revocation>();
  if (!existsSync(file)) return out;
  let entries: Record<string, unknown>;
  try {
    entries = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`cannot read the node revocations in ${file}: ${(e as Error).message} (fix or remove it; the cluster's own are kept in the Secret ${REVOKED_NODES_NAMESPACE}/${REVOKED_NODES_SECRET})`);
  }
  for (const [node, at] of Object.entries(entries)) if (typeof at === 'number') out.set(node, { at });
  return out;
}

/**
 * Revoked node credentials: deleting a Node revokes every certificate issued to it by joining before that moment,
 * as a node's removal should (kubelet credentials outliving their Node are a known upstream gap). The cluster keeps
 * them in a Secret, so every server sharing a datastore refuses them, a server that was down at the deletion
 * included; each server holds them in memory (`revoked` runs on every request) from an informer on that Secret.
 */
export class NodeRevocations {
  /** The cluster's, as last read. */
  #shared = new Map<string, Revocation>();
  /** Recorded by this server: they apply here until the cluster's Secret carries them. */
  readonly #own = new Map<string, Revocation>();
  /** Of those, the ones not yet written to the Secret. */
  readonly #unwritten = new Map<string, Revocation>();
  readonly #log: Logger;
  readonly #pendingFile: string | undefined;
  #client: RestClient | undefined;
  #informer: Informer<Secret & KubeObject> | undefined;
  #flushing = false;
  #stopped = false;
  #wake: (() => void) | undefined;

  constructor(o: { log?: Logger; pendingFile?: string } = {}) {
    this.#log = o.log ?? silentLogger;
    this.#pendingFile = o.pendingFile;
    if (o.pendingFile) for (const [node, r] of readPendingFile(o.pendingFile)) this.#record(node, r);
  }

  /**
   * Before the API serves: the cluster's revocations read straight from the store (the informer needs the API up,
   * and a server must not let a revoked node in meanwhile), and the entries of the server's file (revocations it had not
   * written yet, or an older server's whole list), which
   * `start` then moves into the cluster's Secret.
   */
  static async load(o: { store: Store; pendingFile?: string; log?: Logger }): Promise<NodeRevocations> {
    const r = new NodeRevocations(o);
    const key = `${secrets.storagePrefix}${REVOKED_NODES_NAMESPACE}/${REVOKED_NODES_SECRET}`;
    let kv: KV | undefined;
    try {
      ({ kv } = await o.store.get(key));
    } catch (e) {
      throw new Error(`cannot read the revoked node credentials (${key}) from the datastore: ${(e as Error).message}`, { cause: e });
    }
    if (kv) r.#adopt(decode(kv, kv.modRev) as Secret);
    return r;
  }

  /** Follows the cluster's Secret and writes this server's revocations to it; resolves once the Secret is read. */
  async start(client: RestClient): Promise<void> {
    this.#client = client;
    this.#informer = new Informer<Secret & KubeObject>(client, { path: SECRETS_PATH, fieldSelector: `metadata.name=${REVOKED_NODES_SECRET}`, log: this.#log });
    this.#informer.addHandlers({ add: (s) => this.#adopt(s), update: (_, s) => this.#adopt(s), delete: () => this.#restore() });
    await this.#informer.start();
    if (this.#unwritten.size === 0) this.#migrated();
    else this.#flush();
  }

  stop(): void {
    this.#stopped = true;
    this.#informer?.stop();
    this.#wake?.();
  }

  /** A Node was deleted at `at`: its joined certificates issued before then are refused, here at once, everywhere once written. */
  revoke(node: string, at: number, uid?: string): void {
    this.#record(node, { at, ...(uid ? { uid } : {}) });
    this.#savePending();
    this.#flush();
  }

  /**
   * The Secret was deleted: its revocations stand (a revoked certificate never needs to work again — its node joins
   * anew with a newer one), so this server writes back what it knew.
   */
  #restore(): void {
    this.#log.error('the revoked nodes Secret was deleted: writing its revocations back (joined nodes get new credentials by joining again; old ones stay refused)', { secret: `${REVOKED_NODES_NAMESPACE}/${REVOKED_NODES_SECRET}` });
    for (const [node, r] of this.#shared) this.#record(node, r);
    this.#savePending();
    this.#flush();
  }

  /** Revocations not yet in the Secret are kept in the server's file too, so a crash before the write loses none. */
  #savePending(): void {
    if (!this.#pendingFile || this.#unwritten.size === 0) return;
    try {
      const tmp = `${this.#pendingFile}.tmp`;
      writeFileSync(tmp, JSON.stringify(Object.fromEntries([...this.#unwritten].map(([node, r]) => [node, r.at]))), { mode: 0o600 });
      renameSync(tmp, this.#pendingFile);
    } catch (e) {
      this.#log.warn('cannot keep the pending node revocations on disk', { file: this.#pendingFile, err: e as Error });
    }
  }

  /** For the API server's authentication: a joined node's certificate issued before its Node was deleted. */
  revoked(user: string, groups: readonly string[], notBefore: number): boolean {
    if (!user.startsWith('system:node:') || !groups.includes(JOINED_NODES_GROUP)) return false;
    const node = user.slice('system:node:'.length);
    const at = Math.max(this.#shared.get(node)?.at ?? -Infinity, this.#own.get(node)?.at ?? -Infinity);
    // Certificates carry whole seconds: one issued in this same second after the deletion stays valid.
    return notBefore < Math.floor(at / 1000) * 1000;
  }

  /** Whether every revocation this server recorded has been written to the cluster's Secret (for tests). */
  get written(): boolean { return this.#unwritten.size === 0; }

  #record(node: string, r: Revocation): void {
    const merged = mergeRevocation(this.#own.get(node), r);
    if (!merged) return;
    this.#own.set(node, merged);
    this.#unwritten.set(node, merged);
  }

  #adopt(secret: Secret | undefined): void {
    const { revocations, problems } = parseRevocations(secret);
    if (problems.length > 0) this.#log.warn('unreadable entries in the revoked nodes Secret: those nodes\' credentials are all refused until they are deleted again', { secret: `${REVOKED_NODES_NAMESPACE}/${REVOKED_NODES_SECRET}`, problems });
    this.#shared = revocations;
    this.#prune();
  }

  /** An own entry the cluster's Secret carries (this deletion, or a later one) is the Secret's to decide from now on. */
  #prune(): void {
    for (const [node, r] of this.#own) {
      if (!this.#unwritten.has(node) && !mergeRevocation(this.#shared.get(node), r)) this.#own.delete(node);
    }
  }

  /** Writes unwritten revocations to the Secret, retrying with backoff while the API or datastore is away. */
  #flush(): void {
    if (this.#flushing || this.#stopped || !this.#client || this.#unwritten.size === 0) return;
    this.#flushing = true;
    void (async () => {
      let failures = 0;
      while (!this.#stopped && this.#unwritten.size > 0) {
        const batch = new Map(this.#unwritten);
        try {
          const changed = await this.#write(batch);
          failures = 0;
          for (const [node, r] of batch) if (this.#unwritten.get(node) === r) this.#unwritten.delete(node);
          // (A write the Secret did not need changes nothing the informer would report.)
          this.#prune();
          this.#log.info(changed ? 'node revocations recorded in the cluster' : 'node revocations already recorded in the cluster (by another server)', { nodes: [...batch.keys()], secret: `${REVOKED_NODES_NAMESPACE}/${REVOKED_NODES_SECRET}` });
          if (this.#unwritten.size === 0) this.#migrated();
        } catch (e) {
          failures++;
          const delayMs = Math.min(30_000, 200 * 2 ** Math.min(failures, 8));
          this.#log.warn('cannot record node revocations in the cluster yet (this server refuses those nodes meanwhile); retrying', { nodes: [...batch.keys()], err: e as Error, delayMs });
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, delayMs);
            this.#wake = () => { clearTimeout(t); resolve(); };
          });
          this.#wake = undefined;
        }
      }
      this.#flushing = false;
    })();
  }

  /** One read-modify-write of the Secret (false: it needed no change); a 409 (another server wrote first) reads it again. */
  async #write(batch: ReadonlyMap<string, Revocation>): Promise<boolean> {
    const client = this.#client!;
    for (let attempt = 1; ; attempt++) {
      const got = await client.request<Secret & KubeObject>('GET', SECRET_PATH);
      if (got.status !== 200 && got.status !== 404) throw new Error(`reading ${SECRET_PATH}: HTTP ${got.status}: ${(got.body as unknown as Status | undefined)?.message ?? ''}`);
      const current = got.status === 200 ? got.body : undefined;
      const { revocations } = parseRevocations(current);
      const data: Record<string, string> = { ...(current?.data ?? {}) };
      let changed = false;
      for (const [node, r] of batch) {
        const next = mergeRevocation(revocations.get(node), r);
        if (next) { data[node] = encodeRevocation(next); changed = true; }
      }
      if (!changed) return false;
      // The resourceVersion read makes the update conditional: a concurrent writer's change is never overwritten.
      const res = current
        ? await client.request('PUT', SECRET_PATH, { body: { ...current, data } })
        : await client.request('POST', SECRETS_PATH, { body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: REVOKED_NODES_SECRET, namespace: REVOKED_NODES_NAMESPACE }, type: REVOKED_NODES_TYPE, data } });
      if (res.status === 200 || res.status === 201) return true;
      if (res.status !== 409 || attempt >= 10) throw new Error(`writing ${SECRET_PATH}: HTTP ${res.status}: ${(res.body as Status | undefined)?.message ?? ''}${res.status === 409 ? ` (${attempt} conflicts in a row)` : ''}`);
    }
  }

  /** Once the file's entries are in the cluster's Secret, the file has no further use. */
  #migrated(): void {
    if (!this.#pendingFile || !existsSync(this.#pendingFile)) return;
    rmSync(this.#pendingFile, { force: true });
    this.#log.info('node revocations moved from this server\'s file into the cluster', { file: this.#pendingFile, secret: `${REVOKED_NODES_NAMESPACE}/${REVOKED_NODES_SECRET}` });
  }
}

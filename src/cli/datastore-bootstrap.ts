import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, type ScryptOptions } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Store } from '../store/store.js';
import { ClusterCA } from '../apiserver/pki.js';
import { caHash, formatJoinToken, newBootstrapToken, parseJoinToken } from '../api/bootstrap-token.js';
import type { Logger } from '../util/log.js';

/** Where the encrypted bootstrap data lives in the datastore (outside `/registry/`, beside skiff's other keys). */
export const bootstrapKey = '/skiff/bootstrap';

/**
 * The files every server of one cluster must share, relative to `<data-dir>/tls`: the cluster CA, and the CA of
 * managed etcd members when the servers run them (`--cluster-init`).
 */
export const sharedFiles: readonly string[] = ['ca.crt', 'ca.key', 'etcd/ca.crt', 'etcd/ca.key'];
const requiredFiles = new Set(['ca.crt', 'ca.key']);

/** A server token: `K10<CA hash>::<id>.<secret>` (a server's `<data-dir>/token`) or the short `<id>.<secret>`. */
interface ServerToken {
  readonly id: string;
  readonly secret: string;
  /** Absent in the short form. */
  readonly caHash?: string;
}

function parseServerToken(text: string, where: string): ServerToken {
  const t = text.trim();
  const short = /^([a-z0-9]{6})\.([a-z0-9]{16})$/.exec(t);
  if (short) return { id: short[1]!, secret: short[2]! };
  try {
    return parseJoinToken(t);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
}

/** `--token` / `--token-file` of `skiff server`: the token text, if either was given (not both). */
export function serverTokenFlag(token: string | undefined, tokenFile: string | undefined): string | undefined {
  if (token !== undefined && tokenFile !== undefined) throw new Error('--token and --token-file: give one of them');
  if (tokenFile === undefined) return token;
  try {
    return readFileSync(tokenFile, 'utf8');
  } catch (e) {
    throw new Error(`--token-file: cannot read ${tokenFile}: ${(e as Error).message}`);
  }
}

const scrypt = (secret: string, salt: Buffer, o: ScryptOptions): Promise<Buffer> =>
  new Promise((resolve, reject) => scryptCb(secret, salt, 32, o, (e, key) => (e ? reject(e) : resolve(key))));
const kdf: ScryptOptions = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

/** Encrypts the shared files with a key derived from the token's secret (scrypt, AES-256-GCM). */
export async function sealBootstrap(files: Record<string, string>, secret: string): Promise<Buffer> {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', await scrypt(secret, salt, kdf), iv);
  cipher.setAAD(Buffer.from(bootstrapKey));
  const data = Buffer.concat([cipher.update(JSON.stringify(files)), cipher.final()]);
  const sealed = { v: 1, kdf: 'scrypt', n: kdf.N, salt: salt.toString('base64'), iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
  return Buffer.from(JSON.stringify(sealed));
}

/** Decrypts what sealBootstrap wrote; undefined when the secret is not the one it was sealed with. */
export async function openBootstrap(value: Uint8Array, secret: string): Promise<Record<string, string> | undefined> {
  const s = JSON.parse(Buffer.from(value).toString('utf8')) as { v: number; n: number; salt: string; iv: string; tag: string; data: string };
  if (s.v !== 1) throw new Error(`${bootstrapKey}: bootstrap data of version ${s.v}, which this skiff does not know`);
  const decipher = createDecipheriv('aes-256-gcm', await scrypt(secret, Buffer.from(s.salt, 'base64'), { ...kdf, N: s.n }), Buffer.from(s.iv, 'base64'));
  decipher.setAAD(Buffer.from(bootstrapKey));
  decipher.setAuthTag(Buffer.from(s.tag, 'base64'));
  try {
    return JSON.parse(Buffer.concat([decipher.update(Buffer.from(s.data, 'base64')), decipher.final()]).toString('utf8')) as Record<string, string>;
  } catch {
    return undefined;
  }
}

export interface BootstrapOptions {
  /** The shared datastore (etcd); absent for a server of its own (SQLite), which only settles its token. */
  readonly store?: Store;
  /** `<data-dir>/tls`. */
  readonly tlsDir: string;
  /** `<data-dir>/token`, the server's join token file. */
  readonly tokenFile: string;
  /** The token given with `--token`/`--token-file`. */
  readonly token?: string;
  readonly log: Logger;
}

/** What reconcileBootstrap did. */
export type BootstrapOutcome =
  /** This server made the cluster: its CA is now in the datastore, sealed with its token. */
  | 'created'
  /** The datastore held a cluster; this server took its CA (first start of a further server, or a restart). */
  | 'joined'
  /** No shared datastore: the server keeps its own CA. */
  | 'local';

/**
 * Settles a server's CA and token before it issues any certificate, as k3s does with an external datastore.
 * The first server on a datastore writes the cluster CA there (`/skiff/bootstrap`), encrypted with a key derived
 * from its token; every further server must be started with that token (`--token-file <first>/token`, or the
 * token's text with `--token`), and takes the CA from there into its `tls/` — so all servers issue and accept
 * the same certificates, any server's kubeconfig trusts every server, and the token joins nodes through any of
 * them. A server started without the token, or with another one, refuses to start rather than make a second CA.
 * The token (full `K10…` form) ends up in `tokenFile`, which the server then registers for node joins.
 */
export async function reconcileBootstrap(o: BootstrapOptions): Promise<BootstrapOutcome> {
  const given = o.token !== undefined ? parseServerToken(o.token, '--token') : undefined;
  const saved = existsSync(o.tokenFile) ? parseServerToken(readFileSync(o.tokenFile, 'utf8'), o.tokenFile) : undefined;
  const token = given ?? saved;
  if (!o.store) {
    const ca = await ClusterCA.loadOrCreate(o.tlsDir);
    if (given) writeToken(o, ca.pair.cert, given, saved);
    return 'local';
  }
  const { kv } = await o.store.get(bootstrapKey);
  if (!kv) {
    const ca = await ClusterCA.loadOrCreate(o.tlsDir);
    const mine: ServerToken = token ?? newBootstrapToken();
    if (mine.caHash && mine.caHash !== caHash(ca.pair.cert)) {
      throw new Error(`the datastore holds no cluster yet, but the token names another CA (${mine.caHash.slice(0, 12)}…): a token of a cluster whose data is gone cannot start a new one; start without --token`);
    }
    const files = Object.fromEntries(sharedFiles.filter((f) => requiredFiles.has(f) || existsSync(join(o.tlsDir, f))).map((f) => [f, readFileSync(join(o.tlsDir, f), 'utf8')]));
    const r = await o.store.create(bootstrapKey, await sealBootstrap(files, mine.secret));
    if (r.ok) {
      writeToken(o, ca.pair.cert, mine, saved);
      o.log.info('cluster bootstrap data stored in the datastore', { key: bootstrapKey, caHash: caHash(ca.pair.cert).slice(0, 12) });
      return 'created';
    }
    // Another server made the cluster at the same moment: join it (with our token, which must be its).
    if (!r.current) throw new Error(`${bootstrapKey}: could not be written, and is not there`);
    return join_(o, r.current.value, mine, saved);
  }
  if (!token) {
    throw new Error(`the datastore already holds a cluster made by another server: start this one with that server's token ` +
      `(--token-file <its data-dir>/token, or --token K10…), as k3s servers sharing a datastore do`);
  }
  return join_(o, kv.value, token, saved);
}

async function join_(o: BootstrapOptions, value: Uint8Array, token: ServerToken, saved: ServerToken | undefined): Promise<BootstrapOutcome> {
  const files = await openBootstrap(value, token.secret);
  if (!files) {
    throw new Error(`the datastore's bootstrap data (${bootstrapKey}) was sealed with a different token: start this server with the token of the ` +
      `cluster's first server (--token-file <its data-dir>/token)`);
  }
  const caPem = files['ca.crt'];
  if (!caPem || !files['ca.key']) throw new Error(`${bootstrapKey}: the bootstrap data lacks the CA`);
  if (token.caHash && token.caHash !== caHash(caPem)) throw new Error('the token\'s CA hash does not match the cluster CA in the datastore');
  mkdirSync(o.tlsDir, { recursive: true, mode: 0o700 });
  const local = join(o.tlsDir, 'ca.crt');
  if (existsSync(local) && readFileSync(local, 'utf8') !== caPem) {
    // Certificates the old CA signed are re-issued by the server (loadOrIssue checks the signer).
    o.log.warn('this server\'s CA differs from the cluster\'s: replacing it with the one from the datastore', { dir: o.tlsDir });
  }
  for (const f of sharedFiles) {
    const text = files[f];
    if (text === undefined) continue;
    mkdirSync(dirname(join(o.tlsDir, f)), { recursive: true, mode: 0o700 });
    writeFileSync(join(o.tlsDir, f), text, { mode: f.endsWith('.key') ? 0o600 : 0o644 });
  }
  writeToken(o, caPem, token, saved);
  return 'joined';
}

/** Writes the token in full form to the token file when it is not there already. */
function writeToken(o: BootstrapOptions, caPem: string, token: ServerToken, saved: ServerToken | undefined): void {
  if (token.caHash && token.caHash !== caHash(caPem)) throw new Error('--token: its CA hash does not match this server\'s CA');
  if (saved && saved.id === token.id && saved.secret === token.secret) return;
  if (saved) o.log.warn('replacing the server token file with the given token', { file: o.tokenFile });
  writeFileSync(o.tokenFile, `${formatJoinToken(caPem, token.id, token.secret)}\n`, { mode: 0o600 });
}

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { hostname, networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError, badRequest, unauthorized } from '../api/status.js';
import { readBody, sendJSON } from '../apiserver/http.js';
import { CACERTS_PATH } from '../apiserver/node-join.js';
import { ClusterCA, loadOrIssue } from '../apiserver/pki.js';
import { caHash, parseJoinToken } from '../api/bootstrap-token.js';
import { EtcdConnection } from '../store/etcd/connection.js';
import { describe } from '../store/etcd/errors.js';
import type { Logger } from '../util/log.js';
import { openBootstrap, sealBootstrap, sharedFiles } from './datastore-bootstrap.js';
import type { DatastoreConfig } from './datastore.js';

/** Where a server asks an existing one to add its etcd member (unauthenticated route; the server token is the key). */
export const ETCD_JOIN_PATH = '/skiff/v1/etcd-join';

/** What a joining server sends. */
interface EtcdJoinRequest {
  readonly name: string;
  readonly peerURL: string;
}

/** What it gets back. */
interface EtcdJoinResponse {
  /** The shared files (cluster CA, etcd CA), sealed with the token as in the datastore. */
  readonly bootstrap: string;
  /** `--initial-cluster` for the new member. */
  readonly initialCluster: string;
  /** The new member's id (decimal), to promote once it has caught up. */
  readonly memberId: string;
  /** Client URLs of the members already running. */
  readonly clientURLs: readonly string[];
  /** Voting members once this one is promoted. */
  readonly voters: number;
  readonly warning?: string;
}

/** This server's member, as recorded next to its data (`<data-dir>/db/etcd-member.json`). */
interface MemberIdentity {
  readonly name: string;
  readonly peerURL: string;
  readonly clientURL: string;
}

export interface ManagedEtcdOptions {
  /** `--cluster-init`: make a new etcd cluster with this server's member as its first. */
  readonly clusterInit: boolean;
  /** `--server URL`: join the cluster of the server at URL (needs the token). */
  readonly server?: string;
  /** The server token (`K10…`), from `--token`/`--token-file`. */
  readonly token?: string;
  readonly dataDir: string;
  /** The address other servers reach this one's peer port at (default: the first non-loopback IPv4). */
  readonly advertise?: string;
  /** etcd's client and peer ports (defaults 2379 and 2380, etcd's own). */
  readonly clientPort: number;
  readonly peerPort: number;
  readonly log: Logger;
}

const restartDelaysMs = [1000, 2000, 5000, 10_000, 30_000];

function primaryIPv4(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

function etcdBinary(): string {
  const r = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  const path = r.stdout.trim();
  if (r.status !== 0 || !path) throw new Error('--cluster-init/--server run an etcd member next to the server, but etcd is not installed (Debian\'s etcd-server package)');
  return path;
}

/**
 * An etcd member started and supervised by `skiff server` (k3s's embedded etcd, with Debian's etcd binary):
 * `--cluster-init` makes a new cluster, `--server URL --token T` adds a member to the cluster of an existing server
 * (as a learner, promoted once it has caught up, so a member that never starts does not cost the cluster its
 * quorum), and a server whose data dir holds a member starts it again. The member runs under a shell that stops it
 * when the server goes, however it goes (as k3s's etcd, which lives in its process); it is restarted with back-off
 * if it dies. Clients and peers speak TLS with certificates of an etcd CA of its own (`tls/etcd/`), shared by the
 * servers like the cluster CA — not the cluster CA, whose node certificates must not open the datastore. The
 * server uses its own member (`https://127.0.0.1:PORT`). An even number of voting members is warned about loudly.
 */
export class ManagedEtcd {
  readonly datastore: DatastoreConfig;
  readonly #o: ManagedEtcdOptions;
  readonly #member: MemberIdentity;
  readonly #etcdTls: string;
  readonly #dataDir: string;
  readonly #log: Logger;
  #proc: ChildProcess | undefined;
  #pid = 0;
  #stopping = false;
  #restarts = 0;
  #restartTimer: NodeJS.Timeout | undefined;

  private constructor(o: ManagedEtcdOptions, member: MemberIdentity) {
    this.#o = o;
    this.#member = member;
    this.#log = o.log.with({ component: 'etcd' });
    this.#etcdTls = join(o.dataDir, 'tls', 'etcd');
    this.#dataDir = join(o.dataDir, 'db', 'etcd');
    this.datastore = {
      kind: 'etcd', endpoints: [`https://127.0.0.1:${o.clientPort}`],
      caFile: join(this.#etcdTls, 'ca.crt'), certFile: join(this.#etcdTls, 'client.crt'), keyFile: join(this.#etcdTls, 'client.key'),
    };
  }

  /** Starts (or first makes) this server's member when the flags or the data dir ask for one; undefined otherwise. */
  static async start(o: ManagedEtcdOptions): Promise<ManagedEtcd | undefined> {
    const memberFile = join(o.dataDir, 'db', 'etcd-member.json');
    const existing = existsSync(join(o.dataDir, 'db', 'etcd', 'member'));
    if (!existing && !o.clusterInit && !o.server) return undefined;
    if (o.clusterInit && o.server) throw new Error('--cluster-init and --server: give one (the first server makes the cluster, the others join it)');
    const tlsDir = join(o.dataDir, 'tls');
    const etcdTls = join(tlsDir, 'etcd');
    const advertise = o.advertise ?? primaryIPv4();
    const fresh = (): MemberIdentity => ({
      name: `${hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-')}-${Math.random().toString(36).slice(2, 8)}`,
      peerURL: `https://${advertise}:${o.peerPort}`, clientURL: `https://${advertise}:${o.clientPort}`,
    });
    let member: MemberIdentity;
    let initial: { cluster: string; state: 'new' | 'existing' } | undefined;
    let join_: EtcdJoinResponse | undefined;
    if (existing) {
      if (o.clusterInit || o.server) o.log.info('this server already has an etcd member: starting it again (--cluster-init/--server only make a new one)');
      member = JSON.parse(readFileSync(memberFile, 'utf8')) as MemberIdentity;
    } else if (o.clusterInit) {
      member = fresh();
      initial = { cluster: `${member.name}=${member.peerURL}`, state: 'new' };
      await ClusterCA.loadOrCreate(etcdTls);
    } else {
      if (!o.token) throw new Error('--server: a joining server needs the cluster\'s server token (--token-file <first server\'s data-dir>/token, or --token K10…)');
      member = fresh();
      join_ = await requestJoin(o.server!, o.token, member, o.log);
      const t = parseJoinToken(o.token);
      const files = await openBootstrap(Buffer.from(join_.bootstrap, 'base64'), t.secret);
      if (!files) throw new Error(`${o.server} answered with bootstrap data this token does not open`);
      for (const [f, text] of Object.entries(files)) {
        mkdirSync(dirname(join(tlsDir, f)), { recursive: true, mode: 0o700 });
        writeFileSync(join(tlsDir, f), text, { mode: f.endsWith('.key') ? 0o600 : 0o644 });
      }
      initial = { cluster: join_.initialCluster, state: 'existing' };
    }
    mkdirSync(join(o.dataDir, 'db'), { recursive: true, mode: 0o700 });
    writeFileSync(memberFile, JSON.stringify(member), { mode: 0o600 });
    const ca = await ClusterCA.loadOrCreate(etcdTls);
    const url = new URL(member.peerURL);
    await loadOrIssue(ca, etcdTls, 'member', { user: `etcd-member-${member.name}`, groups: [] }, {
      server: { dns: [...new Set(['localhost', hostname()])], ips: [...new Set(['127.0.0.1', url.hostname])] }, client: true,
    });
    await loadOrIssue(ca, etcdTls, 'client', { user: 'kube-apiserver-etcd-client', groups: [] }, { client: true });
    const m = new ManagedEtcd(o, member);
    m.#launch(initial);
    try {
      if (join_) {
        if (join_.warning) m.#warnLoudly(join_.warning);
        await m.#promote(join_);
      }
      await m.#waitReady();
    } catch (e) {
      await m.stop();
      throw e;
    }
    m.#log.info('etcd member ready', { name: member.name, client: m.datastore.kind === 'etcd' ? m.datastore.endpoints[0] : '', peer: member.peerURL });
    return m;
  }

  #tlsFile(name: string): string {
    return join(this.#etcdTls, name);
  }

  #launch(initial: { cluster: string; state: 'new' | 'existing' } | undefined): void {
    const m = this.#member;
    const local = `https://127.0.0.1:${this.#o.clientPort}`;
    const clientListen = [...new Set([local, m.clientURL])].join(',');
    const args = [
      '--name', m.name, '--data-dir', this.#dataDir,
      '--listen-client-urls', clientListen, '--advertise-client-urls', m.clientURL,
      '--listen-peer-urls', m.peerURL, '--initial-advertise-peer-urls', m.peerURL,
      // With a data dir already there etcd ignores these; without, they say how to bootstrap.
      '--initial-cluster', initial?.cluster ?? `${m.name}=${m.peerURL}`, '--initial-cluster-state', initial?.state ?? 'existing', '--initial-cluster-token', 'skiff',
      '--cert-file', this.#tlsFile('member.crt'), '--key-file', this.#tlsFile('member.key'), '--client-cert-auth', '--trusted-ca-file', this.#tlsFile('ca.crt'),
      '--peer-cert-file', this.#tlsFile('member.crt'), '--peer-key-file', this.#tlsFile('member.key'), '--peer-client-cert-auth', '--peer-trusted-ca-file', this.#tlsFile('ca.crt'),
      '--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'warn',
    ];
    // The shell stops etcd when our stdin closes (the server is gone, however it went), and exits when etcd does.
    const script = 'log="$1"; shift; exec 3<&0; "$@" 3<&- </dev/null 2>>"$log" & pid=$!; echo "$pid"; (read -r _ <&3; kill -TERM "$pid" 2>/dev/null) & wait "$pid"';
    const log = join(this.#o.dataDir, 'db', 'etcd.log');
    const proc = spawn('sh', ['-c', script, 'sh', log, etcdBinary(), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.#proc = proc;
    proc.stdout!.once('data', (d: Buffer) => { this.#pid = Number(d.toString().trim()) || 0; });
    proc.once('exit', (code) => {
      proc.stdin!.end();
      if (this.#stopping || this.#proc !== proc) return;
      const delay = restartDelaysMs[Math.min(this.#restarts, restartDelaysMs.length - 1)]!;
      this.#restarts++;
      let tail = '';
      try { tail = readFileSync(log, 'utf8').slice(-1500); } catch { /* none */ }
      this.#log.error('etcd member exited; restarting it', { code, restartInMs: delay, log: tail });
      this.#restartTimer = setTimeout(() => this.#launch(undefined), delay);
    });
  }

  #warnLoudly(message: string): void {
    this.#log.warn(message);
    process.stderr.write(`WARNING: ${message}\n`);
  }

  /** Promotes this learner once it has caught up with the leader (etcd refuses before). */
  async #promote(j: EtcdJoinResponse): Promise<void> {
    const conn = new EtcdConnection({ endpoints: j.clientURLs, tls: this.#clientTLS(), requestTimeoutMs: 5000 });
    const deadline = Date.now() + 120_000;
    try {
      for (;;) {
        try {
          await conn.call('promote member', (o) => conn.client.cluster.memberPromote({ ID: j.memberId }, o));
          this.#log.info('etcd member promoted to voting member', { name: this.#member.name, voters: j.voters });
          return;
        } catch (e) {
          const msg = describe(e);
          if (/not a learner|is not learner/.test(msg)) return;
          if (Date.now() > deadline) throw new Error(`etcd member ${this.#member.name} could not be promoted: ${msg}`);
          if (!/in sync|not started|unavailable/i.test(msg)) this.#log.warn('promoting the etcd member failed; retrying', { err: msg });
        }
        await sleep(300);
      }
    } finally {
      conn.close();
    }
  }

  #clientTLS(): { ca: Buffer; cert: Buffer; key: Buffer } {
    return { ca: readFileSync(this.#tlsFile('ca.crt')), cert: readFileSync(this.#tlsFile('client.crt')), key: readFileSync(this.#tlsFile('client.key')) };
  }

  /** Waits until the member reports itself healthy (it has a leader and answers reads); with quorum lost, that waits. */
  async #waitReady(ms = 120_000): Promise<void> {
    const deadline = Date.now() + ms;
    let last = '';
    let nextWarning = Date.now() + 15_000;
    const tls = this.#clientTLS();
    while (Date.now() < deadline) {
      if (!this.#proc || this.#proc.exitCode !== null) last = 'etcd is not running (see <data-dir>/db/etcd.log)';
      else {
        try {
          const { body } = await call(`https://127.0.0.1:${this.#o.clientPort}/health`, { ...tls, timeoutMs: 2000 });
          if (/"health":\s*"true"/.test(body)) return;
          last = body;
        } catch (e) {
          last = (e as Error).message;
        }
      }
      if (Date.now() > nextWarning) {
        this.#log.warn('waiting for the etcd member to be healthy (the other members must be up for quorum)', { last });
        nextWarning = Date.now() + 15_000;
      }
      await sleep(200);
    }
    throw new Error(`the etcd member did not become healthy within ${ms / 1000} s: ${last}`);
  }

  /**
   * The route existing servers answer joins on: checks the server token, adds the joiner's member as a learner
   * through this server's member, and hands over the shared files sealed with the token.
   */
  joinRoute(tokenFile: string): [string, (req: IncomingMessage, res: ServerResponse) => Promise<void>] {
    return [ETCD_JOIN_PATH, async (req, res) => {
      if (req.method !== 'POST') throw new ApiError(405, 'MethodNotAllowed', 'POST only');
      const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const own = parseJoinToken(readFileSync(tokenFile, 'utf8'));
      const want = Buffer.from(`${own.id}.${own.secret}`);
      const got = Buffer.from(auth);
      if (want.length !== got.length || !timingSafeEqual(want, got)) {
        req.resume();
        throw unauthorized();
      }
      const body = JSON.parse((await readBody(req, 64 * 1024)).toString()) as Partial<EtcdJoinRequest>;
      if (typeof body.name !== 'string' || !/^[a-z0-9][-a-z0-9]{0,62}$/.test(body.name)) throw badRequest('name: not a member name');
      if (typeof body.peerURL !== 'string' || !/^https:\/\/[^/\s]+:\d+$/.test(body.peerURL)) throw badRequest('peerURL: expected https://HOST:PORT');
      sendJSON(res, 200, await this.#admit(body as EtcdJoinRequest, own.secret));
    }];
  }

  async #admit(j: EtcdJoinRequest, secret: string): Promise<EtcdJoinResponse> {
    const conn = new EtcdConnection({ endpoints: [`https://127.0.0.1:${this.#o.clientPort}`], tls: this.#clientTLS() });
    try {
      const { value: list } = await conn.call('list members', (o) => conn.client.cluster.memberList({}, o));
      const same = list.members.find((m) => m.peerURLs.includes(j.peerURL));
      if (same?.name) throw new ApiError(409, 'Conflict', `an etcd member with peer URL ${j.peerURL} is already running (${same.name})`);
      let id = same?.ID;
      let members = list.members;
      if (!id) {
        try {
          const { value: added } = await conn.call('add member', (o) => conn.client.cluster.memberAdd({ peerURLs: [j.peerURL], isLearner: true }, o));
          id = added.member.ID;
          members = added.members;
        } catch (e) {
          const msg = describe(e);
          if (/too many learner/.test(msg)) throw new ApiError(409, 'Conflict', 'another server is joining the etcd cluster: try again once it has (servers join one at a time)');
          throw e;
        }
      }
      const voters = members.filter((m) => !m.isLearner).length + (members.find((m) => m.ID === id)?.isLearner === false ? 0 : 1);
      const warning = voters % 2 === 0
        ? `the etcd cluster will have ${voters} voting members: an even number survives no more failures than ${voters - 1} (quorum ${voters / 2 + 1}) — add one more server`
        : undefined;
      if (warning) this.#warnLoudly(warning);
      this.#log.info('etcd member added as a learner', { name: j.name, peerURL: j.peerURL, id, voters });
      const files = Object.fromEntries(sharedFiles.filter((f) => existsSync(join(this.#o.dataDir, 'tls', f))).map((f) => [f, readFileSync(join(this.#o.dataDir, 'tls', f), 'utf8')]));
      return {
        bootstrap: (await sealBootstrap(files, secret)).toString('base64'),
        initialCluster: members.filter((m) => m.ID === id || m.name).map((m) => `${m.ID === id ? j.name : m.name}=${m.peerURLs[0]}`).join(','),
        memberId: id,
        clientURLs: members.flatMap((m) => m.clientURLs),
        voters,
        ...(warning ? { warning } : {}),
      };
    } finally {
      conn.close();
    }
  }

  /** Stops the member (SIGTERM, then SIGKILL after 10 s). */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    const proc = this.#proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.stdin!.end();
    const t = setTimeout(() => { if (this.#pid) { try { process.kill(this.#pid, 'SIGKILL'); } catch { /* gone */ } } }, 10_000);
    await exited;
    clearTimeout(t);
  }
}

/**
 * One HTTPS request; `ca` absent: the server is not checked (only to fetch its CA, which the token's hash then
 * checks). `cert`/`key`: a client certificate (etcd's /health).
 */
function call(url: string, o: {
  ca?: string | Buffer; cert?: Buffer; key?: Buffer; method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number;
}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, {
      method: o.method ?? 'GET', headers: o.headers, timeout: o.timeoutMs ?? 30_000, cert: o.cert, key: o.key,
      ...(o.ca ? { ca: o.ca } : { rejectUnauthorized: false }),
    }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Asks the server at `server` to add our member; retries while another server is joining. */
async function requestJoin(server: string, token: string, member: MemberIdentity, log: Logger): Promise<EtcdJoinResponse> {
  const t = parseJoinToken(token);
  const base = server.replace(/\/+$/, '');
  const ca = await call(`${base}${CACERTS_PATH}`, {});
  if (ca.status !== 200 || caHash(ca.body) !== t.caHash) {
    throw new Error(`the server at ${server} does not hold the CA the token names: wrong server, or a token of another cluster`);
  }
  const deadline = Date.now() + 120_000;
  for (;;) {
    const r = await call(`${base}${ETCD_JOIN_PATH}`, {
      ca: ca.body, method: 'POST', body: JSON.stringify({ name: member.name, peerURL: member.peerURL } satisfies EtcdJoinRequest),
      headers: { Authorization: `Bearer ${t.id}.${t.secret}`, 'Content-Type': 'application/json' },
    });
    if (r.status === 200) return JSON.parse(r.body) as EtcdJoinResponse;
    const message = ((): string => { try { return (JSON.parse(r.body) as { message?: string }).message ?? r.body; } catch { return r.body; } })();
    if (r.status === 409 && /another server is joining/.test(message) && Date.now() < deadline) {
      log.info('another server is joining the etcd cluster; waiting', { server });
      await sleep(1000);
      continue;
    }
    throw new Error(`${server} refused to add this server's etcd member (HTTP ${r.status}): ${message}`);
  }
}

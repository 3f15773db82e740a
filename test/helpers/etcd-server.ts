import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './registry.js';

/**
 * A real single-member etcd for tests and benchmarks: Debian's `etcd` (package `etcd-server`, installed by
 * scripts/ensure-deps.sh) on free loopback ports with a temporary data dir. It runs under a small shell that
 * kills it and removes the data dir when our stdin closes, so etcd never outlives the test process, even one
 * killed with SIGKILL. Call `stop()` from `after()`.
 */
export interface TestEtcd {
  /** Client URL, `http://127.0.0.1:PORT` (https with TLS). */
  readonly endpoint: string;
  /** The etcd process (not its shell). */
  readonly pid: number;
  readonly dataDir: string;
  /** Freezes etcd (SIGSTOP): connections stay open, nothing answers. */
  pause(): void;
  /** Thaws it (SIGCONT). */
  resume(): void;
  /** Kills etcd (SIGKILL) and removes its data dir. Idempotent. */
  stop(): Promise<void>;
}

/** TLS files for a member: serving certificate and key, and the CA that client certificates must chain to. */
export interface TestEtcdTLS {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

const running = new Set<TestEtcd>();
// The last line of defence when a test process exits without its after() hooks (uncaught error, process.exit).
process.once('exit', () => {
  for (const e of running) {
    try { process.kill(e.pid, 'SIGKILL'); } catch { /* gone */ }
    rmSync(e.dataDir, { recursive: true, force: true });
  }
});

/** Fails loudly (never skips) when the etcd binary is missing. */
/**
 * SIGSTOP, returning once the process is stopped: the signal is only queued when kill() returns, and a busy
 * machine may let etcd answer one more request meanwhile.
 */
function freeze(pid: number): void {
  process.kill(pid, 'SIGSTOP');
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'T' || state === 't') return;
  }
}

export function etcdBinary(): string {
  const r = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  const path = r.stdout.trim();
  if (r.status !== 0 || !path) throw new Error('etcd is not installed: run `bash scripts/ensure-deps.sh` (it installs Debian\'s etcd-server)');
  return path;
}

/** How to start a single member. */
export interface StartEtcdOptions {
  readonly tls?: TestEtcdTLS;
  /**
   * Run on this existing member data dir (one `etcdctl snapshot restore` made) instead of a fresh one. The
   * caller owns it: stop() leaves it alone. Give the `name` and `peerPort` it was restored with.
   */
  readonly memberDataDir?: string;
  /** The member's name (default m1). */
  readonly name?: string;
  /** The peer port (default: a free one). */
  readonly peerPort?: number;
}

/** Starts a fresh member; retries with other ports when one was taken meanwhile. */
export async function startEtcd(o: StartEtcdOptions = {}): Promise<TestEtcd> {
  let last: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(o);
    } catch (e) {
      last = e as Error;
    }
  }
  throw last!;
}

async function startOnce(o: StartEtcdOptions): Promise<TestEtcd> {
  const tls = o.tls;
  const bin = etcdBinary();
  const [clientPort, peerPort] = [await freePort(), o.peerPort ?? await freePort()];
  const dataDir = mkdtempSync(join(tmpdir(), 'skiff-etcd-'));
  const scheme = tls ? 'https' : 'http';
  const endpoint = `${scheme}://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const name = o.name ?? 'm1';
  const args = [
    '--name', name, '--data-dir', o.memberDataDir ?? join(dataDir, 'data'),
    '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `${name}=${peer}`, '--initial-cluster-state', 'new', '--heartbeat-interval', '25', '--election-timeout', '250', '--initial-cluster-token', `skiff-test-${clientPort}`,
    '--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'error',
    ...(tls ? ['--cert-file', tls.certFile, '--key-file', tls.keyFile, '--trusted-ca-file', tls.caFile, '--client-cert-auth'] : []),
  ];
  // The shell prints etcd's pid, then waits for stdin to close (our exit, however it happens) to kill it.
  const script = 'dir="$1"; shift; "$@" 2>"$dir/etcd.log" & pid=$!; echo "$pid"; read -r _; kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"';
  const sh = spawn('sh', ['-c', script, 'sh', dataDir, bin, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const pid = await new Promise<number>((resolve, reject) => {
    let out = '';
    sh.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    sh.once('exit', (code) => reject(new Error(`etcd wrapper exited with ${code}`)));
  });
  let stopped = false;
  const etcd: TestEtcd = {
    endpoint, pid, dataDir,
    pause: () => freeze(pid),
    resume: () => process.kill(pid, 'SIGCONT'),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      running.delete(etcd);
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
      if (sh.exitCode === null && sh.signalCode === null) {
        const exited = new Promise((r) => sh.once('exit', r));
        sh.stdin.end();
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  running.add(etcd);
  try {
    await waitHealthy(etcd, tls, 15_000);
  } catch (e) {
    let log = '';
    try { log = readFileSync(join(dataDir, 'etcd.log'), 'utf8').slice(-2000); } catch { /* no log */ }
    await etcd.stop();
    throw new Error(`etcd did not become healthy: ${(e as Error).message}\n${log}`);
  }
  return etcd;
}

/** Polls `/health` until the member reports itself healthy. */
async function waitHealthy(etcd: TestEtcd, tls: TestEtcdTLS | undefined, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      process.kill(etcd.pid, 0);
    } catch {
      throw new Error('etcd exited');
    }
    try {
      const body = await get(`${etcd.endpoint}/health`, tls);
      if (/"health":\s*"true"/.test(body)) return;
      last = body;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`timed out (last: ${last})`);
}

function get(url: string, tls: TestEtcdTLS | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const opts = { timeout: 1000, ...(tls ? { ca: readFileSync(tls.caFile), cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } : {}) };
    const req = (tls ? httpsRequest : httpRequest)(url, opts, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * A throwaway CA and one certificate for 127.0.0.1/localhost usable both as an etcd member's serving certificate
 * and as a client certificate (openssl, EC P-256, valid one day), written to `dir`.
 */
export function makeTestTLS(dir: string): TestEtcdTLS & { readonly clientCertFile: string; readonly clientKeyFile: string } {
  const run = (args: string[]): void => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=skiff-test-etcd-ca', '-days', '1']);
  run(['req', ...ec, '-keyout', 'etcd.key', '-out', 'etcd.csr', '-subj', '/CN=etcd']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  run(['x509', '-req', '-in', 'etcd.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'etcd.crt', '-days', '1', '-extfile', 'ext.cnf']);
  const f = (n: string): string => join(dir, n);
  return { caFile: f('ca.crt'), certFile: f('etcd.crt'), keyFile: f('etcd.key'), clientCertFile: f('etcd.crt'), clientKeyFile: f('etcd.key') };
}

/** One member of a TestEtcdCluster. It can be killed and started again on its data dir (it rejoins). */
export interface TestEtcdMember {
  readonly name: string;
  /** Client URL, `http://127.0.0.1:PORT`. */
  readonly endpoint: string;
  /** The etcd process while it runs, 0 while it is down. */
  readonly pid: number;
  readonly running: boolean;
  /** Kills the member (SIGKILL), keeping its data dir. Idempotent. */
  kill(): Promise<void>;
  /** Starts it again on its data dir and waits until it serves clients (it catches up from the others). */
  start(): Promise<void>;
  pause(): void;
  resume(): void;
  /** What the member itself says (etcd's maintenance status): its id, the leader it follows, its revision and raft index. */
  status(): Promise<MemberStatus>;
}

export interface MemberStatus {
  readonly id: string;
  readonly leader: string;
  readonly revision: number;
  readonly raftIndex: number;
}

/**
 * A real etcd cluster of `size` members on loopback ports, each with its own data dir under one temporary
 * directory. Members run under small shells that kill them when our stdin closes, and a guard removes the whole
 * directory then, so neither processes nor files outlive the test process, even one killed with SIGKILL.
 */
export interface TestEtcdCluster {
  readonly members: readonly TestEtcdMember[];
  /** Every member's client URL. */
  readonly endpoints: readonly string[];
  /** `etcd://127.0.0.1:P1,127.0.0.1:P2,…`, for `skiff server --datastore-endpoint`. */
  readonly datastoreEndpoint: string;
  readonly dir: string;
  /** The member the others follow (asked of every running member; they must agree). */
  leader(timeoutMs?: number): Promise<TestEtcdMember>;
  /** Waits until every running member reports itself healthy (it has a leader and answers reads). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every member and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

export interface EtcdClusterOptions {
  /** Members (default 3). */
  readonly size?: number;
  /** Raft heartbeat and election timeout, ms (default 100 and 1000, etcd's own defaults). */
  readonly heartbeatMs?: number;
  readonly electionMs?: number;
}

const clusters = new Set<TestEtcdCluster>();
process.once('exit', () => {
  for (const c of clusters) {
    for (const m of c.members) if (m.pid) { try { process.kill(m.pid, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(c.dir, { recursive: true, force: true });
  }
});

/** Starts a cluster and waits until it has a leader; retries with other ports when one was taken meanwhile. */
export async function startEtcdCluster(o: EtcdClusterOptions = {}): Promise<TestEtcdCluster> {
  let last: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startClusterOnce(o);
    } catch (e) {
      last = e as Error;
    }
  }
  throw last!;
}

async function startClusterOnce(o: EtcdClusterOptions): Promise<TestEtcdCluster> {
  const bin = etcdBinary();
  const size = o.size ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'skiff-etcd-cluster-'));
  // The guard: when our stdin closes (however we exit), it waits for the members' shells to kill them, then
  // removes everything.
  const guard = spawn('sh', ['-c', 'read -r _; sleep 1; rm -rf "$1"', 'sh', dir], { stdio: ['pipe', 'ignore', 'ignore'] });
  const ports: { client: number; peer: number }[] = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const names = ports.map((_, i) => `m${i + 1}`);
  const initialCluster = ports.map((p, i) => `${names[i]}=http://127.0.0.1:${p.peer}`).join(',');
  const token = `skiff-test-cluster-${ports[0]!.client}`;
  const members: Member[] = ports.map((p, i) => new Member(bin, names[i]!, join(dir, names[i]!), p.client, [
    '--listen-peer-urls', `http://127.0.0.1:${p.peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${p.peer}`,
    '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', token,
    '--heartbeat-interval', String(o.heartbeatMs ?? 100), '--election-timeout', String(o.electionMs ?? 1000),
  ]));
  let stopped = false;
  const cluster: TestEtcdCluster = {
    members,
    endpoints: members.map((m) => m.endpoint),
    datastoreEndpoint: `etcd://${members.map((m) => m.endpoint.replace('http://', '')).join(',')}`,
    dir,
    leader: (timeoutMs = 15_000) => leaderOf(members, timeoutMs),
    waitHealthy: async (timeoutMs = 20_000) => { await Promise.all(members.filter((m) => m.running).map((m) => m.waitHealthy(timeoutMs))); },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      clusters.delete(cluster);
      await Promise.all(members.map((m) => m.kill()));
      rmSync(dir, { recursive: true, force: true });
      if (guard.exitCode === null && guard.signalCode === null) {
        const exited = new Promise((r) => guard.once('exit', r));
        guard.kill('SIGKILL');
        await exited;
      }
    },
  };
  clusters.add(cluster);
  try {
    // Members of a new cluster wait for each other: start them all, then wait.
    await Promise.all(members.map((m) => m.launch()));
    await cluster.waitHealthy(30_000);
  } catch (e) {
    const logs = members.map((m) => `${m.name}: ${m.logTail()}`).join('\n');
    await cluster.stop();
    throw new Error(`etcd cluster did not become healthy: ${(e as Error).message}\n${logs}`);
  }
  return cluster;
}

class Member implements TestEtcdMember {
  readonly endpoint: string;
  #pid = 0;
  #sh: ChildProcess | undefined;

  constructor(readonly bin: string, readonly name: string, readonly dir: string, clientPort: number, readonly clusterArgs: string[]) {
    this.endpoint = `http://127.0.0.1:${clientPort}`;
    mkdirSync(dir, { recursive: true });
  }

  get pid(): number { return this.#pid; }
  get running(): boolean { return this.#pid !== 0; }

  /** Spawns etcd under a shell that kills it when our stdin closes; resolves once it runs (not yet healthy). */
  async launch(): Promise<void> {
    const args = [
      '--name', this.name, '--data-dir', join(this.dir, 'data'),
      '--listen-client-urls', this.endpoint, '--advertise-client-urls', this.endpoint,
      ...this.clusterArgs,
      '--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'warn',
    ];
    const script = 'log="$1"; shift; "$@" 2>>"$log" & pid=$!; echo "$pid"; read -r _; kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null';
    const sh = spawn('sh', ['-c', script, 'sh', join(this.dir, 'etcd.log'), this.bin, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.#sh = sh;
    this.#pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      sh.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^(\d+)\n/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      sh.once('exit', (code) => reject(new Error(`etcd wrapper exited with ${code}`)));
    });
  }

  async start(): Promise<void> {
    if (this.running) return;
    await this.launch();
    await this.waitHealthy(30_000);
  }

  async kill(): Promise<void> {
    const sh = this.#sh;
    const pid = this.#pid;
    this.#pid = 0;
    this.#sh = undefined;
    if (pid) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    if (sh && sh.exitCode === null && sh.signalCode === null) {
      const exited = new Promise((r) => sh.once('exit', r));
      sh.stdin!.end();
      await exited;
    }
  }

  pause(): void { freeze(this.#pid); }
  resume(): void { process.kill(this.#pid, 'SIGCONT'); }

  async waitHealthy(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.#pid) throw new Error(`${this.name} is not running`);
      try { process.kill(this.#pid, 0); } catch { throw new Error(`${this.name} exited: ${this.logTail()}`); }
      try {
        const body = await get(`${this.endpoint}/health`, undefined);
        if (/"health":\s*"true"/.test(body)) return;
        last = body;
      } catch (e) {
        last = (e as Error).message;
      }
      await sleep(100);
    }
    throw new Error(`${this.name} not healthy in ${ms} ms (last: ${last})`);
  }

  /** The member's status through etcd's JSON gateway. */
  async status(): Promise<MemberStatus> {
    const body = await post(`${this.endpoint}/v3/maintenance/status`, '{}');
    const s = JSON.parse(body) as { header?: { member_id?: string; revision?: string }; leader?: string; raftIndex?: string };
    return { id: s.header?.member_id ?? '', leader: s.leader ?? '', revision: Number(s.header?.revision ?? 0), raftIndex: Number(s.raftIndex ?? 0) };
  }

  logTail(): string {
    try { return readFileSync(join(this.dir, 'etcd.log'), 'utf8').slice(-1500); } catch { return '(no log)'; }
  }
}

async function leaderOf(members: readonly Member[], ms: number): Promise<TestEtcdMember> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const up = members.filter((m) => m.running);
      const statuses = await Promise.all(up.map((m) => m.status()));
      const leaders = new Set(statuses.map((s) => s.leader));
      const leader = up[statuses.findIndex((s) => s.id === statuses[0]?.leader)];
      if (leaders.size === 1 && leader && statuses[0]!.leader !== '0') return leader;
      last = JSON.stringify(statuses);
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`the etcd members did not agree on a leader in ${ms} ms (last: ${last})`);
}

function post(url: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', timeout: 1000, headers: { 'content-type': 'application/json' } }, (res) => {
      let out = '';
      res.on('data', (d: Buffer) => { out += d.toString(); });
      res.on('end', () => (res.statusCode === 200 ? resolve(out) : reject(new Error(`HTTP ${res.statusCode}: ${out}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

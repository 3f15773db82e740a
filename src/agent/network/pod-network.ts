import { mkdir, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { PodNetwork, SandboxNetwork, SandboxNetworkRequest } from './types.js';
import type { CniNetworkConfigList, CniResult, CniRuntimeConf } from './cni-types.js';
import { CniClient } from './cni.js';
import type { CachedAttachment } from './result-cache.js';
import { NetnsManager, isValidSandboxId } from './netns.js';
import { podConflist, loopbackConflist, LOOPBACK_NETWORK } from './conflist.js';
import { parseIpv4Cidr, type Ipv4Cidr } from '../../util/ipv4-cidr.js';
import { listReservations, removeReservation } from './host-local.js';
import { readNatTable, removeCniNatState } from './iptables.js';
import { runCommand } from './command.js';
import { ensureMasquerade, removeMasquerade } from './masquerade.js';
import { silentLogger, type Logger } from '../../util/log.js';

/** Options of {@link CniPodNetwork}. Agents sharing a host must differ in every one of the first five. */
export interface CniPodNetworkOptions {
  /** This agent's private directory: result cache, IPAM store, the conflist it runs. Created on demand. */
  readonly stateDir: string;
  /** Namespace names are `<netnsPrefix>-<sandbox id>`; letters, digits and '_' only. */
  readonly netnsPrefix: string;
  /** The Linux bridge pods attach to (≤ 15 characters, the kernel's IFNAMSIZ). */
  readonly bridgeName: string;
  /** The CNI network name: appears in iptables comments and chain hashes, so it must be unique per host. */
  readonly networkName: string;
  /** The node's pod CIDR (IPv4); the bridge takes its `.1`. */
  readonly podCIDR: string;
  /** Plugin directory. Default `/usr/lib/cni` (Debian's containernetworking-plugins). */
  readonly cniBinDir?: string;
  /** bridge `hairpinMode`, so a pod can reach itself through its own hostPort. Default true. */
  readonly hairpin?: boolean;
  /** Timeout of each plugin call. Default 30 s. */
  readonly pluginTimeoutMs?: number;
  readonly log?: Logger;
}

const POD_IFNAME = 'eth0';
const LO_IFNAME = 'lo';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const BRIDGE_RE = /^[A-Za-z0-9_.-]{1,15}$/;

/**
 * The node agent's pod network over real CNI plugins: a pinned namespace per sandbox, the loopback
 * network on `lo`, then bridge + host-local + portmap on `eth0` (runtime.md §3). All state lives in
 * `stateDir`, the namespaces under the agent's prefix and the iptables rules under its network name, so
 * garbage collection can tell its own leftovers from another agent's. Operations on one sandbox id are
 * serialised; different ids run concurrently.
 */
export class CniPodNetwork implements PodNetwork {
  /** The pod network configuration list this instance runs (also written to `<stateDir>/net.d/`). */
  readonly conflist: CniNetworkConfigList;
  readonly loopback: CniNetworkConfigList = loopbackConflist();
  readonly podCidr: Ipv4Cidr;
  readonly bridgeName: string;
  readonly netns: NetnsManager;
  readonly #stateDir: string;
  readonly #ipamDir: string;
  readonly #cni: CniClient;
  readonly #log: Logger;
  readonly #locks = new Map<string, Promise<void>>();
  /** Operations queued or running per id; garbage collection leaves busy ids alone. */
  readonly #pending = new Map<string, number>();
  #conflistWritten: Promise<void> | undefined;
  /** The other nodes' pod CIDRs, exempt from masquerade. */
  #peers: readonly string[] = [];
  #masquerading: Promise<void> = Promise.resolve();

  constructor(opts: CniPodNetworkOptions) {
    if (!NAME_RE.test(opts.networkName) || opts.networkName === LOOPBACK_NETWORK) {
      throw new Error(`network name ${JSON.stringify(opts.networkName)} must match ${NAME_RE.source} and not be ${LOOPBACK_NETWORK}`);
    }
    if (!BRIDGE_RE.test(opts.bridgeName)) throw new Error(`bridge name ${JSON.stringify(opts.bridgeName)} must be 1-15 letters, digits, '_', '.' or '-'`);
    this.podCidr = parseIpv4Cidr(opts.podCIDR);
    this.bridgeName = opts.bridgeName;
    this.netns = new NetnsManager(opts.netnsPrefix);
    this.#stateDir = opts.stateDir;
    this.#ipamDir = join(opts.stateDir, 'ipam');
    this.#log = (opts.log ?? silentLogger).with({ network: opts.networkName });
    this.conflist = podConflist({
      networkName: opts.networkName,
      bridgeName: opts.bridgeName,
      podCidr: this.podCidr,
      ipamDataDir: this.#ipamDir,
      hairpin: opts.hairpin ?? true,
    });
    this.#cni = new CniClient({
      binDir: opts.cniBinDir ?? '/usr/lib/cni',
      cacheDir: join(opts.stateDir, 'results'),
      log: this.#log,
      ...(opts.pluginTimeoutMs !== undefined ? { timeoutMs: opts.pluginTimeoutMs } : {}),
    });
  }

  get networkName(): string {
    return this.conflist.name;
  }

  /**
   * netns add → CNI ADD loopback → CNI ADD pod network. A second call for a set-up id returns the cached
   * result; leftovers of an interrupted attempt are torn down first. A failed ADD is rolled back (DEL while
   * the namespace exists, then the namespace) before the error is rethrown.
   */
  setUp(req: SandboxNetworkRequest): Promise<SandboxNetwork> {
    if (!isValidSandboxId(req.id)) return Promise.reject(new Error(`invalid sandbox id ${JSON.stringify(req.id)}`));
    return this.#withLock(req.id, async () => {
      const exists = await this.netns.exists(req.id);
      const cached = this.#cni.cached(this.networkName, req.id, POD_IFNAME);
      if (exists && cached) return toSandboxNetwork(cached.result, cached.netns);
      if (exists || cached || this.#cni.cached(LOOPBACK_NETWORK, req.id, LO_IFNAME)) {
        this.#log.info('tearing down leftovers of an earlier setUp', { id: req.id });
        await this.#teardown(req.id);
      }
      await this.#writeConflist();
      const started = Date.now();
      const nsPath = await this.netns.add(req.id);
      try {
        const args: Array<readonly [string, string]> = [
          ['K8S_POD_NAMESPACE', req.podNamespace],
          ['K8S_POD_NAME', req.podName],
          ['K8S_POD_INFRA_CONTAINER_ID', req.id],
          ['K8S_POD_UID', req.podUid],
        ];
        await this.#cni.add(this.loopback, { containerId: req.id, netns: nsPath, ifName: LO_IFNAME, args, capabilityArgs: {} });
        const portMappings = req.portMappings.map((p) => ({
          hostPort: p.hostPort,
          containerPort: p.containerPort,
          protocol: p.protocol.toLowerCase(),
          ...(p.hostIP ? { hostIP: p.hostIP } : {}),
        }));
        const result = await this.#cni.add(this.conflist, { containerId: req.id, netns: nsPath, ifName: POD_IFNAME, args, capabilityArgs: { portMappings } });
        const net = toSandboxNetwork(result, nsPath);
        this.#log.info('sandbox network up', { id: req.id, pod: `${req.podNamespace}/${req.podName}`, ip: net.ip, ms: Date.now() - started });
        return net;
      } catch (e) {
        this.#log.warn('sandbox network setup failed, rolling back', { id: req.id, err: e as Error });
        try {
          await this.#teardown(req.id);
        } catch (e2) {
          // DEL fails too (e.g. the plugin binary is missing): remove what we can by hand rather than
          // leave a namespace and reservations for a sandbox that never existed.
          this.#log.warn('rollback DEL failed; removing the sandbox network state directly', { id: req.id, err: e2 as Error });
          await this.#sweep(req.id).catch((e3: unknown) => this.#log.warn('rollback sweep failed; garbage collection will retry', { id: req.id, err: e3 as Error }));
        }
        throw e;
      }
    });
  }

  /** CNI DEL (pod network, then loopback) while the namespace exists, then `ip netns del`. A no-op when nothing is left. */
  tearDown(id: string): Promise<void> {
    if (!isValidSandboxId(id)) return Promise.reject(new Error(`invalid sandbox id ${JSON.stringify(id)}`));
    return this.#withLock(id, () => this.#teardown(id));
  }

  /** The cached ADD result of `id`'s pod network, or undefined when `id` has none. */
  status(id: string): SandboxNetwork | undefined {
    if (!isValidSandboxId(id)) return undefined;
    const cached = this.#cni.cached(this.networkName, id, POD_IFNAME);
    if (!cached) return undefined;
    try {
      return toSandboxNetwork(cached.result, cached.netns);
    } catch {
      return undefined;
    }
  }

  /**
   * Finds every sandbox id this agent holds anything for (namespaces with its prefix, cached results,
   * host-local reservations in its IPAM store, nat rules commented with its network name) and, for ids
   * neither in `live` nor busy in a setUp/tearDown right now, runs the normal teardown and then sweeps
   * whatever it could not undo: iptables rules and chains, reservation files, cached results, the namespace.
   */
  async garbageCollect(live: ReadonlySet<string>): Promise<void> {
    const { entries, stray } = this.#cni.cache.list();
    for (const p of stray) await rm(p, { force: true });
    let natIds: string[] = [];
    try {
      natIds = (await readNatTable()).cniRules.filter((r) => r.network === this.networkName).map((r) => r.containerId);
    } catch (e) {
      this.#log.warn('cannot read the nat table; skipping iptables garbage collection', { err: e as Error });
    }
    const candidates = new Set<string>([
      ...(await this.netns.list()),
      ...entries.map((e) => e.containerId),
      ...(await listReservations(this.#ipamDir, this.networkName)).map((r) => r.containerId),
      ...natIds,
    ]);
    const orphans = [...candidates].filter((id) => !live.has(id) && !this.#pending.has(id) && isValidSandboxId(id)).sort();
    if (orphans.length === 0) return;
    this.#log.info('garbage-collecting sandbox networks', { ids: orphans });
    for (const id of orphans) {
      await this.#withLock(id, async () => {
        try {
          await this.#teardown(id);
        } catch (e) {
          this.#log.warn('teardown of orphan failed; removing its state directly', { id, err: e as Error });
        }
        await this.#sweep(id);
      });
    }
  }

  /** Removes by hand what DEL could not undo for `id`: nat rules and chains, IP reservations, cached results, the namespace. */
  async #sweep(id: string): Promise<void> {
    await removeCniNatState(this.networkName, (x) => x === id, [id], this.#log);
    for (const r of await listReservations(this.#ipamDir, this.networkName)) {
      if (r.containerId === id) {
        this.#log.info('releasing leftover IP reservation', { id, ip: r.ip });
        await removeReservation(r);
      }
    }
    await this.#cni.cache.remove(this.networkName, id, POD_IFNAME);
    await this.#cni.cache.remove(LOOPBACK_NETWORK, id, LO_IFNAME);
    await this.netns.delete(id);
  }

  /**
   * Removes everything this agent's network ever made on the host: every sandbox (as garbage collection
   * with nothing live), the bridge, and the state directory. For agent uninstall and tests. The host-wide
   * leftovers the plugins share between networks (`ip_forward`, the `CNI-HOSTPORT-*` chains) stay.
   */
  async destroy(): Promise<void> {
    await this.garbageCollect(new Set());
    await removeMasquerade(this.networkName, this.#log);
    const r = await runCommand('ip', ['link', 'del', this.bridgeName], { timeoutMs: 10_000 });
    if (r.code !== 0 && !/Cannot find device|does not exist/i.test(r.stderr)) this.#log.warn('cannot delete bridge', { bridge: this.bridgeName, stderr: r.stderr.trim() });
    await rm(this.#stateDir, { recursive: true, force: true });
    this.#conflistWritten = undefined;
  }

  async #teardown(id: string): Promise<void> {
    const exists = await this.netns.exists(id);
    const nsPath = exists ? this.netns.path(id) : '';
    const podCached = this.#cni.cached(this.networkName, id, POD_IFNAME);
    const loCached = this.#cni.cached(LOOPBACK_NETWORK, id, LO_IFNAME);
    const reserved = (await listReservations(this.#ipamDir, this.networkName)).some((r) => r.containerId === id);
    let failure: unknown;
    if (exists || podCached || reserved) {
      try {
        await this.#cni.del(podCached?.config ?? this.conflist, runtimeConf(id, nsPath, POD_IFNAME, podCached));
      } catch (e) {
        failure = e;
      }
      // Without the namespace bridge cannot learn the pod IP and leaves its masquerade chain (pitfall 10).
      if (!exists) await removeCniNatState(this.networkName, (x) => x === id, [id], this.#log);
    }
    if (exists || loCached) {
      try {
        await this.#cni.del(loCached?.config ?? this.loopback, runtimeConf(id, nsPath, LO_IFNAME, loCached));
      } catch (e) {
        failure ??= e;
      }
    }
    // Keep the namespace when DEL failed, so a retry can still enter it and clean up properly.
    if (failure) throw failure;
    if (exists) await this.netns.delete(id);
    if (exists || podCached || reserved) this.#log.info('sandbox network down', { id });
  }

  async setPeerPodCIDRs(cidrs: readonly string[]): Promise<void> {
    const next = [...new Set(cidrs)].sort();
    if (next.join() === this.#peers.join()) return;
    this.#peers = next;
    // Before the first pod the rules do not exist yet: writing the network installs them with these peers.
    if (this.#conflistWritten) await this.#applyMasquerade();
  }

  /** One rule update at a time, each with the peers current when it runs. */
  #applyMasquerade(): Promise<void> {
    const run = this.#masquerading.then(() => ensureMasquerade(this.networkName, this.podCidr, this.#peers, this.#log));
    this.#masquerading = run.catch(() => {});
    return run;
  }

  async #writeConflist(): Promise<void> {
    this.#conflistWritten ??= (async () => {
      const dir = join(this.#stateDir, 'net.d');
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await mkdir(this.#ipamDir, { recursive: true, mode: 0o700 });
      // Written for humans and tools (crictl-style inspection); the in-memory copy is what runs.
      for (const [name, body] of [[`10-${this.networkName}.conflist`, this.conflist], ['99-loopback.conflist', this.loopback]] as const) {
        const tmp = join(dir, `.${name}.tmp`);
        await writeFile(tmp, JSON.stringify(body, null, 2) + '\n');
        await rename(tmp, join(dir, name));
      }
      await this.#applyMasquerade();
    })().catch((e: unknown) => {
      this.#conflistWritten = undefined;
      throw e;
    });
    return this.#conflistWritten;
  }

  /** Runs `fn` after every earlier operation on `id` has settled, counting it in `#pending` meanwhile. */
  #withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    this.#pending.set(id, (this.#pending.get(id) ?? 0) + 1);
    const prev = this.#locks.get(id) ?? Promise.resolve();
    const run = prev.then(fn).finally(() => {
      const n = (this.#pending.get(id) ?? 1) - 1;
      if (n > 0) this.#pending.set(id, n);
      else this.#pending.delete(id);
    });
    const tail = run.then(() => {}, () => {});
    this.#locks.set(id, tail);
    void tail.then(() => {
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    });
    return run;
  }
}

/** DEL parameters: the cached ADD's args and capability args when there are some (so DEL mirrors ADD). */
function runtimeConf(id: string, netns: string, ifName: string, cached: CachedAttachment | undefined): CniRuntimeConf {
  return {
    containerId: id,
    netns,
    ifName,
    args: cached?.args ?? [['K8S_POD_INFRA_CONTAINER_ID', id]],
    capabilityArgs: cached?.capabilityArgs ?? {},
  };
}

/** The pod's addresses from a CNI result: IPv4 first, prefix lengths stripped. */
export function toSandboxNetwork(result: CniResult, netnsPath: string): SandboxNetwork {
  const ips = (result.ips ?? []).map((i) => i.address.split('/')[0] ?? '').filter((a) => a !== '');
  const v4 = ips.filter((a) => !a.includes(':'));
  const ip = v4[0];
  if (ip === undefined) throw new Error(`CNI result has no IPv4 address: ${JSON.stringify(result.ips ?? [])}`);
  return { netnsPath, ip, ips: [...v4, ...ips.filter((a) => a.includes(':'))] };
}

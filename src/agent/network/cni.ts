import { join } from 'node:path';
import { runCommand, CommandNotStartedError } from './command.js';
import { ResultCache, type CachedAttachment } from './result-cache.js';
import type { CniCommand, CniErrorResult, CniNetworkConfigList, CniPluginConf, CniResult, CniRuntimeConf } from './cni-types.js';
import { silentLogger, type Logger } from '../../util/log.js';

/** A failed CNI plugin call: which network, plugin and command, and the plugin's own code and message. */
export class CniError extends Error {
  constructor(
    readonly network: string,
    readonly plugin: string,
    readonly command: CniCommand,
    readonly containerId: string,
    /** The CNI error code (SPEC.md §2 "Errors"); undefined when the plugin printed no error object. */
    readonly code: number | undefined,
    /** The plugin's message, or what went wrong running it (not found, timed out, bad output). */
    readonly msg: string,
    readonly details?: string,
  ) {
    super(
      `CNI ${command} of network "${network}" failed in plugin "${plugin}" (container ${containerId}): ${msg}` +
        (details ? ` (${details})` : '') + (code !== undefined ? ` [code ${code}]` : ''),
    );
    this.name = 'CniError';
  }
}

/** Options of {@link CniClient}. */
export interface CniClientOptions {
  /** Directory holding the plugin binaries; also passed as `CNI_PATH` so plugins find their delegates (IPAM). */
  readonly binDir: string;
  /** Directory of this agent's cached ADD results (libcni's `/var/lib/cni/results`). */
  readonly cacheDir: string;
  /** Kill a plugin call after this many milliseconds. Default 30 s (bridge takes ~80 ms under load). */
  readonly timeoutMs?: number;
  /**
   * `PATH` for the plugins. They exec `iptables`, so this decides the nft or legacy backend, which must be
   * the same for the whole node (runtime.md §3.4). Default: this process's PATH, else the standard one.
   */
  readonly path?: string;
  readonly log?: Logger;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ARG_RE = /^[^;=]*$/;

/**
 * A minimal libcni: runs the plugins of a network configuration list following the CNI 1.0 execution
 * protocol (SPEC.md §2-§3) and caches ADD results per (network, container id, ifname) so DEL and CHECK
 * can pass them as `prevResult`, even after an agent restart.
 */
export class CniClient {
  readonly binDir: string;
  readonly cache: ResultCache;
  readonly #timeoutMs: number;
  readonly #path: string;
  readonly #log: Logger;

  constructor(opts: CniClientOptions) {
    this.binDir = opts.binDir;
    this.cache = new ResultCache(opts.cacheDir);
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#path = opts.path ?? process.env['PATH'] ?? DEFAULT_PATH;
    this.#log = opts.log ?? silentLogger;
  }

  /**
   * ADD: runs every plugin in order, each with the previous plugin's result as `prevResult`, and caches the
   * final result. On failure nothing is cached and nothing is undone: the caller runs {@link del}, which
   * the CNI spec requires plugins to tolerate for partial attachments.
   */
  async add(list: CniNetworkConfigList, rt: CniRuntimeConf): Promise<CniResult> {
    let prev: CniResult | undefined;
    for (const plugin of list.plugins) {
      const r = await this.#invoke('ADD', list, plugin, rt, prev);
      if (!r) throw new CniError(list.name, plugin.type, 'ADD', rt.containerId, undefined, 'plugin printed no result');
      prev = r;
    }
    const result: CniResult = prev ?? { cniVersion: list.cniVersion };
    const entry: CachedAttachment = {
      kind: 'cniCacheV1',
      containerId: rt.containerId,
      ifName: rt.ifName,
      networkName: list.name,
      netns: rt.netns,
      args: rt.args,
      capabilityArgs: rt.capabilityArgs,
      config: list,
      result,
    };
    await this.cache.put(entry);
    return result;
  }

  /**
   * DEL: runs the plugins in reverse order, each with the cached final ADD result as `prevResult` (none
   * when nothing is cached, e.g. after a failed ADD). Unlike libcni it goes on past a failing plugin,
   * because DEL is idempotent per plugin and stopping early would leak whatever the earlier plugins hold
   * (an IP, a veth); the first error is thrown at the end and the cache is kept so a retry has `prevResult`.
   */
  async del(list: CniNetworkConfigList, rt: CniRuntimeConf): Promise<void> {
    const cached = this.cache.get(list.name, rt.containerId, rt.ifName);
    let first: Error | undefined;
    for (const plugin of [...list.plugins].reverse()) {
      try {
        await this.#invoke('DEL', list, plugin, rt, cached?.result);
      } catch (e) {
        first ??= e as Error;
        this.#log.warn('cni plugin DEL failed, continuing with the others', { network: list.name, plugin: plugin.type, containerId: rt.containerId, err: e as Error });
      }
    }
    if (first) throw first;
    await this.cache.remove(list.name, rt.containerId, rt.ifName);
  }

  /** CHECK: asks every plugin, in order, whether the cached attachment is still as ADD left it. Throws if not. */
  async check(list: CniNetworkConfigList, rt: CniRuntimeConf): Promise<void> {
    const cached = this.cache.get(list.name, rt.containerId, rt.ifName);
    if (!cached) throw new CniError(list.name, list.plugins[0]?.type ?? '?', 'CHECK', rt.containerId, undefined, 'no cached ADD result to check against');
    for (const plugin of list.plugins) await this.#invoke('CHECK', list, plugin, rt, cached.result);
  }

  /** The cached ADD of one attachment, if any. */
  cached(networkName: string, containerId: string, ifName: string): CachedAttachment | undefined {
    return this.cache.get(networkName, containerId, ifName);
  }

  /** Runs one plugin binary; resolves its parsed stdout (undefined when empty, as DEL and CHECK print nothing). */
  async #invoke(command: CniCommand, list: CniNetworkConfigList, plugin: CniPluginConf, rt: CniRuntimeConf, prev: CniResult | undefined): Promise<CniResult | undefined> {
    const fail = (code: number | undefined, msg: string, details?: string): CniError =>
      new CniError(list.name, plugin.type, command, rt.containerId, code, msg, details);
    if (!/^[A-Za-z0-9_.-]+$/.test(plugin.type)) throw fail(undefined, `invalid plugin type ${JSON.stringify(plugin.type)}`);
    const binary = join(this.binDir, plugin.type);
    const stdin = JSON.stringify(pluginStdin(list, plugin, rt, prev));
    const env: NodeJS.ProcessEnv = {
      PATH: this.#path,
      CNI_COMMAND: command,
      CNI_CONTAINERID: rt.containerId,
      CNI_NETNS: rt.netns,
      CNI_IFNAME: rt.ifName,
      CNI_PATH: this.binDir,
      CNI_ARGS: cniArgs(rt.args),
    };
    const started = Date.now();
    let out;
    try {
      out = await runCommand(binary, [], { input: stdin, env, timeoutMs: this.#timeoutMs });
    } catch (e) {
      if (e instanceof CommandNotStartedError) {
        const hint = e.errno === 'ENOENT' ? ` (no such file; install containernetworking-plugins or fix the CNI bin dir)` : '';
        throw fail(undefined, `cannot run ${binary}: ${e.errno ?? e.message}${hint}`);
      }
      throw e;
    }
    this.#log.debug('cni plugin', { command, network: list.name, plugin: plugin.type, containerId: rt.containerId, ifName: rt.ifName, ms: Date.now() - started, code: out.code });
    if (out.timedOut) throw fail(undefined, `timed out after ${this.#timeoutMs} ms`);
    if (out.code !== 0) {
      const err = parseJson(out.stdout) as Partial<CniErrorResult> | undefined;
      if (err && typeof err.msg === 'string') throw fail(typeof err.code === 'number' ? err.code : undefined, err.msg, typeof err.details === 'string' && err.details ? err.details : undefined);
      const text = (out.stderr.trim() || out.stdout.trim() || `exit ${out.code ?? out.signal}`).slice(0, 2000);
      throw fail(undefined, text);
    }
    if (out.stdout.trim() === '') return undefined;
    const parsed = parseJson(out.stdout);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw fail(undefined, `unparseable result: ${out.stdout.slice(0, 500)}`);
    return parsed as CniResult;
  }
}

/**
 * The stdin of one plugin: its own object plus the list's `cniVersion` and `name`; `runtimeConfig` with
 * the capability args the plugin declares (its `capabilities` key removed, as the runtime consumed it);
 * and `prevResult` when there is one.
 */
export function pluginStdin(list: CniNetworkConfigList, plugin: CniPluginConf, rt: CniRuntimeConf, prev: CniResult | undefined): Record<string, unknown> {
  const { capabilities, ...rest } = plugin;
  const conf: Record<string, unknown> = { ...rest, cniVersion: list.cniVersion, name: list.name };
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, wanted] of Object.entries(capabilities ?? {})) {
    if (wanted && rt.capabilityArgs[cap] !== undefined) runtimeConfig[cap] = rt.capabilityArgs[cap];
  }
  if (Object.keys(runtimeConfig).length > 0) conf['runtimeConfig'] = runtimeConfig;
  if (prev) conf['prevResult'] = prev;
  return conf;
}

/** `CNI_ARGS`: `IgnoreUnknown=1` first, so plugins that do not know the K8S_* keys accept them. */
export function cniArgs(args: ReadonlyArray<readonly [string, string]>): string {
  const parts = ['IgnoreUnknown=1'];
  for (const [k, v] of args) {
    if (!k || !ARG_RE.test(k) || !ARG_RE.test(v)) throw new Error(`CNI_ARGS entry ${JSON.stringify(k)}=${JSON.stringify(v)} may not contain ';' or '='`);
    parts.push(`${k}=${v}`);
  }
  return parts.join(';');
}

function parseJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

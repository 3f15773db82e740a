/**
 * The CNI 1.0 data shapes skiff reads and writes (github.com/containernetworking/cni SPEC.md §1, §5).
 * Only the fields skiff looks at are typed; everything else passes through untouched.
 */

/** One plugin object of a network configuration list; `type` names the binary in the CNI bin dir. */
export interface CniPluginConf {
  readonly type: string;
  /** Runtime-provided arguments the plugin wants (e.g. `portMappings`), injected as `runtimeConfig`. */
  readonly capabilities?: Readonly<Record<string, boolean>>;
  readonly [key: string]: unknown;
}

/** A network configuration list (a `.conflist`): plugins run in order on ADD, in reverse on DEL. */
export interface CniNetworkConfigList {
  readonly cniVersion: string;
  /** The network's name: part of the result cache key, of host-local's data dir and of iptables comments. */
  readonly name: string;
  readonly plugins: readonly CniPluginConf[];
}

/** An interface a plugin created or knows about; `sandbox` is set for interfaces inside the container. */
export interface CniInterface {
  readonly name: string;
  readonly mac?: string;
  readonly sandbox?: string;
}

/** An address assigned to the container, in CIDR notation (`10.88.0.2/16`). */
export interface CniIpConfig {
  /** Index into `interfaces`. */
  readonly interface?: number;
  readonly address: string;
  readonly gateway?: string;
}

/** The success result of ADD (and the `prevResult` of later plugins, DEL and CHECK). */
export interface CniResult {
  readonly cniVersion?: string;
  readonly interfaces?: readonly CniInterface[];
  readonly ips?: readonly CniIpConfig[];
  readonly routes?: readonly unknown[];
  readonly dns?: unknown;
}

/** The error a plugin prints on stdout when it exits non-zero. */
export interface CniErrorResult {
  readonly cniVersion?: string;
  readonly code: number;
  readonly msg: string;
  readonly details?: string;
}

/** The per-attachment parameters of one CNI call (the `CNI_*` environment and the capability args). */
export interface CniRuntimeConf {
  /** `CNI_CONTAINERID`: the sandbox id. */
  readonly containerId: string;
  /** `CNI_NETNS`: path of the network namespace; empty is allowed for DEL when the namespace is gone. */
  readonly netns: string;
  /** `CNI_IFNAME`: the interface name inside the namespace (`eth0`, `lo`). */
  readonly ifName: string;
  /** `CNI_ARGS` pairs, after `IgnoreUnknown=1`; neither keys nor values may contain ';' or '='. */
  readonly args: ReadonlyArray<readonly [string, string]>;
  /** Values for the capabilities plugins declare, by capability name (e.g. `portMappings`). */
  readonly capabilityArgs: Readonly<Record<string, unknown>>;
}

/** A CNI command this client issues. */
export type CniCommand = 'ADD' | 'DEL' | 'CHECK';

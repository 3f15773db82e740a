import type { CniNetworkConfigList } from './cni-types.js';
import type { Ipv4Cidr } from '../../util/ipv4-cidr.js';

/** The CNI spec version skiff speaks; the Debian plugins (1.1.1) support 0.1.0 to 1.0.0. */
export const CNI_VERSION = '1.0.0';

/** containerd's name for the loopback network, run with ifname `lo` before the pod network. */
export const LOOPBACK_NETWORK = 'cni-loopback';

/** Inputs of {@link podConflist}. */
export interface PodConflistOptions {
  readonly networkName: string;
  /** Linux bridge to attach pods to; created by the bridge plugin on first use. At most 15 characters. */
  readonly bridgeName: string;
  readonly podCidr: Ipv4Cidr;
  /** host-local's `dataDir`: where it records one file per reserved IP. */
  readonly ipamDataDir: string;
  /** Lets a pod reach itself through its own Service/hostPort (bridge `hairpinMode`). */
  readonly hairpin: boolean;
}

/**
 * The pod network: bridge (gateway on `.1`, hairpin; masquerade is one rule set per network, see
 * masquerade.ts, not bridge's per-pod `ipMasq`) with
 * host-local IPAM over the node's pod CIDR, then portmap for hostPorts (`snat` so `127.0.0.1:hostPort`
 * and hairpin connections work). host-local's `dataDir` is private to the agent so agents sharing a host
 * never read each other's reservations.
 */
export function podConflist(o: PodConflistOptions): CniNetworkConfigList {
  return {
    cniVersion: CNI_VERSION,
    name: o.networkName,
    plugins: [
      {
        type: 'bridge',
        bridge: o.bridgeName,
        isGateway: true,
        ipMasq: false,
        hairpinMode: o.hairpin,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: o.podCidr.cidr, gateway: o.podCidr.gateway }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: o.ipamDataDir,
        },
      },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ],
  };
}

/** The loopback network: brings `lo` up inside the namespace (containerd runs it as its own network). */
export function loopbackConflist(): CniNetworkConfigList {
  return { cniVersion: CNI_VERSION, name: LOOPBACK_NETWORK, plugins: [{ type: 'loopback' }] };
}

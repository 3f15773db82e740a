/** An IPv4 network: its base address, prefix length and the conventional `.1` gateway. */
export interface Ipv4Cidr {
  /** Canonical form, host bits cleared (`10.88.0.0/16`). */
  readonly cidr: string;
  readonly network: string;
  readonly prefixLength: number;
  /** The first host address, which the bridge takes when it is the pods' gateway. */
  readonly gateway: string;
  /** Whether `ip` (dotted quad, no prefix) lies inside this network. */
  contains(ip: string): boolean;
}

function toInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

function toDotted(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * Parses `a.b.c.d/len`. Prefixes longer than /30 are refused: they leave no address for a pod once the
 * network, broadcast and gateway addresses are taken. Throws on anything else that is not IPv4 CIDR.
 */
export function parseIpv4Cidr(text: string): Ipv4Cidr {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  const base = m ? toInt(m[1] ?? '') : undefined;
  const len = m ? Number(m[2]) : NaN;
  if (base === undefined || !(len >= 1 && len <= 30)) throw new Error(`pod CIDR ${JSON.stringify(text)} is not an IPv4 CIDR with a prefix length of 1-30`);
  const mask = (0xffffffff << (32 - len)) >>> 0;
  const network = (base & mask) >>> 0;
  return {
    cidr: `${toDotted(network)}/${len}`,
    network: toDotted(network),
    prefixLength: len,
    gateway: toDotted(network + 1),
    contains(ip: string): boolean {
      const v = toInt(ip);
      return v !== undefined && ((v & mask) >>> 0) === network;
    },
  };
}

/** The `index`-th subnet of prefix length `maskSize` inside `cluster`, or undefined past its end. */
export function subnetAt(cluster: Ipv4Cidr, maskSize: number, index: number): string | undefined {
  if (maskSize < cluster.prefixLength || maskSize > 30) throw new Error(`a /${maskSize} subnet does not fit ${cluster.cidr}`);
  const count = 2 ** (maskSize - cluster.prefixLength);
  if (index < 0 || index >= count) return undefined;
  return `${toDotted(toInt(cluster.network)! + index * 2 ** (32 - maskSize))}/${maskSize}`;
}

import { createHash } from 'node:crypto';
import { runChecked } from './command.js';
import type { Ipv4Cidr } from '../../util/ipv4-cidr.js';
import { silentLogger, type Logger } from '../../util/log.js';

/**
 * Masquerade for traffic leaving the cluster's pods, as one rule set per network rather than bridge's
 * `ipMasq` (a chain per pod, about six iptables runs on every sandbox start and as many on every stop,
 * which dominated pod start under load). kindnet and flannel do the same. The chain is named after the
 * network, so agents sharing a host never touch each other's.
 */
export function masqueradeChain(network: string): string {
  return `SKIFF-MASQ-${createHash('sha256').update(network).digest('hex').slice(0, 16)}`;
}

const comment = (network: string): string => `skiff ${network} masquerade`;

/** The jump from POSTROUTING exactly as `iptables-save` prints it (so it can be recognised and deleted). */
function jumpRule(network: string, cidr: Ipv4Cidr): string {
  return `-A POSTROUTING -s ${cidr.cidr} -m comment --comment "${comment(network)}" -j ${masqueradeChain(network)}`;
}

/**
 * Installs (or repairs) the rules: idempotent, one `iptables-restore` transaction. Traffic to the other nodes' pod
 * CIDRs (`peers`) keeps its source, as flannel's does: a pod on another node sees the pod that called it, not this node.
 */
export async function ensureMasquerade(network: string, cidr: Ipv4Cidr, peers: readonly string[] = [], log: Logger = silentLogger): Promise<void> {
  const chain = masqueradeChain(network);
  const nat = await runChecked('iptables-save', ['-t', 'nat'], { timeoutMs: 10_000 });
  const lines = nat.split('\n');
  const want = jumpRule(network, cidr);
  const jumps = lines.filter((l) => l.startsWith('-A POSTROUTING ') && l.endsWith(` -j ${chain}`));
  const body = [...[cidr.cidr, ...peers].map((d) => `-A ${chain} -d ${d} -j RETURN`), `-A ${chain} -d 224.0.0.0/4 -j RETURN`, `-A ${chain} -j MASQUERADE`];
  const current = lines.filter((l) => l.startsWith(`-A ${chain} `));
  if (jumps.length === 1 && jumps[0] === want && current.join('\n') === body.join('\n')) return;
  // Declaring a chain under --noflush creates it, or flushes it if it exists (as kube-proxy relies on).
  const script = [
    '*nat', `:${chain} - [0:0]`, ...body,
    ...jumps.filter((j) => j !== want).map((j) => j.replace(/^-A /, '-D ')),
    ...(jumps.includes(want) ? [] : [want]),
    'COMMIT', '',
  ].join('\n');
  await runChecked('iptables-restore', ['-w', '5', '--noflush'], { input: script, timeoutMs: 15_000 });
  log.info('pod network masquerade installed', { network, cidr: cidr.cidr, chain, peers });
}

/** Removes the jump and the chain; absent is fine. */
export async function removeMasquerade(network: string, log: Logger = silentLogger): Promise<void> {
  const chain = masqueradeChain(network);
  const lines = (await runChecked('iptables-save', ['-t', 'nat'], { timeoutMs: 10_000 })).split('\n');
  const jumps = lines.filter((l) => l.startsWith('-A POSTROUTING ') && l.endsWith(` -j ${chain}`));
  if (jumps.length === 0 && !lines.includes(`:${chain} - [0:0]`) && !lines.some((l) => l.startsWith(`:${chain} `))) return;
  const script = ['*nat', ...jumps.map((j) => j.replace(/^-A /, '-D ')), `-F ${chain}`, `-X ${chain}`, 'COMMIT', ''].join('\n');
  await runChecked('iptables-restore', ['-w', '5', '--noflush'], { input: script, timeoutMs: 15_000 });
  log.info('pod network masquerade removed', { network, chain });
}

import { createHash } from 'node:crypto';
import { runChecked } from './command.js';
import { silentLogger, type Logger } from '../../util/log.js';

/** A nat-table rule made by the CNI plugins for one attachment, as `iptables-save` prints it. */
export interface CniNatRule {
  /** The chain holding the rule (`POSTROUTING`, `CNI-HOSTPORT-DNAT`). */
  readonly chain: string;
  /** The rule after `-A <chain> `, verbatim (quoting included), ready for `iptables-restore -D`. */
  readonly spec: string;
  readonly network: string;
  readonly containerId: string;
  /** The `-j` target, when it is a per-attachment chain this rule leads to. */
  readonly target?: string;
}

/** What {@link parseNatRules} finds in `iptables-save -t nat` output. */
export interface NatTable {
  readonly chains: ReadonlySet<string>;
  /** Rules whose comment names a CNI attachment: bridge's `name: "<net>" id: "<id>"` and portmap's `dnat name: ...`. */
  readonly cniRules: readonly CniNatRule[];
}

/** Chains portmap shares between every network on the host; never removed by per-attachment cleanup. */
export const SHARED_CNI_CHAINS: ReadonlySet<string> = new Set(['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SETMARK', 'CNI-HOSTPORT-SNAT']);

const COMMENT_RE = /--comment "(?:dnat )?name: \\"((?:[^"\\]|\\.)*?)\\" id: \\"((?:[^"\\]|\\.)*?)\\""/;

/** Parses `iptables-save -t nat`: the chain names and the rules that belong to CNI attachments. */
export function parseNatRules(save: string): NatTable {
  const chains = new Set<string>();
  const cniRules: CniNatRule[] = [];
  for (const line of save.split('\n')) {
    if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0];
      if (name) chains.add(name);
      continue;
    }
    if (!line.startsWith('-A ')) continue;
    const m = COMMENT_RE.exec(line);
    if (!m) continue;
    const rest = line.slice(3);
    const sp = rest.indexOf(' ');
    if (sp < 0) continue;
    const chain = rest.slice(0, sp);
    const target = / -j (CNI-\S+)/.exec(line)?.[1];
    cniRules.push({
      chain,
      spec: rest.slice(sp + 1),
      network: (m[1] ?? '').replace(/\\(.)/g, '$1'),
      containerId: (m[2] ?? '').replace(/\\(.)/g, '$1'),
      ...(target && !SHARED_CNI_CHAINS.has(target) ? { target } : {}),
    });
  }
  return { chains, cniRules };
}

/**
 * The per-attachment chain names the plugins derive from (network, container id): bridge's masquerade
 * chain `CNI-<hash>` and portmap's DNAT chain `CNI-DN-<hash>`, both cut to iptables' 28 characters
 * (plugins/pkg/utils FormatChainName). Used to find chains whose referencing rule is already gone.
 */
export function attachmentChains(network: string, containerId: string): string[] {
  const hash = createHash('sha512').update(network + containerId).digest('hex');
  return [`CNI-${hash}`.slice(0, 28), `CNI-DN-${hash}`.slice(0, 28)];
}

/** Reads the nat table with the node's `iptables` (the same backend the plugins use through PATH). */
export async function readNatTable(timeoutMs = 10_000): Promise<NatTable> {
  return parseNatRules(await runChecked('iptables-save', ['-t', 'nat'], { timeoutMs }));
}

/**
 * Removes, from the nat table, every rule whose CNI comment names `network` and an id accepted by
 * `select`, the per-attachment chains those rules jump to, and the chains named after `alsoIds` (found by
 * hash: a chain whose rule is already gone carries no comment). One `iptables-restore --noflush`
 * transaction per id, so one odd leftover cannot block the others. This is the cleanup bridge's DEL cannot
 * do once the namespace is gone (runtime.md §7, pitfall 10). Returns the ids that had something removed.
 */
export async function removeCniNatState(
  network: string,
  select: (containerId: string) => boolean,
  alsoIds: Iterable<string> = [],
  log: Logger = silentLogger,
): Promise<string[]> {
  const table = await readNatTable();
  const byId = new Map<string, CniNatRule[]>();
  for (const id of alsoIds) if (select(id)) byId.set(id, []);
  for (const r of table.cniRules) {
    if (r.network !== network || !select(r.containerId)) continue;
    const list = byId.get(r.containerId) ?? [];
    list.push(r);
    byId.set(r.containerId, list);
  }
  const cleaned: string[] = [];
  for (const [id, rules] of byId) {
    const chains = new Set<string>();
    for (const r of rules) if (r.target) chains.add(r.target);
    for (const c of attachmentChains(network, id)) if (table.chains.has(c)) chains.add(c);
    if (rules.length === 0 && chains.size === 0) continue;
    // Order matters: a chain can only be deleted once nothing jumps to it and it is empty.
    const script = ['*nat', ...rules.map((r) => `-D ${r.chain} ${r.spec}`), ...[...chains].map((c) => `-F ${c}`), ...[...chains].map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
    try {
      await runChecked('iptables-restore', ['-w', '5', '--noflush'], { input: script, timeoutMs: 15_000 });
      cleaned.push(id);
      log.info('removed leftover iptables rules', { network, containerId: id, rules: rules.length, chains: [...chains] });
    } catch (e) {
      log.warn('could not remove leftover iptables rules', { network, containerId: id, err: e as Error });
    }
  }
  return cleaned;
}

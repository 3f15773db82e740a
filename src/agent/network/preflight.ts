import { access, constants, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One thing that keeps the pod network from working on this host, and the Debian package that fixes it. */
export interface PreflightProblem {
  /** What is wrong, and how to fix it, for a person reading the agent's startup error. */
  readonly message: string;
  /** The Debian package to install, when installing one fixes it. */
  readonly debianPackage?: string;
}

/** Options of {@link preflight}. */
export interface PreflightOptions {
  /** Default `/usr/lib/cni`. */
  readonly cniBinDir?: string;
  /** Where to look for `ip` and `iptables`. Default: this process's PATH. */
  readonly path?: string;
  /** Default `/proc/sys/net/ipv4/ip_forward`; replaceable so tests can point it elsewhere. */
  readonly ipForwardPath?: string;
}

/** The plugins {@link CniPodNetwork} runs; all ship in Debian's containernetworking-plugins. */
export const REQUIRED_PLUGINS = ['bridge', 'host-local', 'loopback', 'portmap'] as const;

const TOOLS: ReadonlyArray<readonly [string, string]> = [
  ['ip', 'iproute2'],
  ['iptables', 'iptables'],
  ['iptables-save', 'iptables'],
  ['iptables-restore', 'iptables'],
];

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function inPath(name: string, path: string): Promise<boolean> {
  for (const dir of path.split(':')) if (dir && (await executable(join(dir, name)))) return true;
  return false;
}

/**
 * Checks what the pod network needs before the agent accepts pods, so a missing package is one clear
 * startup message instead of a CNI error on the first pod. Empty result = ready. Never changes the host.
 */
export async function preflight(opts: PreflightOptions = {}): Promise<PreflightProblem[]> {
  const binDir = opts.cniBinDir ?? '/usr/lib/cni';
  const path = opts.path ?? process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const problems: PreflightProblem[] = [];
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    problems.push({ message: 'the pod network needs root (namespaces, bridges, iptables): run the agent as root' });
  }
  const missing: string[] = [];
  for (const p of REQUIRED_PLUGINS) if (!(await executable(join(binDir, p)))) missing.push(p);
  if (missing.length > 0) {
    problems.push({
      message: `CNI plugin${missing.length > 1 ? 's' : ''} ${missing.join(', ')} missing in ${binDir}: apt-get install containernetworking-plugins (or point cniBinDir at them)`,
      debianPackage: 'containernetworking-plugins',
    });
  }
  const byPackage = new Map<string, string[]>();
  for (const [tool, pkg] of TOOLS) {
    if (await inPath(tool, path)) continue;
    byPackage.set(pkg, [...(byPackage.get(pkg) ?? []), tool]);
  }
  for (const [pkg, tools] of byPackage) {
    problems.push({ message: `${tools.join(', ')} not found in PATH: apt-get install ${pkg}`, debianPackage: pkg });
  }
  // The bridge plugin turns forwarding on; in a container with a read-only /proc/sys it cannot, and pods
  // then reach nothing beyond the node.
  const fwd = opts.ipForwardPath ?? '/proc/sys/net/ipv4/ip_forward';
  let current = '';
  try {
    current = (await readFile(fwd, 'utf8')).trim();
  } catch {
    problems.push({ message: `${fwd} is not readable: IPv4 forwarding state unknown (is /proc mounted?)` });
  }
  if (current !== '' && current !== '1') {
    try {
      await access(fwd, constants.W_OK);
    } catch {
      problems.push({ message: `net.ipv4.ip_forward is ${current} and ${fwd} is not writable: set it to 1 on the host (sysctl -w net.ipv4.ip_forward=1)` });
    }
  }
  return problems;
}

/** The problems as one message for an error or a log line; empty string when there are none. */
export function formatPreflight(problems: readonly PreflightProblem[]): string {
  return problems.map((p) => `- ${p.message}`).join('\n');
}

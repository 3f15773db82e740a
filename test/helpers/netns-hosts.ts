// "Machines" for multi-node tests: each host is a network namespace with one interface on a test
// switch (a bridge in a namespace of its own), addressed from a private range inside those namespaces
// only — the machine's own network is never touched. Processes run in a host with `ip netns exec`.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface Host {
  readonly name: string;
  /** Its network namespace (`ip netns` name). */
  readonly netns: string;
  readonly ip: string;
}

const ip = (...args: string[]): void => { execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] }); };

export class TestNetwork {
  readonly tag = randomBytes(3).toString('hex');
  readonly #switch = `sk${this.tag}sw`;
  readonly hosts: Host[] = [];
  /** A /24 inside 192.168.0.0/16 picked per network, so parallel test files do not share addresses. */
  readonly prefix: string;

  constructor() {
    this.prefix = `192.168.${100 + (parseInt(this.tag.slice(0, 2), 16) % 150)}`;
    ip('netns', 'add', this.#switch);
    ip('netns', 'exec', this.#switch, 'ip', 'link', 'add', 'br0', 'type', 'bridge');
    ip('netns', 'exec', this.#switch, 'ip', 'link', 'set', 'br0', 'up');
  }

  /** Adds a host `name` at `<prefix>.<index>`. */
  addHost(name: string, index: number): Host {
    const netns = `sk${this.tag}${name}`;
    const port = `p${this.tag}${index}`;
    ip('netns', 'add', netns);
    ip('link', 'add', port, 'netns', this.#switch, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns);
    ip('netns', 'exec', this.#switch, 'ip', 'link', 'set', port, 'master', 'br0', 'up');
    ip('netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up');
    ip('netns', 'exec', netns, 'ip', 'addr', 'add', `${this.prefix}.${index}/24`, 'dev', 'eth0');
    ip('netns', 'exec', netns, 'ip', 'link', 'set', 'eth0', 'up');
    const host = { name, netns, ip: `${this.prefix}.${index}` };
    this.hosts.push(host);
    return host;
  }

  /** Cuts a host off the switch (its cable pulled), or plugs it back. */
  setLink(host: Host, up: boolean): void {
    ip('netns', 'exec', host.netns, 'ip', 'link', 'set', 'eth0', up ? 'up' : 'down');
  }

  /**
   * Starts a process inside a host. nsenter, not `ip netns exec`: that one also gives the process a
   * private /sys for the namespace, which hides the cgroup mount runc needs.
   */
  spawn(host: Host, command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    return spawn('nsenter', [`--net=/var/run/netns/${host.netns}`, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  }

  /** Removes every namespace (processes in them must be gone first). */
  destroy(): void {
    for (const h of this.hosts) {
      try { ip('netns', 'del', h.netns); } catch { /* already gone */ }
    }
    try { ip('netns', 'del', this.#switch); } catch { /* already gone */ }
  }
}

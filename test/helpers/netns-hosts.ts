// "Machines" for multi-node tests: each host is a network namespace with one interface on a test
// switch (a bridge in a namespace of its own), addressed from a private range inside those namespaces
// only — the machine's own network is never touched. A second segment (another bridge, another /24)
// sits behind a router namespace, for hosts that are not on one L2 segment. Processes run in a host
// through nsenter.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface Host {
  readonly name: string;
  /** Its network namespace (`ip netns` name). */
  readonly netns: string;
  readonly ip: string;
  /** Which L2 segment it is on (0, or 1 behind the router). */
  readonly segment: 0 | 1;
}

const ip = (...args: string[]): void => { execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] }); };

export class TestNetwork {
  readonly tag = randomBytes(3).toString('hex');
  readonly #switch = `sk${this.tag}sw`;
  readonly hosts: Host[] = [];
  /** Two /24s inside 192.168.0.0/16 picked per network, so parallel test files do not share addresses. */
  readonly prefixes: readonly [string, string];
  readonly #router = `sk${this.tag}rt`;
  #routed = false;

  constructor() {
    const third = 100 + 2 * (parseInt(this.tag.slice(0, 2), 16) % 70);
    this.prefixes = [`192.168.${third}`, `192.168.${third + 1}`];
    ip('netns', 'add', this.#switch);
    for (const br of ['br0', 'br1']) {
      ip('netns', 'exec', this.#switch, 'ip', 'link', 'add', br, 'type', 'bridge');
      ip('netns', 'exec', this.#switch, 'ip', 'link', 'set', br, 'up');
    }
  }

  /** The first segment's prefix. */
  get prefix(): string { return this.prefixes[0]; }

  /** Plugs namespace `netns` into segment `segment` as `ifname` with `<prefix>.<index>`. */
  #plug(netns: string, ifname: string, segment: 0 | 1, index: number): void {
    const port = `p${this.tag}${segment}${index}`;
    ip('link', 'add', port, 'netns', this.#switch, 'type', 'veth', 'peer', 'name', ifname, 'netns', netns);
    ip('netns', 'exec', this.#switch, 'ip', 'link', 'set', port, 'master', `br${segment}`, 'up');
    ip('netns', 'exec', netns, 'ip', 'addr', 'add', `${this.prefixes[segment]}.${index}/24`, 'dev', ifname);
    ip('netns', 'exec', netns, 'ip', 'link', 'set', ifname, 'up');
  }

  /** The router between the two segments (`.254` on each), made with the first host of segment 1. */
  #ensureRouter(): void {
    if (this.#routed) return;
    ip('netns', 'add', this.#router);
    ip('netns', 'exec', this.#router, 'ip', 'link', 'set', 'lo', 'up');
    this.#plug(this.#router, 'seg0', 0, 254);
    this.#plug(this.#router, 'seg1', 1, 254);
    ip('netns', 'exec', this.#router, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
    for (const h of this.hosts) this.#routeOver(h);
    this.#routed = true;
  }

  /** A host reaches the other segment through the router. */
  #routeOver(h: Host): void {
    const other = h.segment === 0 ? 1 : 0;
    ip('netns', 'exec', h.netns, 'ip', 'route', 'add', `${this.prefixes[other]}.0/24`, 'via', `${this.prefixes[h.segment]}.254`);
  }

  /** Adds a host `name` at `<prefix of segment>.<index>`. */
  addHost(name: string, index: number, segment: 0 | 1 = 0): Host {
    const netns = `sk${this.tag}${name}`;
    ip('netns', 'add', netns);
    ip('netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up');
    this.#plug(netns, 'eth0', segment, index);
    const host = { name, netns, ip: `${this.prefixes[segment]}.${index}`, segment };
    this.hosts.push(host);
    if (segment === 1) this.#ensureRouter();
    else if (this.#routed) this.#routeOver(host);
    return host;
  }

  /** Cuts a host off the switch (its cable pulled), or plugs it back. */
  setLink(host: Host, up: boolean): void {
    ip('netns', 'exec', host.netns, 'ip', 'link', 'set', 'eth0', up ? 'up' : 'down');
    // A link going down takes its routes with it: the one through the router comes back with the link.
    if (up && this.#routed) this.#routeOver(host);
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
    if (this.#routed) try { ip('netns', 'del', this.#router); } catch { /* already gone */ }
    try { ip('netns', 'del', this.#switch); } catch { /* already gone */ }
  }
}

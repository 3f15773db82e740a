import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand, CommandFailedError } from './command.js';

/** Where `ip netns add` pins named network namespaces (bind mounts of /proc/<pid>/ns/net). */
export const NETNS_DIR = '/var/run/netns';

/**
 * Prefixes may not contain '-': names are `<prefix>-<id>` and ids may contain '-', so a prefix `a`
 * next to a prefix `a-b` would make agent `a` mistake agent `a-b`'s namespaces for its own and
 * garbage-collect them.
 */
const PREFIX_RE = /^[A-Za-z0-9_]{1,32}$/;

/** Sandbox ids become file names and CNI container ids; the CNI spec's container id alphabet. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** True when `id` can name a sandbox: CNI's container id alphabet, and short enough for file names. */
export function isValidSandboxId(id: string): boolean {
  return id.length <= 200 && ID_RE.test(id);
}

/**
 * The pinned network namespaces of one agent, named `<prefix>-<sandbox id>` under {@link NETNS_DIR}.
 * A pinned namespace outlives the sandbox's processes, so CNI DEL can always enter it (runtime.md §3.3).
 * Every operation is idempotent: adding an existing namespace or deleting a missing one succeeds.
 */
export class NetnsManager {
  readonly prefix: string;

  /** @param prefix letters, digits and '_' only (no '-': see the module comment); unique per agent on a host. */
  constructor(prefix: string, readonly timeoutMs = 10_000) {
    if (!PREFIX_RE.test(prefix)) throw new Error(`netns prefix ${JSON.stringify(prefix)} must be 1-32 letters, digits or '_'`);
    this.prefix = prefix;
  }

  /** The namespace name of sandbox `id`. */
  name(id: string): string {
    return `${this.prefix}-${id}`;
  }

  /** The path to hand to CNI (`CNI_NETNS`) and to the OCI spec's network namespace. */
  path(id: string): string {
    return join(NETNS_DIR, this.name(id));
  }

  /** Whether the pinned namespace of `id` exists. */
  async exists(id: string): Promise<boolean> {
    try {
      await stat(this.path(id));
      return true;
    } catch {
      return false;
    }
  }

  /** Creates the namespace of `id` (`ip netns add`) and returns its path; an existing one is kept. */
  async add(id: string): Promise<string> {
    const r = await runCommand('ip', ['netns', 'add', this.name(id)], { timeoutMs: this.timeoutMs });
    if (r.code !== 0 && !/File exists/i.test(r.stderr)) throw new CommandFailedError('ip', ['netns', 'add', this.name(id)], r);
    return this.path(id);
  }

  /** Removes the namespace of `id` (`ip netns del`); a missing one is not an error. */
  async delete(id: string): Promise<void> {
    const r = await runCommand('ip', ['netns', 'del', this.name(id)], { timeoutMs: this.timeoutMs });
    if (r.code !== 0 && !/No such file|not found|does not exist/i.test(r.stderr)) {
      throw new CommandFailedError('ip', ['netns', 'del', this.name(id)], r);
    }
  }

  /** The sandbox ids that have a namespace with this prefix. Reads the directory rather than parsing `ip netns list`. */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(NETNS_DIR);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const head = `${this.prefix}-`;
    return names.filter((n) => n.startsWith(head) && n.length > head.length).map((n) => n.slice(head.length)).sort();
  }
}

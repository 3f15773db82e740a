import type { Clock } from '../../../util/clock.js';
import {
  RuntimeError, type ContainerConfig, type ExecProcess, type PodConnection, type ContainerRuntime, type ContainerStatus, type SandboxConfig, type SandboxStatus,
} from '../runtime.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * SIMULATION — not a container runtime. Keeps sandboxes and containers in memory so the pod worker's
 * logic (restart policies, back-off, init ordering, status) can be tested with an injected clock and
 * exits the test decides. Nothing runs.
 */
export class SimRuntime implements ContainerRuntime {
  readonly sandboxes = new Map<string, Mutable<SandboxStatus>>();
  readonly containers = new Map<string, Mutable<ContainerStatus> & { args: readonly string[] }>();
  readonly #exitListeners: ((id: string) => void)[] = [];
  /** Commands (first argument) that fail to start, as a missing binary does. */
  readonly missingCommands = new Set<string>();
  /** Commands (first argument) that exit with the given code as soon as they start, before anyone lists them. */
  readonly exitOnStart = new Map<string, number>();
  /** Every create, in order (container name and attempt), for assertions on ordering. */
  readonly created: { name: string; attempt: number; at: number }[] = [];

  constructor(readonly clock: Clock) {}

  async version(): Promise<{ name: string; version: string }> { return { name: 'sim', version: '0' }; }

  async runSandbox(cfg: SandboxConfig): Promise<SandboxStatus> {
    const s: Mutable<SandboxStatus> = {
      id: cfg.id, pod: cfg.pod, attempt: cfg.attempt, state: 'ready', createdAt: this.clock.now(), netnsPath: cfg.netnsPath,
      ip: cfg.ip, cgroupParent: cfg.cgroupParent, shareProcessNamespace: cfg.shareProcessNamespace, pid: 1,
    };
    this.sandboxes.set(cfg.id, s);
    return { ...s };
  }

  async stopSandbox(id: string): Promise<void> {
    const s = this.sandboxes.get(id);
    if (s) s.state = 'notready';
  }

  async removeSandbox(id: string): Promise<void> { this.sandboxes.delete(id); }

  async createContainer(cfg: ContainerConfig): Promise<void> {
    const sb = this.sandboxes.get(cfg.sandboxId);
    if (!sb || sb.state !== 'ready') throw new RuntimeError('CreateContainerError', `the pod sandbox ${cfg.sandboxId} is not running`);
    if (this.missingCommands.has(cfg.args[0] ?? '')) {
      throw new RuntimeError('StartError', `runc create failed: unable to start container process: exec: "${cfg.args[0]}": executable file not found in $PATH`);
    }
    this.created.push({ name: cfg.name, attempt: cfg.attempt, at: this.clock.now() });
    this.containers.set(cfg.id, {
      id: cfg.id, sandboxId: cfg.sandboxId, pod: sb.pod, name: cfg.name, attempt: cfg.attempt, kind: cfg.kind, image: cfg.image,
      imageId: cfg.imageId, state: 'created', createdAt: this.clock.now(), logPath: cfg.logPath, args: cfg.args,
      ...(cfg.specHash ? { specHash: cfg.specHash } : {}),
    });
  }

  async startContainer(id: string): Promise<void> {
    const c = this.containers.get(id);
    if (!c) throw new RuntimeError('StartError', `container ${id} does not exist`);
    c.state = 'running';
    c.startedAt = this.clock.now();
    c.pid = 100;
    const code = this.exitOnStart.get(c.args[0] ?? '');
    if (code !== undefined) this.exit(id, code);
  }

  /** The test ends a container with `code` (OOMKilled with `reason`). */
  exit(id: string, code: number, reason?: string): void {
    const c = this.containers.get(id);
    if (!c || c.state === 'exited') return;
    c.state = 'exited';
    c.exitCode = code;
    c.finishedAt = this.clock.now();
    delete c.pid;
    if (reason) c.reason = reason;
    for (const l of this.#exitListeners) l(id);
  }

  /** The newest instance of the pod's container `name`. */
  latest(name: string): (ContainerStatus & { args: readonly string[] }) | undefined {
    return [...this.containers.values()].filter((c) => c.name === name).sort((a, b) => b.attempt - a.attempt)[0];
  }

  async stopContainer(id: string): Promise<void> { this.exit(id, 143); }
  /** Every exec, in order; `execResult` decides what it returns. */
  readonly execs: { id: string; cmd: readonly string[] }[] = [];
  execResult: (cmd: readonly string[]) => { exitCode: number; output: string } = () => ({ exitCode: 0, output: '' });
  execStream(): ExecProcess {
    throw new RuntimeError('RunContainerError', 'the simulated runtime runs no processes to exec into');
  }

  attachStream(): ExecProcess {
    throw new RuntimeError('RunContainerError', 'the simulated runtime runs no processes to attach to');
  }

  async portForward(): Promise<PodConnection> {
    throw new Error('the simulated runtime has no network namespaces to connect into');
  }

  async execSync(id: string, cmd: readonly string[]): Promise<{ exitCode: number; output: string }> {
    this.execs.push({ id, cmd });
    return this.execResult(cmd);
  }
  async removeContainer(id: string): Promise<void> { this.containers.delete(id); }
  async listSandboxes(): Promise<readonly SandboxStatus[]> { return [...this.sandboxes.values()].map((s) => ({ ...s })); }
  async listContainers(): Promise<readonly ContainerStatus[]> { return [...this.containers.values()].map((c) => ({ ...c })); }
  /** Every log reopen asked for (container ids), in order. Simulated containers write no logs. */
  readonly reopened: string[] = [];
  async reopenContainerLog(id: string): Promise<void> {
    if (this.containers.get(id)?.state !== 'running') throw new Error(`container ${id} is not running`);
    this.reopened.push(id);
  }
  onExit(fn: (id: string) => void): void { this.#exitListeners.push(fn); }
  async close(): Promise<void> {}
}

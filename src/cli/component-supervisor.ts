import { fork, type ChildProcess } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import type { LeaderElectionTiming } from '../client/leader-election.js';
import type { ClusterAccess } from '../client/kubeconfig.js';
import type { ControllerName } from '../controllers/manager.js';
import type { ControllerConfig } from '../controllers/controller.js';
import type { NodeLifecycleOptions } from '../controllers/nodelifecycle/options.js';
import type { AgentSettings } from './agent-setup.js';
import type { Logger } from '../util/log.js';

/** What a component runs, and how it reaches the API. */
export interface ComponentSpec {
  readonly component: 'scheduler' | 'controller-manager' | 'agent';
  readonly access: ClusterAccess;
  readonly userAgent: string;
  readonly controllers?: readonly ControllerName[];
  /** The controllers' settings (`--cluster-cidr`, …). */
  readonly controllerConfig?: ControllerConfig;
  readonly nodeLifecycle?: NodeLifecycleOptions;
  readonly leaderElection?: LeaderElectionTiming;
  readonly agent?: AgentSettings & { readonly imagesDropDir?: string };
}

export type ComponentMessage = { type: 'start'; spec: ComponentSpec } | { type: 'stop' } | { type: 'stopped' };

/**
 * Where a component runs. A worker thread shares the server's process; a child process has its own
 * address space, which a component that starts many programs needs: fork() copies the page tables of
 * the whole process, so each spawn from the server (hundreds of MB resident) costs 10–20 ms of blocked
 * event loop and copy-on-write faults for every thread, against about 1 ms from a small process.
 */
export type Isolation = 'thread' | 'process';

const restartDelaysMs = [1000, 2000, 5000, 10_000, 30_000];
const entry = new URL('./component-worker.js', import.meta.url);

/** One running instance, thread or process, behind the same three operations. */
interface Instance {
  send(m: ComponentMessage): void;
  onMessage(fn: (m: ComponentMessage) => void): void;
  onExit(fn: (code: number | null) => void): void;
  kill(): Promise<void>;
}

function threadInstance(spec: ComponentSpec, log: Logger): Instance {
  const w = new Worker(entry, { workerData: spec, stdout: false, stderr: false });
  w.on('error', (e) => log.error('component thread error', { err: e }));
  return {
    send: (m) => w.postMessage(m),
    onMessage: (fn) => w.on('message', fn),
    onExit: (fn) => w.once('exit', fn),
    kill: async () => { await w.terminate(); },
  };
}

function processInstance(spec: ComponentSpec, log: Logger): Instance {
  // The child learns its spec from the first message; it exits when this process goes (the IPC channel closes).
  // A young generation of 1 MB per semi-space (16 MB by default) keeps the process about 10 MB smaller,
  // and every fork from it cheaper; what it allocates is short-lived and small.
  const child: ChildProcess = fork(entry, [spec.component], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [...process.execArgv, '--max-semi-space-size=1'] });
  child.on('error', (e) => log.error('component process error', { err: e }));
  child.send({ type: 'start', spec } satisfies ComponentMessage);
  return {
    send: (m) => { if (child.connected) child.send(m); },
    onMessage: (fn) => child.on('message', fn),
    onExit: (fn) => child.once('exit', fn),
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await gone;
    },
  };
}

/**
 * Supervises one component: starts it, restarts it with backoff if it dies, and stops it gracefully
 * (its leases released) when the server stops.
 */
export class ComponentSupervisor {
  readonly #spec: ComponentSpec;
  readonly #isolation: Isolation;
  readonly #log: Logger;
  #instance: Instance | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stopping = false;
  #crashes = 0;
  #restartTimer: NodeJS.Timeout | undefined;

  constructor(spec: ComponentSpec, log: Logger, isolation: Isolation = 'thread') {
    this.#spec = spec;
    this.#isolation = isolation;
    this.#log = log.with({ [isolation]: spec.component });
  }

  start(): void {
    const inst = this.#isolation === 'process' ? processInstance(this.#spec, this.#log) : threadInstance(this.#spec, this.#log);
    this.#instance = inst;
    const started = Date.now();
    this.#exited = new Promise((resolve) => inst.onExit((code) => {
      resolve();
      if (this.#instance === inst) this.#instance = undefined;
      if (this.#stopping) return;
      // A component that ran for a while before dying starts over with the shortest delay.
      if (Date.now() - started > 60_000) this.#crashes = 0;
      const delay = restartDelaysMs[Math.min(this.#crashes++, restartDelaysMs.length - 1)]!;
      this.#log.error('component exited; restarting', { code, restartInMs: delay });
      this.#restartTimer = setTimeout(() => this.start(), delay);
    }));
  }

  /** Asks the component to stop (releasing its leases); ends it if it has not within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    const inst = this.#instance;
    if (!inst) return;
    const exited = this.#exited;
    const stopped = new Promise<void>((r) => inst.onMessage((m) => { if (m.type === 'stopped') r(); }));
    inst.send({ type: 'stop' });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((r) => { timer = setTimeout(r, graceMs); });
    // A process exits by itself once stopped (flushing what it must, a CPU profile say); a thread is ended.
    await Promise.race([this.#isolation === 'process' ? exited : stopped, exited, deadline]);
    clearTimeout(timer);
    await inst.kill();
    await exited;
  }
}

import { Worker } from 'node:worker_threads';
import type { ClusterAccess } from '../client/kubeconfig.js';
import type { ControllerName } from '../controllers/manager.js';
import type { AgentSettings } from './agent-setup.js';
import type { Logger } from '../util/log.js';

/** What a component thread runs, and how it reaches the API. */
export interface ComponentSpec {
  readonly component: 'scheduler' | 'controller-manager' | 'agent';
  readonly access: ClusterAccess;
  readonly userAgent: string;
  readonly controllers?: readonly ControllerName[];
  readonly agent?: AgentSettings & { readonly imagesDropDir?: string };
}

export type ComponentMessage = { type: 'stop' } | { type: 'stopped' };

const restartDelaysMs = [1000, 2000, 5000, 10_000, 30_000];

/**
 * Supervises one component in a worker thread: starts it, restarts it with backoff if it dies, and
 * stops it gracefully (its leases released) when the server stops.
 */
export class ComponentThread {
  readonly #spec: ComponentSpec;
  readonly #log: Logger;
  #worker: Worker | undefined;
  #stopping = false;
  #crashes = 0;
  #restartTimer: NodeJS.Timeout | undefined;

  constructor(spec: ComponentSpec, log: Logger) {
    this.#spec = spec;
    this.#log = log.with({ thread: spec.component });
  }

  start(): void {
    const w = new Worker(new URL('./component-worker.js', import.meta.url), { workerData: this.#spec, stdout: false, stderr: false });
    this.#worker = w;
    const started = Date.now();
    w.on('error', (e) => this.#log.error('component thread error', { err: e }));
    w.on('exit', (code) => {
      if (this.#worker === w) this.#worker = undefined;
      if (this.#stopping) return;
      // A thread that ran for a while before dying starts over with the shortest delay.
      if (Date.now() - started > 60_000) this.#crashes = 0;
      const delay = restartDelaysMs[Math.min(this.#crashes++, restartDelaysMs.length - 1)]!;
      this.#log.error('component thread exited; restarting', { code, restartInMs: delay });
      this.#restartTimer = setTimeout(() => this.start(), delay);
    });
  }

  /** Asks the component to stop (releasing its leases); terminates it if it has not within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    const w = this.#worker;
    if (!w) return;
    const exited = new Promise<void>((r) => w.once('exit', () => r()));
    w.postMessage({ type: 'stop' } satisfies ComponentMessage);
    const stopped = new Promise<void>((r) => w.on('message', (m: ComponentMessage) => { if (m.type === 'stopped') r(); }));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([stopped, exited, new Promise<void>((r) => { timer = setTimeout(r, graceMs); })]);
    clearTimeout(timer);
    await w.terminate();
    await exited;
  }
}

import type { Container, Probe } from 'kubernetes-types/core/v1.js';
import type { Clock } from '../../util/clock.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import { runProbe } from './probe-runner.js';

export type ProbeKind = 'Startup' | 'Liveness' | 'Readiness';

/** What a pod's probes need from its worker. */
export interface ProbeHost {
  readonly runtime: ContainerRuntime;
  readonly clock: Clock;
  readonly podIP: () => string | undefined;
  /** A failed attempt (`Unhealthy` event). */
  readonly unhealthy: (container: Container, kind: ProbeKind, message: string) => void;
  /** Readiness or startup changed: the pod's status must be written again. */
  readonly changed: () => void;
  /** The liveness or startup probe gave up: the container must be killed and restarted. */
  readonly restart: (containerId: string, container: Container, kind: ProbeKind) => void;
}

/** One running container instance and its probes. */
class ContainerProbes {
  started: boolean;
  ready: boolean;
  #stopped = false;
  /** The next attempt of each probe (one timer per kind, replaced at every tick). */
  readonly #timers = new Map<ProbeKind, { cancel(): void }>();
  readonly #counts = new Map<ProbeKind, { ok: number; bad: number }>();

  constructor(readonly id: string, readonly spec: Container, startedAt: number, readonly host: ProbeHost) {
    this.started = !spec.startupProbe;
    this.ready = !spec.readinessProbe;
    const sinceStart = host.clock.now() - startedAt;
    if (spec.startupProbe) this.#schedule('Startup', spec.startupProbe, sinceStart);
    else this.#startOthers(sinceStart);
  }

  /** Liveness and readiness begin once the container has started (at once when it has no startup probe). */
  #startOthers(sinceStart: number): void {
    if (this.spec.livenessProbe) this.#schedule('Liveness', this.spec.livenessProbe, sinceStart);
    if (this.spec.readinessProbe) this.#schedule('Readiness', this.spec.readinessProbe, sinceStart);
  }

  #schedule(kind: ProbeKind, p: Probe, sinceStart: number): void {
    const first = Math.max(0, (p.initialDelaySeconds ?? 0) * 1000 - sinceStart);
    const tick = (): void => {
      if (this.#stopped) return;
      void this.#attempt(kind, p).then((again) => {
        if (again && !this.#stopped) this.#timers.set(kind, this.host.clock.setTimeout(tick, (p.periodSeconds ?? 10) * 1000));
      });
    };
    this.#timers.set(kind, this.host.clock.setTimeout(tick, first));
  }

  /** One attempt and what follows from it; false when this probe is done (started, or gave up). */
  async #attempt(kind: ProbeKind, p: Probe): Promise<boolean> {
    const r = await runProbe(p, { runtime: this.host.runtime, containerId: this.id, container: this.spec, podIP: this.host.podIP() });
    if (this.#stopped) return false;
    const c = this.#counts.get(kind) ?? { ok: 0, bad: 0 };
    this.#counts.set(kind, c);
    if (r.ok) { c.ok++; c.bad = 0; } else { c.bad++; c.ok = 0; this.host.unhealthy(this.spec, kind, r.message); }
    const passed = c.ok >= (p.successThreshold ?? 1);
    const gaveUp = c.bad >= (p.failureThreshold ?? 3);
    switch (kind) {
      case 'Startup':
        if (passed) {
          this.started = true;
          this.host.changed();
          this.#startOthers(0);
          return false;
        }
        if (gaveUp) { this.stop(); this.host.restart(this.id, this.spec, kind); return false; }
        return true;
      case 'Liveness':
        if (gaveUp) { this.stop(); this.host.restart(this.id, this.spec, kind); return false; }
        return true;
      case 'Readiness':
        if (passed && !this.ready) { this.ready = true; this.host.changed(); }
        if (gaveUp && this.ready) { this.ready = false; this.host.changed(); }
        return true;
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers.values()) t.cancel();
    this.#timers.clear();
  }
}

/**
 * The probes of one pod's running containers, as kubelet's prober manager keeps them: a startup probe
 * holds the others back; readiness decides the container's `ready`; a liveness (or startup) probe that
 * fails `failureThreshold` times in a row has the container restarted.
 */
export class PodProbes {
  readonly #byId = new Map<string, ContainerProbes>();

  constructor(readonly host: ProbeHost) {}

  /** The pod's running container instances now: probes start for new ones and stop for those gone. */
  update(running: readonly { id: string; spec: Container; startedAt: number }[]): void {
    const live = new Set(running.map((r) => r.id));
    for (const [id, p] of this.#byId) if (!live.has(id)) { p.stop(); this.#byId.delete(id); }
    for (const r of running) {
      if (this.#byId.has(r.id)) continue;
      if (!r.spec.startupProbe && !r.spec.livenessProbe && !r.spec.readinessProbe) continue;
      this.#byId.set(r.id, new ContainerProbes(r.id, r.spec, r.startedAt, this.host));
    }
  }

  /** `ready` of a running container: its readiness probe's verdict (true without one). */
  ready(id: string): boolean { return this.#byId.get(id)?.ready ?? true; }

  /** `started` of a running container: its startup probe's verdict (true without one). */
  started(id: string): boolean { return this.#byId.get(id)?.started ?? true; }

  stop(): void {
    for (const p of this.#byId.values()) p.stop();
    this.#byId.clear();
  }
}

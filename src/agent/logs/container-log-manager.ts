import { stat } from 'node:fs/promises';
import { realClock, type Clock } from '../../util/clock.js';
import { silentLogger, type Logger } from '../../util/log.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import { rotateLog } from './log-rotation.js';

export interface ContainerLogManagerOptions {
  /** Where the containers and their log paths come from, and who reopens a log file. */
  readonly runtime: Pick<ContainerRuntime, 'listContainers' | 'reopenContainerLog'>;
  /** Bytes a log file may hold before it is rotated (kubelet's containerLogMaxSize; default 10 MiB). Negative: never rotate. */
  readonly maxSize?: number;
  /** Files a container's log may have, the current one included (kubelet's containerLogMaxFiles; default 5, at least 2). */
  readonly maxFiles?: number;
  /** How often the log files are checked (kubelet's containerLogMonitorInterval; default 10 s). */
  readonly intervalMs?: number;
  readonly clock?: Clock;
  readonly log?: Logger;
}

/** kubelet's defaults: `--container-log-max-size=10Mi`, `--container-log-max-files=5`, a check every 10 s. */
export const defaultLogRotation = { maxSize: 10 * 1024 * 1024, maxFiles: 5, intervalMs: 10_000 } as const;

/**
 * Rotates the log files of running containers by size, as kubelet's container log manager does: every
 * interval, each running container whose current file holds `maxSize` bytes or more has it rotated
 * (log-rotation.ts) and the runtime reopen it; a running container whose file has gone gets a new one.
 * Exited containers write nothing more, so their files are left as they are.
 */
export class ContainerLogManager {
  readonly #o: ContainerLogManagerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #policy: { maxSize: number; maxFiles: number };
  #timer: { cancel(): void } | undefined;
  #round: Promise<void> = Promise.resolve();
  #stopped = true;

  constructor(o: ContainerLogManagerOptions) {
    const maxFiles = o.maxFiles ?? defaultLogRotation.maxFiles;
    if (!Number.isInteger(maxFiles) || maxFiles <= 1) throw new Error(`invalid MaxFiles ${maxFiles}, must be > 1`);
    this.#o = o;
    this.#clock = o.clock ?? realClock;
    this.#log = (o.log ?? silentLogger).with({ component: 'container-log-manager' });
    this.#policy = { maxSize: o.maxSize ?? defaultLogRotation.maxSize, maxFiles };
  }

  /** Starts the periodic checks (none when rotation is disabled); one check runs at a time. */
  start(): void {
    if (this.#policy.maxSize < 0 || !this.#stopped) return;
    this.#stopped = false;
    const every = this.#o.intervalMs ?? defaultLogRotation.intervalMs;
    const tick = (): void => {
      this.#round = this.rotateLogs().finally(() => {
        if (!this.#stopped) this.#timer = this.#clock.setTimeout(tick, every);
      });
    };
    this.#timer = this.#clock.setTimeout(tick, every);
  }

  /** Stops the checks; resolves once a round in progress has finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    await this.#round;
  }

  /** Resolves once the round in progress, if any, has finished. */
  idle(): Promise<void> {
    return this.#round;
  }

  /** One round over the running containers; failures are logged per container and never thrown. */
  async rotateLogs(): Promise<void> {
    const containers = await this.#o.runtime.listContainers().catch((e: Error) => {
      this.#log.warn('cannot list containers for log rotation', { err: e });
      return [];
    });
    for (const c of containers) {
      if (c.state !== 'running') continue;
      try {
        await this.#rotateIfNeeded(c.id, c.logPath);
      } catch (e) {
        this.#log.warn('cannot rotate the container log', { id: c.id, path: c.logPath, err: e as Error });
      }
    }
  }

  async #rotateIfNeeded(id: string, path: string): Promise<void> {
    let size = await stat(path).then((s) => s.size, (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (size === undefined) {
      // Removed behind the container's back: the writer needs a file again.
      await this.#o.runtime.reopenContainerLog(id);
      size = (await stat(path)).size;
    }
    if (size < this.#policy.maxSize) return;
    const rotated = await rotateLog(path, this.#policy, () => this.#o.runtime.reopenContainerLog(id), this.#clock.now());
    if (rotated) this.#log.debug('rotated the container log', { id, path, rotated, size });
  }
}

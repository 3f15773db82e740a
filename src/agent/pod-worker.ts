import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../api/types.js';
import type { EventRecorder } from '../client/event-recorder.js';
import type { RestClient } from '../client/rest-client.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { deepEqual } from '../util/deep-equal.js';
import { PriorityGate } from '../util/priority-gate.js';
import { runLifecycleHandler } from './lifecycle-hooks.js';
import { PodProbes, type ProbeKind } from './probes/pod-probes.js';
import { parseCriLog } from './logs/cri-log.js';
import { removeContainerLogs } from './logs/log-rotation.js';
import { Backoff, goDuration } from './backoff.js';
import { containerResources, containerSecurity, processArgs, processEnv, processUser } from './container-config.js';
import { ContainerConfigError, resolveEnv } from './env.js';
import { ImageError, type ImageService, type PullPolicy } from './images/types.js';
import type { PodNetwork, PortMapping } from './network/types.js';
import { computePodStatus, type ContainerView, type StartFailure, type Waiting } from './pod-status.js';
import { RuntimeError, type ContainerRuntime, type ContainerStatus, type SandboxStatus } from './runtime/runtime.js';
import { VolumeError, type PreparedVolume, type VolumeManager, type VolumeSources } from './volumes/types.js';
import { podQOSClass } from '../api/pod-qos.js';
import type { ResourceAmounts } from './downward/resource-field.js';

/** What every pod worker of one agent shares. */
export interface PodWorkerDeps {
  readonly runtime: ContainerRuntime;
  readonly network: PodNetwork;
  readonly images: ImageService;
  readonly volumes: VolumeManager;
  readonly sources: VolumeSources;
  readonly client: RestClient;
  readonly recorder: EventRecorder;
  readonly clock: Clock;
  readonly log: Logger;
  readonly hostIP: string;
  /** `/var/log/pods` or the agent's own. */
  readonly podLogDir: string;
  /** kubelet's root dir (`/var/lib/kubelet` or the agent's own). */
  readonly rootDir: string;
  /** Absolute cgroup under which pods go, e.g. `/skiff` → `/skiff/burstable/pod<uid>`. */
  readonly cgroupRoot: string;
  /** Node allocatable in milli-units (the downward API's default for unset limits). */
  readonly nodeAllocatable: () => ResourceAmounts;
  /** The runtime's sandboxes and containers, shared by all workers (one listing serves many). */
  readonly runtimeState: () => Promise<{ sandboxes: readonly SandboxStatus[]; containers: readonly ContainerStatus[] }>;
  readonly newId: () => string;
  readonly restartBackoff: Backoff;
  readonly pullBackoff: Backoff;
  /** Sandbox creation and container starts of all workers go through it, the earliest pod first. */
  readonly startGate: PriorityGate;
}

interface Memory {
  waiting?: Waiting;
  startFailure?: StartFailure;
  /** When the last image pull failed (the pull back-off counts from there). */
  pullFailedAt?: number;
}

const isSidecar = (c: Container): boolean => c.restartPolicy === 'Always';
type P = Pod & KubeObject;

/** The hash of what, in a container's spec, requires a restart when it changes. */
function specHash(c: Container): string {
  const { resources: _r, ...rest } = c;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}

/**
 * One pod's worker, as kubelet's pod workers: syncs are serialized, level-triggered (each compares the
 * pod as bound to this node with what runs and converges one step), and re-run whenever the pod, one of
 * its containers or a back-off timer says so.
 */
export class PodWorker {
  readonly #d: PodWorkerDeps;
  #pod: P;
  #gone = false;
  #running = false;
  #again = false;
  #wake: { cancel(): void } | undefined;
  #wakeAt = Infinity;
  readonly #mem = new Map<string, Memory>();
  readonly #startTime: number;
  #lastStatus: unknown;
  #finished = false;
  #terminalCleaned = false;
  readonly #onFinished: () => void;
  readonly #probes: PodProbes;

  constructor(d: PodWorkerDeps, pod: P, onFinished: () => void) {
    this.#d = d;
    this.#pod = pod;
    this.#startTime = d.clock.now();
    this.#onFinished = onFinished;
    this.#probes = new PodProbes({
      runtime: d.runtime, clock: d.clock, podIP: () => this.#pod.status?.podIP,
      unhealthy: (spec, kind, message) => this.#event('Warning', 'Unhealthy', `${kind} probe failed: ${message}`, { spec, init: isSidecar(spec) }),
      changed: () => this.kick(),
      restart: (id, spec, kind) => { void this.#probeRestart(id, spec, kind); },
    });
  }

  /** A liveness or startup probe gave up: kill the container; the next sync restarts it per the restart policy. */
  async #probeRestart(id: string, spec: Container, kind: ProbeKind): Promise<void> {
    const init = (this.#pod.spec?.initContainers ?? []).includes(spec);
    this.#event('Normal', 'Killing', `Container ${spec.name} failed ${kind.toLowerCase()} probe, will be restarted`, { spec, init });
    const probe = kind === 'Startup' ? spec.startupProbe : spec.livenessProbe;
    const graceS = probe?.terminationGracePeriodSeconds ?? this.#pod.spec?.terminationGracePeriodSeconds ?? 30;
    try {
      await this.#d.runtime.stopContainer(id, graceS * 1000);
    } catch (e) {
      this.#d.log.warn('cannot stop a container its probe failed', { pod: this.#key, container: spec.name, err: e as Error });
    }
    this.kick();
  }

  get uid(): string { return this.#pod.metadata.uid ?? ''; }
  get pod(): P { return this.#pod; }

  update(pod: P): void {
    this.#pod = pod;
    this.kick();
  }

  /** Takes a newer copy of the pod (its status changed) without syncing. */
  replace(pod: P): void {
    this.#pod = pod;
  }

  /** The pod object is gone from the API: stop and clean everything up. */
  remove(): void {
    this.#gone = true;
    this.kick();
  }

  kick(): void {
    if (this.#finished) return;
    if (this.#running) { this.#again = true; return; }
    void this.#loop();
  }

  async #loop(): Promise<void> {
    this.#running = true;
    try {
      do {
        this.#again = false;
        try {
          await this.#sync();
        } catch (e) {
          this.#d.log.warn('pod sync failed', { pod: this.#key, err: e as Error });
          this.#wakeIn(2000);
        }
      } while (this.#again && !this.#finished);
    } finally {
      this.#running = false;
    }
  }

  get #key(): string { return `${this.#pod.metadata.namespace}/${this.#pod.metadata.name}`; }

  #wakeIn(ms: number): void {
    const at = this.#d.clock.now() + ms;
    if (at >= this.#wakeAt) return;
    this.#wake?.cancel();
    this.#wakeAt = at;
    this.#wake = this.#d.clock.setTimeout(() => { this.#wakeAt = Infinity; this.kick(); }, Math.max(0, ms));
  }

  #event(type: 'Normal' | 'Warning', reason: string, message: string, c?: { spec: Container; init: boolean }): void {
    const fieldPath = c ? `spec.${c.init ? 'initContainers' : 'containers'}{${c.spec.name}}` : undefined;
    this.#d.recorder.event(this.#pod, type, reason, message, fieldPath);
  }

  #memory(name: string): Memory {
    let m = this.#mem.get(name);
    if (!m) { m = {}; this.#mem.set(name, m); }
    return m;
  }

  // ---------------------------------------------------------------- sync

  async #sync(): Promise<void> {
    const pod = this.#pod;
    const uid = this.uid;
    const state = await this.#d.runtimeState();
    const sandboxes = state.sandboxes.filter((s) => s.pod.uid === uid).sort((a, b) => b.attempt - a.attempt);
    const containers = state.containers.filter((c) => c.pod.uid === uid);

    if (this.#gone || pod.metadata.deletionTimestamp || this.#isTerminal()) this.#probes.stop();
    if (this.#gone || pod.metadata.deletionTimestamp) {
      const graceMs = (pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
      await this.#killPod(sandboxes, containers, this.#gone ? Math.min(graceMs, 2000) : graceMs);
      await this.#cleanUp(sandboxes, containers);
      if (!this.#gone) await this.#finalDelete();
      this.#finished = true;
      this.#wake?.cancel();
      this.#onFinished();
      return;
    }

    if (this.#isTerminal()) {
      // A finished pod keeps its containers (for logs) but gives back its IP and stops its sandbox.
      if (!this.#terminalCleaned) {
        await this.#killPod(sandboxes, containers, (pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000);
        for (const sb of sandboxes) await this.#removeSandbox(sb);
        this.#terminalCleaned = true;
      }
      await this.#writeStatus(sandboxes, containers, false);
      return;
    }

    let sb = sandboxes.find((s) => s.state === 'ready');
    if (!sb) {
      if (sandboxes.length > 0) {
        this.#event('Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.');
        await this.#killPod(sandboxes, containers, 2000);
        for (const old of sandboxes) await this.#removeSandbox(old);
      }
      try {
        sb = await this.#createSandbox((sandboxes[0]?.attempt ?? -1) + 1);
      } catch (e) {
        this.#event('Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${(e as Error).message}`);
        await this.#writeStatus([], containers, false);
        this.#wakeIn(5000);
        return;
      }
    }

    let volumes: ReadonlyMap<string, PreparedVolume>;
    try {
      volumes = await this.#d.volumes.setUp(pod);
    } catch (e) {
      if (!(e instanceof VolumeError)) throw e;
      this.#event('Warning', 'FailedMount', e.message);
      await this.#writeStatus([sb], containers, true);
      this.#wakeIn(5000);
      return;
    }

    const latest = (name: string): ContainerStatus | undefined =>
      containers.filter((c) => c.name === name).sort((a, b) => b.attempt - a.attempt)[0];
    const policy = pod.spec?.restartPolicy ?? 'Always';

    // Init containers, one at a time, in order; sidecars (restartPolicy Always) start and keep running.
    let initBlocked = false;
    for (const spec of pod.spec?.initContainers ?? []) {
      const l = latest(spec.name);
      const m = this.#memory(spec.name);
      const failedStart = m.startFailure && (!l || m.startFailure.attempt > l.attempt);
      if (isSidecar(spec)) {
        if (l?.state === 'running' && !failedStart) { await this.#restartIfChanged(l, spec, sb, volumes, true); continue; }
        if (!(await this.#startOrBackOff(spec, true, l, sb, volumes))) { initBlocked = true; break; }
        continue;
      }
      if (l && (l.state === 'running' || l.state === 'created') && !failedStart) { initBlocked = true; break; }
      if (l && l.state === 'exited' && l.exitCode === 0 && !failedStart) continue;
      if ((l || failedStart) && policy === 'Never') { initBlocked = true; break; }
      await this.#startOrBackOff(spec, true, l, sb, volumes);
      initBlocked = true;
      break;
    }

    if (!initBlocked) {
      for (const spec of pod.spec?.containers ?? []) {
        const l = latest(spec.name);
        const m = this.#memory(spec.name);
        const failedStart = m.startFailure && (!l || m.startFailure.attempt > l.attempt);
        if (l && (l.state === 'running' || l.state === 'created') && !failedStart) {
          await this.#restartIfChanged(l, spec, sb, volumes, false);
          continue;
        }
        if (l || failedStart) {
          const exitCode = failedStart ? 128 : l!.exitCode;
          if (policy === 'Never' || (policy === 'OnFailure' && exitCode === 0)) continue;
        }
        await this.#startOrBackOff(spec, false, l, sb, volumes);
      }
    }
    await this.#removeOldInstances(containers);
    const fresh = await this.#d.runtimeState();
    const mine = fresh.containers.filter((c) => c.pod.uid === uid);
    const specs = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []).filter(isSidecar)];
    this.#probes.update(mine.filter((c) => c.state === 'running').flatMap((c) => {
      const spec = specs.find((x) => x.name === c.name);
      return spec ? [{ id: c.id, spec, startedAt: c.startedAt ?? c.createdAt }] : [];
    }));
    await this.#writeStatus(fresh.sandboxes.filter((s) => s.pod.uid === uid), mine, true);
  }

  #isTerminal(): boolean {
    const phase = this.#pod.status?.phase;
    return phase === 'Succeeded' || phase === 'Failed';
  }

  // ---------------------------------------------------------------- sandbox

  #cgroupParent(): string {
    const qos = podQOSClass(this.#pod.spec ?? { containers: [] });
    const level = qos === 'Guaranteed' ? '' : `/${qos.toLowerCase()}`;
    return `${this.#d.cgroupRoot}${level}/pod${this.uid}`;
  }

  async #createSandbox(attempt: number): Promise<SandboxStatus> {
    const pod = this.#pod;
    const id = this.#d.newId();
    const ports: PortMapping[] = [];
    for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
      for (const p of c.ports ?? []) {
        if (p.hostPort) ports.push({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: (p.protocol ?? 'TCP').toLowerCase(), ...(p.hostIP ? { hostIP: p.hostIP } : {}) });
      }
    }
    return this.#d.startGate.run(this.#startTime, async () => {
      const net = await this.#d.network.setUp({ id, podName: pod.metadata.name ?? '', podNamespace: pod.metadata.namespace ?? 'default', podUid: this.uid, portMappings: ports });
      try {
        return await this.#d.runtime.runSandbox({
          id, pod: { uid: this.uid, name: pod.metadata.name ?? '', namespace: pod.metadata.namespace ?? 'default' }, attempt,
          hostname: (pod.spec?.hostname ?? pod.metadata.name ?? '').slice(0, 63), netnsPath: net.netnsPath,
          shareProcessNamespace: pod.spec?.shareProcessNamespace === true, cgroupParent: this.#cgroupParent(), ip: net.ip,
        });
      } catch (e) {
        await this.#d.network.tearDown(id).catch(() => {});
        throw e;
      }
    });
  }

  async #removeSandbox(sb: SandboxStatus): Promise<void> {
    // CNI DEL while the namespace still exists (runtime.md pitfall 10), then the pause process.
    await this.#d.network.tearDown(sb.id);
    await this.#d.runtime.stopSandbox(sb.id);
    await this.#d.runtime.removeSandbox(sb.id);
  }

  // ---------------------------------------------------------------- containers

  /** Starts the next instance of a container, unless its restart back-off says to wait; true when started. */
  async #startOrBackOff(spec: Container, init: boolean, l: ContainerStatus | undefined, sb: SandboxStatus, volumes: ReadonlyMap<string, PreparedVolume>): Promise<boolean> {
    const m = this.#memory(spec.name);
    const failedStart = m.startFailure && (!l || m.startFailure.attempt > l.attempt) ? m.startFailure : undefined;
    const ranBefore = l !== undefined || failedStart !== undefined;
    const attempt = Math.max(l?.attempt ?? -1, failedStart?.attempt ?? -1) + 1;
    if (ranBefore) {
      const key = `${this.uid}/${spec.name}`;
      const exitedAt = failedStart?.at ?? l?.finishedAt ?? this.#d.clock.now();
      if (this.#d.restartBackoff.inBackoffSince(key, exitedAt)) {
        const wait = this.#d.restartBackoff.current(key);
        const podRef = `${this.#pod.metadata.name}_${this.#pod.metadata.namespace}(${this.uid})`;
        if (m.waiting?.reason !== 'CrashLoopBackOff') this.#event('Warning', 'BackOff', `Back-off restarting failed container ${spec.name} in pod ${podRef}`, { spec, init });
        m.waiting = { reason: 'CrashLoopBackOff', message: `back-off ${goDuration(wait)} restarting failed container=${spec.name} pod=${podRef}` };
        this.#wakeIn(this.#d.restartBackoff.readyAt(key, exitedAt) - this.#d.clock.now() + 10);
        return false;
      }
      this.#d.restartBackoff.next(key, exitedAt);
    }
    return this.#start(spec, init, attempt, sb, volumes);
  }

  async #restartIfChanged(l: ContainerStatus, spec: Container, sb: SandboxStatus, volumes: ReadonlyMap<string, PreparedVolume>, init: boolean): Promise<void> {
    if (!l.specHash || l.specHash === specHash(spec)) return;
    this.#event('Normal', 'Killing', `Container ${spec.name} definition changed, will be restarted`, { spec, init });
    await this.#d.runtime.stopContainer(l.id, (this.#pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000);
    await this.#start(spec, init, l.attempt + 1, sb, volumes);
  }

  async #ensureImage(spec: Container, init: boolean): Promise<{ id: string; rootfs: string; ref: string; config: Parameters<typeof processArgs>[1] } | undefined> {
    const image = spec.image ?? '';
    const m = this.#memory(spec.name);
    const key = `${this.uid}/${spec.name}/image`;
    const policy = (spec.imagePullPolicy ?? 'IfNotPresent') as PullPolicy;
    const present = this.#d.images.get(image);
    if (present && policy !== 'Always') {
      if (!m.waiting || m.waiting.reason === 'ErrImagePull' || m.waiting.reason === 'ImagePullBackOff' || m.waiting.reason === 'ContainerCreating') {
        this.#event('Normal', 'Pulled', `Container image "${image}" already present on machine`, { spec, init });
      }
      return { id: present.id, rootfs: present.rootfs, ref: present.repoDigests[0] ?? present.id, config: present.config };
    }
    if (m.pullFailedAt !== undefined && this.#d.pullBackoff.inBackoffSince(key, m.pullFailedAt)) {
      if (m.waiting?.reason !== 'ImagePullBackOff') {
        this.#event('Normal', 'BackOff', `Back-off pulling image "${image}"`, { spec, init });
        this.#event('Warning', 'Failed', 'Error: ImagePullBackOff', { spec, init });
      }
      m.waiting = { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` };
      this.#wakeIn(this.#d.pullBackoff.readyAt(key, m.pullFailedAt) - this.#d.clock.now() + 10);
      return undefined;
    }
    const t0 = this.#d.clock.now();
    if (policy !== 'Never') this.#event('Normal', 'Pulling', `Pulling image "${image}"`, { spec, init });
    try {
      const img = await this.#d.images.ensure(image, policy);
      if (policy !== 'Never') {
        const secs = ((this.#d.clock.now() - t0) / 1000).toFixed(3);
        this.#event('Normal', 'Pulled', `Successfully pulled image "${image}" in ${secs}s (${secs}s including waiting). Image size: ${img.size} bytes.`, { spec, init });
      }
      m.pullFailedAt = undefined;
      return { id: img.id, rootfs: img.rootfs, ref: img.repoDigests[0] ?? img.id, config: img.config };
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      if (e.reason === 'ErrImageNeverPull') {
        const msg = `Container image "${image}" is not present with pull policy of Never`;
        if (m.waiting?.reason !== 'ErrImageNeverPull') this.#event('Warning', 'ErrImageNeverPull', msg, { spec, init });
        m.waiting = { reason: 'ErrImageNeverPull', message: msg };
        this.#wakeIn(10_000);
        return undefined;
      }
      if (e.reason === 'InvalidImageName') {
        if (m.waiting?.reason !== 'InvalidImageName') this.#event('Warning', 'InspectFailed', e.message, { spec, init });
        m.waiting = { reason: 'InvalidImageName', message: e.message };
        return undefined;
      }
      this.#event('Warning', 'Failed', `Failed to pull image "${image}": ${e.message}`, { spec, init });
      this.#event('Warning', 'Failed', 'Error: ErrImagePull', { spec, init });
      m.waiting = { reason: 'ErrImagePull', message: e.message };
      m.pullFailedAt = this.#d.clock.now();
      this.#d.pullBackoff.next(key, m.pullFailedAt);
      this.#wakeIn(this.#d.pullBackoff.current(key) + 10);
      return undefined;
    }
  }

  /** Pulls the image if needed, builds the container's config, creates and starts it; true when it runs. */
  async #start(spec: Container, init: boolean, attempt: number, sb: SandboxStatus, volumes: ReadonlyMap<string, PreparedVolume>): Promise<boolean> {
    const pod = this.#pod;
    const m = this.#memory(spec.name);
    const image = await this.#ensureImage(spec, init);
    if (!image) return false;
    const id = this.#d.newId();
    const ns = pod.metadata.namespace ?? 'default';
    let cfg;
    try {
      const env = await resolveEnv(pod, spec, { podIP: sb.ip, hostIP: this.#d.hostIP, nodeName: pod.spec?.nodeName ?? '', nodeAllocatable: this.#d.nodeAllocatable(), sources: this.#d.sources });
      const mounts = await this.#d.volumes.mountsFor(pod, spec, volumes, env);
      const msgDir = join(this.#d.rootDir, 'pods', this.uid, 'containers', spec.name);
      await mkdir(msgDir, { recursive: true });
      const msgFile = join(msgDir, id);
      await writeFile(msgFile, '');
      cfg = {
        id, sandboxId: sb.id, name: spec.name, attempt, kind: init ? 'init' as const : 'app' as const,
        image: spec.image ?? '', imageId: image.ref, imageRootfs: image.rootfs,
        args: processArgs(spec, image.config, env),
        env: processEnv(image.config, env, (pod.spec?.hostname ?? pod.metadata.name ?? '').slice(0, 63)),
        cwd: spec.workingDir || image.config.WorkingDir || '/',
        user: await processUser(pod, spec, image.config, image.rootfs),
        mounts, resources: containerResources(spec), security: containerSecurity(spec),
        logPath: join(this.#d.podLogDir, `${ns}_${pod.metadata.name}_${this.uid}`, spec.name, `${attempt}.log`),
        terminationMessagePath: { host: msgFile, container: spec.terminationMessagePath ?? '/dev/termination-log' },
        ...(image.config.StopSignal ? { stopSignal: image.config.StopSignal } : {}),
        specHash: specHash(spec), stdin: spec.stdin === true, stdinOnce: spec.stdinOnce === true, tty: spec.tty === true,
      };
    } catch (e) {
      if (!(e instanceof ContainerConfigError) && !(e instanceof VolumeError)) throw e;
      if (m.waiting?.reason !== 'CreateContainerConfigError' || m.waiting.message !== e.message) this.#event('Warning', 'Failed', `Error: ${e.message}`, { spec, init });
      m.waiting = { reason: 'CreateContainerConfigError', message: e.message };
      this.#wakeIn(10_000);
      return false;
    }
    try {
      await this.#d.startGate.run(this.#startTime, async () => {
        await this.#d.runtime.createContainer(cfg);
        this.#event('Normal', 'Created', `Created container ${spec.name}`, { spec, init });
        await this.#d.runtime.startContainer(id);
      });
      this.#event('Normal', 'Started', `Started container ${spec.name}`, { spec, init });
      m.waiting = undefined;
      const postStart = spec.lifecycle?.postStart;
      if (postStart) {
        // As kubelet: the next container waits for the hook; a failed hook kills the container, which then
        // restarts (with back-off) as if it had crashed.
        const failure = await runLifecycleHandler(postStart, {
          runtime: this.#d.runtime, clock: this.#d.clock, pod, container: spec, containerId: id, podIP: sb.ip, timeoutMs: 120_000,
        });
        if (failure) {
          this.#event('Warning', 'FailedPostStartHook', failure, { spec, init });
          await this.#d.runtime.stopContainer(id, (pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000);
          this.kick();
          return false;
        }
      }
      return true;
    } catch (e) {
      if (!(e instanceof RuntimeError)) throw e;
      this.#event('Warning', 'Failed', `Error: ${e.message}`, { spec, init });
      if (e.reason === 'StartError') {
        m.startFailure = { attempt, message: e.message, at: this.#d.clock.now() };
        m.waiting = undefined;
        await this.#d.runtime.removeContainer(id).catch(() => {});
        this.kick();
      } else {
        m.waiting = { reason: e.reason === 'CreateContainerError' ? 'CreateContainerError' : 'RunContainerError', message: e.message };
        this.#wakeIn(10_000);
      }
      return false;
    }
  }

  /** kubelet keeps the newest dead instance of each container (for `logs --previous`); older ones go. */
  async #removeOldInstances(containers: readonly ContainerStatus[]): Promise<void> {
    const byName = new Map<string, ContainerStatus[]>();
    for (const c of containers) byName.set(c.name, [...(byName.get(c.name) ?? []), c]);
    for (const list of byName.values()) {
      list.sort((a, b) => b.attempt - a.attempt);
      for (const old of list.slice(2)) {
        if (old.state !== 'exited' && old.state !== 'unknown') continue;
        await this.#d.runtime.removeContainer(old.id);
        // Its log goes with it, rotated files included (kubelet's container log manager Clean).
        await removeContainerLogs(old.logPath);
      }
    }
  }

  // ---------------------------------------------------------------- termination

  async #killPod(sandboxes: readonly SandboxStatus[], containers: readonly ContainerStatus[], graceMs: number): Promise<void> {
    const specOf = (name: string, init: boolean): Container | undefined =>
      (init ? this.#pod.spec?.initContainers : this.#pod.spec?.containers)?.find((c) => c.name === name);
    const stop = async (c: ContainerStatus): Promise<void> => {
      const spec = specOf(c.name, c.kind === 'init');
      if (spec) this.#event('Normal', 'Killing', `Stopping container ${c.name}`, { spec, init: c.kind === 'init' });
      let remaining = graceMs;
      const preStop = spec?.lifecycle?.preStop;
      if (spec && preStop && c.state === 'running' && graceMs > 0) {
        // The hook counts against the grace period; the container still gets at least 2 s after it (kubelet's minimum).
        const started = this.#d.clock.now();
        const failure = await runLifecycleHandler(preStop, {
          runtime: this.#d.runtime, clock: this.#d.clock, pod: this.#pod, container: spec, containerId: c.id,
          podIP: sandboxes.find((s) => s.state === 'ready')?.ip ?? this.#pod.status?.podIP, timeoutMs: graceMs,
        });
        if (failure) this.#event('Warning', 'FailedPreStopHook', failure, { spec, init: c.kind === 'init' });
        remaining = Math.max(graceMs - (this.#d.clock.now() - started), Math.min(2000, graceMs));
      }
      await this.#d.runtime.stopContainer(c.id, remaining);
    };
    const running = containers.filter((c) => c.state === 'running' || c.state === 'created');
    // App containers first, then sidecars and init containers, as kubelet orders termination.
    await Promise.all(running.filter((c) => c.kind === 'app').map(stop));
    await Promise.all(running.filter((c) => c.kind === 'init').map(stop));
  }

  async #cleanUp(sandboxes: readonly SandboxStatus[], containers: readonly ContainerStatus[]): Promise<void> {
    for (const c of containers) await this.#d.runtime.removeContainer(c.id);
    for (const sb of sandboxes) await this.#removeSandbox(sb);
    await this.#d.volumes.tearDown(this.uid);
    await rm(join(this.#d.rootDir, 'pods', this.uid), { recursive: true, force: true });
    const pod = this.#pod;
    await rm(join(this.#d.podLogDir, `${pod.metadata.namespace}_${pod.metadata.name}_${this.uid}`), { recursive: true, force: true });
    this.#d.restartBackoff.forget(`${this.uid}/`);
    this.#d.pullBackoff.forget(`${this.uid}/`);
  }

  /** Everything is stopped and cleaned: the object may go (grace 0, for this very pod only). */
  async #finalDelete(): Promise<void> {
    const pod = this.#pod;
    const r = await this.#d.client.request('DELETE', `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`, {
      body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: this.uid } },
    });
    if (r.status >= 300 && r.status !== 404 && r.status !== 409) throw new Error(`deleting pod ${this.#key}: HTTP ${r.status}`);
  }

  // ---------------------------------------------------------------- status

  async #views(containers: readonly ContainerStatus[]): Promise<{ init: ContainerView[]; app: ContainerView[] }> {
    const view = async (spec: Container): Promise<ContainerView> => {
      const mine = containers.filter((c) => c.name === spec.name).sort((a, b) => b.attempt - a.attempt);
      const latest = mine[0];
      const m = this.#mem.get(spec.name) ?? {};
      const attempts = Math.max(latest?.attempt ?? -1, m.startFailure?.attempt ?? -1);
      let terminationMessage: string | undefined;
      if (latest?.state === 'exited' && latest.terminationMessageHostPath) {
        terminationMessage = (await readFile(latest.terminationMessageHostPath, 'utf8').catch(() => '')).slice(0, 4096) || undefined;
        if (!terminationMessage && spec.terminationMessagePolicy === 'FallbackToLogsOnError' && latest.exitCode !== 0) {
          // As kubelet: the last 80 lines of the log, at most 2048 bytes of them.
          const text = parseCriLog(await readFile(latest.logPath, 'utf8').catch(() => '')).slice(-80).map((l) => l.content).join('');
          terminationMessage = Buffer.from(text).subarray(-2048).toString() || undefined;
        }
      }
      const running = latest?.state === 'running';
      return {
        spec, restartCount: Math.max(0, attempts),
        ...(latest ? { latest } : {}), ...(mine[1] ? { previous: mine[1] } : {}),
        ...(m.waiting ? { waiting: m.waiting } : {}), ...(m.startFailure ? { startFailure: m.startFailure } : {}),
        ready: running && this.#probes.started(latest.id) && this.#probes.ready(latest.id),
        started: running && this.#probes.started(latest.id),
        ...(terminationMessage ? { terminationMessage } : {}),
        ...(latest ? { imageID: latest.imageId } : {}),
      };
    };
    return {
      init: await Promise.all((this.#pod.spec?.initContainers ?? []).map(view)),
      app: await Promise.all((this.#pod.spec?.containers ?? []).map(view)),
    };
  }

  async #writeStatus(sandboxes: readonly SandboxStatus[], containers: readonly ContainerStatus[], sandboxReady: boolean): Promise<void> {
    const views = await this.#views(containers);
    const ready = sandboxes.find((s) => s.state === 'ready');
    const podIP = ready?.ip ?? this.#pod.status?.podIP;
    const status = computePodStatus({
      pod: this.#pod, sandboxReady: sandboxReady && ready !== undefined, hostIP: this.#d.hostIP, ...(podIP ? { podIP } : {}),
      init: views.init, app: views.app, startTime: this.#startTime, now: this.#d.clock.now(),
    });
    // The server's copy counts too: the node lifecycle controller marks pods Ready=False while this
    // agent is away, and that must be put right when it is back even though our own view never changed.
    const onServer = new Map((this.#pod.status?.conditions ?? []).map((c) => [c.type, c.status]));
    const serverAgrees = (status.conditions ?? []).every((c) => onServer.get(c.type) === c.status);
    if (serverAgrees && deepEqual(status, this.#lastStatus)) return;
    const pod = this.#pod;
    const r = await this.#d.client.request('PATCH', `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`, {
      body: { metadata: { uid: this.uid }, status }, contentType: 'application/merge-patch+json',
    });
    if (r.status === 200) {
      this.#lastStatus = status;
      this.#pod = { ...this.#pod, status } as P;
    } else if (r.status !== 404 && r.status !== 409) {
      throw new Error(`updating the status of ${this.#key}: HTTP ${r.status}`);
    }
  }
}

import { randomBytes } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rm, stat, writeFile, rename, chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  RuntimeError, type ContainerConfig, type ContainerRuntime, type ExecProcess, type PodConnection, type ContainerStatus, type SandboxConfig, type SandboxStatus,
} from '../runtime.js';
import { silentLogger, type Logger } from '../../../util/log.js';
import { RuncCli } from './runc-cli.js';
import { attachToContainer, dialInNetns } from './stream-helper.js';
import { createMonitored, reopenLog } from './conmon.js';
import { processAlive, processStartTime } from './process-identity.js';
import { annotation, containerSpec, sandboxSpec } from './oci-spec.js';
import { mountOverlay, unmountOverlay } from './overlay.js';
import { oomKills, removeCgroup } from './cgroups.js';
import { etcHosts } from './etc-files.js';

export interface RuncRuntimeOptions {
  /** Bundles, metadata, exit files (e.g. `<data-dir>/agent/runtime`). */
  readonly dataDir: string;
  /** runc's private state root (a tmpfs path such as `/run/skiff/<node>/runc`). */
  readonly runcRoot: string;
  readonly runc?: string;
  readonly conmon?: string;
  /** The static pause binary (built by `npm run build` into `dist/native/pause`). */
  readonly pauseBinary?: string;
  /** The `skiff-stream` helper for terminals, attach and port-forward (built into `dist/native`). */
  readonly streamHelper?: string;
  readonly log?: Logger;
}

interface SandboxMeta {
  id: string;
  pod: SandboxConfig['pod'];
  attempt: number;
  createdAt: number;
  netnsPath: string;
  ip: string;
  cgroupParent: string;
  shareProcessNamespace: boolean;
  hostname: string;
  /** The pause process once it runs, and its start time (see process-identity.ts). */
  pid?: number;
  pidStart?: string;
}

interface ContainerMeta {
  id: string;
  sandboxId: string;
  pod: SandboxConfig['pod'];
  name: string;
  attempt: number;
  kind: 'init' | 'app';
  image: string;
  imageId: string;
  logPath: string;
  createdAt: number;
  startedAt?: number;
  stopSignal?: string;
  cgroupPath: string;
  /** Remembered once read: the cgroup (and its OOM counter) goes when the container is deleted. */
  oomKilled?: boolean;
  specHash?: string;
  terminationMessageHostPath?: string;
  /** The container's process once created, and its start time (see process-identity.ts). */
  pid?: number;
  pidStart?: string;
}

const nativeDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'native');
const defaultPause = join(nativeDir, 'pause');
const defaultStreamHelper = join(nativeDir, 'skiff-stream');

const newId = (): string => randomBytes(16).toString('hex');
/** Remembers a created process (pid and start time) in its meta file, so listings need no `runc list`. */
async function recordProcess(metaPath: string, meta: { pid?: number; pidStart?: string }, pid: number): Promise<void> {
  meta.pid = pid;
  const start = await processStartTime(pid);
  if (start) meta.pidStart = start;
  await writeAtomic(metaPath, JSON.stringify(meta));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Writes a file atomically (temp + rename), so a crash never leaves half a metadata file. */
async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/**
 * Containers on runc, each under a conmon monitor (runtime.md §9): a sandbox is a pause process in the
 * pod's pinned network namespace with its own IPC/UTS (and PID) namespaces; containers join them, each
 * on an overlay of its image. Everything the agent needs to find its containers again after a restart
 * is on disk — runc's state root, bundle metadata, conmon's exit files — and in runc annotations.
 */
export class RuncRuntime implements ContainerRuntime {
  readonly #o: RuncRuntimeOptions;
  readonly #runc: RuncCli;
  readonly #log: Logger;
  readonly #exitListeners: ((id: string) => void)[] = [];
  #watcher: FSWatcher | undefined;
  #pauseRootfs = '';

  constructor(o: RuncRuntimeOptions) {
    this.#o = o;
    this.#runc = new RuncCli(o.runcRoot, o.runc ?? 'runc');
    this.#log = (o.log ?? silentLogger).with({ component: 'runtime' });
  }

  get #sandboxes(): string { return join(this.#o.dataDir, 'sandboxes'); }
  get #containers(): string { return join(this.#o.dataDir, 'containers'); }
  get #exits(): string { return join(this.#o.dataDir, 'exits'); }
  get #sockets(): string { return join(this.#o.dataDir, 'sockets'); }

  /** Prepares directories and the pause rootfs, and starts watching exit files. */
  async init(): Promise<void> {
    await Promise.all([this.#sandboxes, this.#containers, this.#exits, this.#sockets, this.#o.runcRoot].map((d) => mkdir(d, { recursive: true })));
    this.#pauseRootfs = join(this.#o.dataDir, 'pause-rootfs');
    await mkdir(this.#pauseRootfs, { recursive: true });
    // runc creates mount points in the rootfs; making them now keeps the shared pause rootfs stable.
    await Promise.all(['proc', 'dev', 'sys', 'etc'].map((d) => mkdir(join(this.#pauseRootfs, d), { recursive: true })));
    const target = join(this.#pauseRootfs, 'pause');
    const source = this.#o.pauseBinary ?? defaultPause;
    const [src, dst] = await Promise.all([stat(source).catch(() => undefined), stat(target).catch(() => undefined)]);
    if (!src) throw new Error(`the pause binary ${source} is missing: run \`npm run build\` (it needs gcc and libc6-dev)`);
    if (!dst || dst.size !== src.size || dst.mtimeMs < src.mtimeMs) {
      await copyFile(source, `${target}.tmp`);
      await chmod(`${target}.tmp`, 0o755);
      await rename(`${target}.tmp`, target);
    }
    this.#watcher = watch(this.#exits, (_event, file) => {
      // conmon writes `<id>.<random>` first and renames it to `<id>`.
      if (!file || file.includes('.')) return;
      for (const l of this.#exitListeners) l(file.toString());
    });
  }

  async version(): Promise<{ name: string; version: string }> {
    return { name: 'runc', version: await this.#runc.version() };
  }

  onExit(fn: (id: string) => void): void {
    this.#exitListeners.push(fn);
  }

  async close(): Promise<void> {
    this.#watcher?.close();
  }

  // ---------------------------------------------------------------- sandboxes

  async runSandbox(cfg: SandboxConfig): Promise<SandboxStatus> {
    const bundle = join(this.#sandboxes, cfg.id);
    await mkdir(join(bundle, 'etc'), { recursive: true });
    const meta: SandboxMeta = {
      id: cfg.id, pod: cfg.pod, attempt: cfg.attempt, createdAt: Date.now(), netnsPath: cfg.netnsPath, ip: cfg.ip,
      cgroupParent: cfg.cgroupParent, shareProcessNamespace: cfg.shareProcessNamespace, hostname: cfg.hostname,
    };
    await Promise.all([
      writeAtomic(join(bundle, 'meta.json'), JSON.stringify(meta)),
      writeFile(join(bundle, 'etc', 'hosts'), etcHosts(cfg.ip, cfg.hostname)),
      writeFile(join(bundle, 'etc', 'hostname'), `${cfg.hostname}\n`),
      copyFile('/etc/resolv.conf', join(bundle, 'etc', 'resolv.conf')).catch(() => writeFile(join(bundle, 'etc', 'resolv.conf'), '')),
    ]);
    const annotations = {
      [annotation.kind]: 'sandbox', [annotation.sandboxId]: cfg.id, [annotation.podUid]: cfg.pod.uid,
      [annotation.podName]: cfg.pod.name, [annotation.podNamespace]: cfg.pod.namespace,
    };
    await writeAtomic(join(bundle, 'config.json'), JSON.stringify(sandboxSpec(cfg, this.#pauseRootfs, annotations)));
    try {
      const pid = await createMonitored({
        conmon: this.#o.conmon ?? 'conmon', runc: this.#o.runc ?? '/usr/sbin/runc', runcRoot: this.#o.runcRoot, id: cfg.id, bundle,
        exitDir: this.#exits, socketDir: this.#sockets, logPath: join(bundle, 'pause.log'),
      });
      await this.#runc.start(cfg.id);
      await recordProcess(join(bundle, 'meta.json'), meta, pid);
      return { ...this.#sandboxStatus(meta), state: 'ready', pid };
    } catch (e) {
      await this.removeSandbox(cfg.id).catch(() => {});
      throw new RuntimeError('CreatePodSandboxError', `failed to start the pod sandbox: ${(e as Error).message}`);
    }
  }

  #sandboxStatus(m: SandboxMeta): Omit<SandboxStatus, 'state'> {
    return { id: m.id, pod: m.pod, attempt: m.attempt, createdAt: m.createdAt, netnsPath: m.netnsPath, ip: m.ip, cgroupParent: m.cgroupParent, shareProcessNamespace: m.shareProcessNamespace };
  }

  async stopSandbox(id: string): Promise<void> {
    await this.#stop(id, 'SIGTERM', 2000);
  }

  async removeSandbox(id: string): Promise<void> {
    const bundle = join(this.#sandboxes, id);
    const meta = await readJson<SandboxMeta>(join(bundle, 'meta.json'));
    await this.#runc.kill(id, 'SIGKILL');
    await this.#runc.delete(id);
    await rm(join(this.#exits, id), { force: true });
    await rm(bundle, { recursive: true, force: true });
    // The pod's cgroup: every container of the pod is gone by now.
    if (meta) await removeCgroup(meta.cgroupParent);
  }

  /**
   * From the agent's own records, not `runc list`: the pid and start time each process had, and the
   * exit files conmon writes. Listing runs before and after every pod sync, and a Go program per listing
   * took seconds under load; this is a handful of file reads.
   */
  async listSandboxes(): Promise<readonly SandboxStatus[]> {
    const ids = await readdir(this.#sandboxes).catch(() => [] as string[]);
    const out = await Promise.all(ids.map(async (id): Promise<SandboxStatus | undefined> => {
      const meta = await readJson<SandboxMeta>(join(this.#sandboxes, id, 'meta.json'));
      if (!meta) return undefined;
      const pid = await this.#sandboxPid(meta);
      return { ...this.#sandboxStatus(meta), state: pid !== undefined ? 'ready' : 'notready', ...(pid !== undefined ? { pid } : {}) };
    }));
    return out.filter((s): s is SandboxStatus => s !== undefined);
  }

  // ---------------------------------------------------------------- containers

  async createContainer(cfg: ContainerConfig): Promise<void> {
    const sbMeta = await readJson<SandboxMeta>(join(this.#sandboxes, cfg.sandboxId, 'meta.json'));
    const pausePid = sbMeta ? await this.#sandboxPid(sbMeta) : undefined;
    if (!sbMeta || pausePid === undefined) throw new RuntimeError('CreateContainerError', `the pod sandbox ${cfg.sandboxId} is not running`);
    const bundle = join(this.#containers, cfg.id);
    await mkdir(bundle, { recursive: true });
    const cgroupPath = `${sbMeta.cgroupParent}/${cfg.id}`;
    const meta: ContainerMeta = {
      id: cfg.id, sandboxId: cfg.sandboxId, pod: sbMeta.pod, name: cfg.name, attempt: cfg.attempt, kind: cfg.kind,
      image: cfg.image, imageId: cfg.imageId, logPath: cfg.logPath, createdAt: Date.now(), cgroupPath,
      ...(cfg.stopSignal ? { stopSignal: cfg.stopSignal } : {}),
      ...(cfg.specHash ? { specHash: cfg.specHash } : {}),
      ...(cfg.terminationMessagePath ? { terminationMessageHostPath: cfg.terminationMessagePath.host } : {}),
    };
    try {
      await writeAtomic(join(bundle, 'meta.json'), JSON.stringify(meta));
      const rootfs = await mountOverlay(cfg.imageRootfs, bundle);
      const sbEtc = join(this.#sandboxes, cfg.sandboxId, 'etc');
      const bind = (source: string, destination: string, ro = false): { destination: string; type: string; source: string; options: string[] } =>
        ({ destination, type: 'bind', source, options: ['rbind', 'rprivate', ro ? 'ro' : 'rw'] });
      const extra = [bind(join(sbEtc, 'hosts'), '/etc/hosts'), bind(join(sbEtc, 'hostname'), '/etc/hostname'), bind(join(sbEtc, 'resolv.conf'), '/etc/resolv.conf')];
      if (cfg.terminationMessagePath) extra.push(bind(cfg.terminationMessagePath.host, cfg.terminationMessagePath.container));
      const annotations = {
        [annotation.kind]: 'container', [annotation.sandboxId]: cfg.sandboxId, [annotation.podUid]: sbMeta.pod.uid,
        [annotation.podName]: sbMeta.pod.name, [annotation.podNamespace]: sbMeta.pod.namespace, [annotation.containerName]: cfg.name,
        [annotation.restartCount]: String(cfg.attempt), [annotation.containerKind]: cfg.kind, [annotation.image]: cfg.image,
        [annotation.imageId]: cfg.imageId, [annotation.logPath]: cfg.logPath,
      };
      const spec = containerSpec(cfg, { pausePid, netnsPath: sbMeta.netnsPath, shareProcessNamespace: sbMeta.shareProcessNamespace, cgroupParent: sbMeta.cgroupParent }, rootfs, extra, annotations);
      await writeAtomic(join(bundle, 'config.json'), JSON.stringify(spec));
      await mkdir(dirname(cfg.logPath), { recursive: true });
      const pid = await createMonitored({
        conmon: this.#o.conmon ?? 'conmon', runc: this.#o.runc ?? '/usr/sbin/runc', runcRoot: this.#o.runcRoot, id: cfg.id, bundle,
        exitDir: this.#exits, socketDir: this.#sockets, logPath: cfg.logPath, stdin: cfg.stdin === true, stdinOnce: cfg.stdinOnce === true, tty: cfg.tty === true,
      });
      await recordProcess(join(bundle, 'meta.json'), meta, pid);
    } catch (e) {
      await this.removeContainer(cfg.id).catch(() => {});
      if (e instanceof RuntimeError) throw e;
      const msg = (e as Error).message.replace(/^time="[^"]*" level=\w+ msg="(.*)"\s*$/s, '$1').replace(/\\"/g, '"').trim();
      // runc execs the process at create: a missing binary is a start failure, as containerd reports it.
      throw new RuntimeError(/unable to start container process/.test(msg) ? 'StartError' : 'CreateContainerError', msg);
    }
  }

  async startContainer(id: string): Promise<void> {
    const metaPath = join(this.#containers, id, 'meta.json');
    const meta = await readJson<ContainerMeta>(metaPath);
    if (!meta) throw new RuntimeError('StartError', `container ${id} does not exist`);
    const startedAt = Date.now();
    try {
      await this.#runc.start(id);
    } catch (e) {
      throw new RuntimeError('StartError', (e as Error).message);
    }
    meta.startedAt = startedAt;
    await writeAtomic(metaPath, JSON.stringify(meta));
  }

  async stopContainer(id: string, graceMs: number): Promise<void> {
    const meta = await readJson<ContainerMeta>(join(this.#containers, id, 'meta.json'));
    await this.#stop(id, meta?.stopSignal ?? 'SIGTERM', graceMs);
  }

  /** The stop protocol (runtime.md §4.4): signal, wait the grace period, SIGKILL, wait for the exit. */
  async #stop(id: string, signal: string, graceMs: number): Promise<void> {
    if (await this.#exited(id)) return;
    await this.#runc.kill(id, signal);
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      if (await this.#exited(id)) return;
      await sleep(Math.min(50, Math.max(1, deadline - Date.now())));
    }
    await this.#runc.kill(id, 'SIGKILL');
    // Bounded: a container runc no longer knows is stopped (runtime.md pitfall 4).
    for (let i = 0; i < 200; i++) {
      if (await this.#exited(id)) return;
      await sleep(25);
    }
    this.#log.warn('container did not exit after SIGKILL', { id });
  }

  async #exited(id: string): Promise<boolean> {
    if (await stat(join(this.#exits, id)).then(() => true, () => false)) return true;
    const st = await this.#runc.state(id);
    return !st || st.status === 'stopped';
  }

  execStream(id: string, cmd: readonly string[], o: { stdin: boolean; tty?: boolean }): ExecProcess {
    if (o.tty) return this.#runc.spawnTtyExec(id, cmd, this.#o.streamHelper ?? defaultStreamHelper);
    return this.#runc.spawnExec(id, cmd, o.stdin);
  }

  attachStream(id: string, o: { stdin: boolean; tty: boolean }): ExecProcess {
    return attachToContainer(this.#o.streamHelper ?? defaultStreamHelper, join(this.#sockets, id, 'attach'), join(this.#containers, id, 'ctl'), o);
  }

  async portForward(sandboxId: string, port: number): Promise<PodConnection> {
    const meta = await readJson<SandboxMeta>(join(this.#sandboxes, sandboxId, 'meta.json'));
    if (!meta) throw new Error(`pod sandbox ${sandboxId} not found`);
    return dialInNetns(this.#o.streamHelper ?? defaultStreamHelper, meta.netnsPath, port);
  }

  async execSync(id: string, cmd: readonly string[], timeoutMs: number): Promise<{ exitCode: number; output: string }> {
    return this.#runc.exec(id, cmd, timeoutMs);
  }

  async removeContainer(id: string): Promise<void> {
    const bundle = join(this.#containers, id);
    await this.#runc.kill(id, 'SIGKILL');
    await this.#runc.delete(id);
    await unmountOverlay(bundle);
    await rm(join(this.#exits, id), { force: true });
    await rm(join(this.#sockets, id), { recursive: true, force: true });
    await rm(bundle, { recursive: true, force: true });
  }

  async listContainers(): Promise<readonly ContainerStatus[]> {
    const ids = await readdir(this.#containers).catch(() => [] as string[]);
    const out = await Promise.all(ids.map((id) => this.#containerStatus(id)));
    return out.filter((s): s is ContainerStatus => s !== undefined);
  }

  async reopenContainerLog(id: string): Promise<void> {
    const s = await this.#containerStatus(id);
    if (s?.state !== 'running') throw new Error(`container ${id} is not running`);
    await reopenLog(join(this.#containers, id), s.logPath);
  }

  async #containerStatus(id: string): Promise<ContainerStatus | undefined> {
    const metaPath = join(this.#containers, id, 'meta.json');
    const meta = await readJson<ContainerMeta>(metaPath);
    if (!meta) return undefined;
    const base = {
      id, sandboxId: meta.sandboxId, pod: meta.pod, name: meta.name, attempt: meta.attempt, kind: meta.kind, image: meta.image,
      imageId: meta.imageId, createdAt: meta.createdAt, logPath: meta.logPath, ...(meta.startedAt ? { startedAt: meta.startedAt } : {}),
      ...(meta.specHash ? { specHash: meta.specHash } : {}),
      ...(meta.terminationMessageHostPath ? { terminationMessageHostPath: meta.terminationMessageHostPath } : {}),
    };
    const exited = async (): Promise<ContainerStatus | undefined> => {
      const exitFile = join(this.#exits, id);
      const exit = await stat(exitFile).catch(() => undefined);
      if (!exit) return undefined;
      const code = Number((await readFile(exitFile, 'utf8').catch(() => '')).trim());
      if (meta.oomKilled === undefined) {
        const marker = await stat(join(this.#containers, id, 'oom')).then(() => true, () => false);
        meta.oomKilled = marker || (await oomKills(meta.cgroupPath)) > 0;
        await writeAtomic(metaPath, JSON.stringify(meta)).catch(() => {});
      }
      return { ...base, state: 'exited', exitCode: Number.isFinite(code) ? code : 255, finishedAt: exit.mtimeMs, ...(meta.oomKilled ? { reason: 'OOMKilled' } : {}) };
    };
    if (meta.pid === undefined || meta.pidStart === undefined) {
      // Recorded before pids were (or mid-create): ask runc.
      const done = await exited();
      if (done) return done;
      const st = await this.#runc.state(id);
      if (st?.status === 'running') return { ...base, state: 'running', pid: st.pid };
      if (st?.status === 'created' || st?.status === 'creating') return { ...base, state: 'created' };
      return { ...base, state: st ? 'exited' : 'unknown', ...(st ? { exitCode: 255, finishedAt: Date.now() } : {}) };
    }
    // The order matters: once the process is seen gone, conmon either still runs (and writes the exit
    // file before it ends) or has written it.
    const live = meta.startedAt ? { ...base, state: 'running' as const, pid: meta.pid } : { ...base, state: 'created' as const };
    if (await processAlive(meta.pid, meta.pidStart)) return live;
    const done = await exited();
    if (done) return done;
    if (await this.#monitorAlive(id)) return (await exited()) ?? live;
    // Gone with no exit file and no monitor (killed, or the machine rebooted): exit code 255, as
    // containerd reports such a container.
    return (await exited()) ?? { ...base, state: 'exited', exitCode: 255, finishedAt: Date.now() };
  }

  /**
   * The pause process's pid while the sandbox runs: conmon writes the sandbox's exit file when pause
   * ends, and the process must still be the one recorded (conmon itself may be gone).
   */
  async #sandboxPid(m: SandboxMeta): Promise<number | undefined> {
    if (m.pid === undefined || m.pidStart === undefined) {
      const st = await this.#runc.state(m.id);
      return st?.status === 'running' ? st.pid : undefined;
    }
    if (await stat(join(this.#exits, m.id)).then(() => true, () => false)) return undefined;
    return (await processAlive(m.pid, m.pidStart)) ? m.pid : undefined;
  }

  /** Whether the conmon of container `id` still runs (its pid file, and its command line naming `id`). */
  async #monitorAlive(id: string): Promise<boolean> {
    const pid = Number((await readFile(join(this.#containers, id, 'conmon.pid'), 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 0) return false;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    return cmdline.includes(id);
  }

  /** A fresh id for a sandbox or container. */
  static newId(): string {
    return newId();
  }
}

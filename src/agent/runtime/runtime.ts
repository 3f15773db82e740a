import type { Readable, Writable } from 'node:stream';
/**
 * The container runtime as the pod workers see it, shaped like the CRI: a pod sandbox (the namespaces a
 * pod's containers share, held by a pause process) and containers joined to it. Implementations: runc
 * (`runc/`, real containers) and a simulation for tests of the worker logic (`sim/`, named as such).
 */
import type { OciMount } from '../volumes/types.js';

/** Who a sandbox or container belongs to; also written into runc annotations so a restarted agent finds them. */
export interface PodIdentity {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
}

export interface SandboxConfig {
  /** Unique on the node (the pod uid and the attempt). */
  readonly id: string;
  readonly pod: PodIdentity;
  /** How many sandboxes this pod had before (0 for the first). */
  readonly attempt: number;
  readonly hostname: string;
  /** The pinned network namespace the pod network set up. */
  readonly netnsPath: string;
  readonly shareProcessNamespace: boolean;
  /** Absolute cgroup path every container of the pod goes under (e.g. `/skiff/burstable/pod<uid>`). */
  readonly cgroupParent: string;
  /** The pod's IP (for the status and the pod's /etc/hosts). */
  readonly ip: string;
}

export type SandboxState = 'ready' | 'notready';

export interface SandboxStatus {
  readonly id: string;
  readonly pod: PodIdentity;
  readonly attempt: number;
  readonly state: SandboxState;
  readonly createdAt: number;
  readonly netnsPath: string;
  readonly ip: string;
  readonly cgroupParent: string;
  readonly shareProcessNamespace: boolean;
  /** The pause process, while it runs. */
  readonly pid?: number;
}

/** Resource controls derived from the container's requests and limits. */
export interface ContainerResources {
  readonly cpuShares?: number;
  readonly cpuQuota?: number;
  readonly cpuPeriod?: number;
  readonly memoryLimitBytes?: number;
}

export interface ContainerSecurity {
  readonly privileged?: boolean;
  readonly capabilitiesAdd?: readonly string[];
  readonly capabilitiesDrop?: readonly string[];
  readonly readOnlyRootFilesystem?: boolean;
  readonly noNewPrivileges?: boolean;
}

export interface ContainerConfig {
  readonly id: string;
  readonly sandboxId: string;
  /** The container's name in the pod spec. */
  readonly name: string;
  /** Restart count: how many times this container ran before. */
  readonly attempt: number;
  /** `init` containers run to completion before `app` containers start. */
  readonly kind: 'init' | 'app';
  /** The image reference from the spec and the local image id it resolved to. */
  readonly image: string;
  readonly imageId: string;
  /** Read-only unpacked image root filesystem, the lower layer of the container's overlay. */
  readonly imageRootfs: string;
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly user: { readonly uid: number; readonly gid: number; readonly additionalGids?: readonly number[] };
  readonly mounts: readonly OciMount[];
  readonly resources: ContainerResources;
  readonly security: ContainerSecurity;
  /** Where stdout and stderr go, in CRI log format. */
  readonly logPath: string;
  /** Host path bound at the container's terminationMessagePath. */
  readonly terminationMessagePath?: { readonly host: string; readonly container: string };
  readonly stopSignal?: string;
  /** Hash of the container's spec: a running container whose spec changed is restarted. */
  readonly specHash?: string;
  /** Keep a stdin pipe open (the spec's `stdin: true`), for attach. */
  readonly stdin?: boolean;
  /** Close stdin once the first attach session ends (the spec's `stdinOnce`). */
  readonly stdinOnce?: boolean;
  /** Run the container's process on a terminal (the spec's `tty`). */
  readonly tty?: boolean;
}

export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';

export interface ContainerStatus {
  readonly id: string;
  readonly sandboxId: string;
  readonly pod: PodIdentity;
  readonly name: string;
  readonly attempt: number;
  readonly kind: 'init' | 'app';
  readonly image: string;
  readonly imageId: string;
  readonly state: ContainerState;
  readonly createdAt: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly exitCode?: number;
  /** `OOMKilled` when the kernel's OOM killer ended it; otherwise unset (the worker says Completed/Error). */
  readonly reason?: string;
  readonly logPath: string;
  readonly pid?: number;
  readonly specHash?: string;
  /** Host path of the termination message file, when there is one. */
  readonly terminationMessageHostPath?: string;
}

/** Thrown when a container cannot be created or started; `reason` is what its waiting state shows. */
export class RuntimeError extends Error {
  constructor(readonly reason: 'CreateContainerError' | 'RunContainerError' | 'StartError' | 'CreatePodSandboxError', message: string) {
    super(message);
    this.name = 'RuntimeError';
  }
}

/** A command running in a container, as `kubectl exec` drives it. */
export interface ExecProcess {
  readonly stdin: Writable | null;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Resolves with the exit code once the command has ended and its output is drained. */
  readonly exited: Promise<number>;
  kill(): void;
  /** Sets the size of the command's terminal (only sessions with a terminal have one). */
  resize?(width: number, height: number): void;
}

/** A TCP connection made inside a pod's network namespace (kubectl port-forward). */
export interface PodConnection {
  readonly toPod: Writable;
  readonly fromPod: Readable;
  /** Resolves once the connection is gone, whichever side ended it. */
  readonly closed: Promise<void>;
  close(): void;
}

export interface ContainerRuntime {
  /** e.g. `{ name: 'runc', version: '1.1.5' }` → Node's `containerRuntimeVersion: runc://1.1.5`. */
  version(): Promise<{ name: string; version: string }>;
  runSandbox(cfg: SandboxConfig): Promise<SandboxStatus>;
  /** Stops the pause process (the containers must be stopped first). */
  stopSandbox(id: string): Promise<void>;
  removeSandbox(id: string): Promise<void>;
  /** Creates (but does not start) a container in a ready sandbox. Throws RuntimeError. */
  createContainer(cfg: ContainerConfig): Promise<void>;
  /** Throws RuntimeError (`StartError` when the process could not be executed). */
  startContainer(id: string): Promise<void>;
  /** Signals the container (its stop signal, then SIGKILL after `graceMs`) and waits until it has exited. */
  stopContainer(id: string, graceMs: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
  /** Starts a command in a running container with its stdio as streams (kubectl exec). */
  execStream(id: string, cmd: readonly string[], o: { stdin: boolean; tty?: boolean }): ExecProcess;
  /** Joins the container's own stdio (kubectl attach): its output from now on, and its stdin when it keeps one. */
  attachStream(id: string, o: { stdin: boolean; tty: boolean }): ExecProcess;
  /** Connects to localhost:`port` inside a sandbox's network namespace; rejects with kubelet's reason when it cannot. */
  portForward(sandboxId: string, port: number): Promise<PodConnection>;
  /** Runs a command in a running container and waits for it (lifecycle hooks, exec probes). */
  execSync(id: string, cmd: readonly string[], timeoutMs: number): Promise<{ exitCode: number; output: string }>;
  listSandboxes(): Promise<readonly SandboxStatus[]>;
  listContainers(): Promise<readonly ContainerStatus[]>;
  /**
   * Has the container's log writer close its log file and create a new, empty one at the same path (CRI's
   * ReopenContainerLog): resolves once the new file exists. The caller has moved the old file away
   * first; lines written meanwhile are in the moved file. Throws when the container is not running.
   */
  reopenContainerLog(id: string): Promise<void>;
  /** Calls `fn` when a container exits (it may be called more than once for the same exit). */
  onExit(fn: (id: string) => void): void;
  close(): Promise<void>;
}

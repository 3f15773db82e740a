import type { Container, ContainerState, ContainerStatus as ApiContainerStatus, Pod, PodCondition, PodStatus } from 'kubernetes-types/core/v1.js';
import type { ContainerStatus } from './runtime/runtime.js';
import { rfc3339 } from '../util/time.js';

/** Why a container is not running, as the worker last found out (image pull, back-off, config errors). */
export interface Waiting {
  readonly reason: string;
  readonly message?: string;
}

/** A start that failed before the process ran (runc could not exec it): shown as a terminated instance. */
export interface StartFailure {
  readonly attempt: number;
  readonly message: string;
  readonly at: number;
}

/** Everything the status knows about one container name of the pod. */
export interface ContainerView {
  readonly spec: Container;
  /** The newest instance, and the one before it (for lastState). */
  readonly latest?: ContainerStatus;
  readonly previous?: ContainerStatus;
  readonly waiting?: Waiting;
  readonly startFailure?: StartFailure;
  readonly restartCount: number;
  readonly ready: boolean;
  readonly started: boolean;
  readonly terminationMessage?: string;
  /** The resolved image reference (`docker.io/library/nginx@sha256:…`) of the latest instance. */
  readonly imageID?: string;
}

export interface PodView {
  readonly pod: Pod;
  readonly sandboxReady: boolean;
  readonly podIP?: string;
  readonly hostIP: string;
  readonly init: readonly ContainerView[];
  readonly app: readonly ContainerView[];
  /** When this agent first took the pod on. */
  readonly startTime: number;
  readonly now: number;
}

const isSidecar = (c: Container): boolean => c.restartPolicy === 'Always';
const zeroTime = '1970-01-01T00:00:00Z';

function terminatedOf(s: ContainerStatus, message?: string): ContainerState {
  const reason = s.reason ?? (s.exitCode === 0 ? 'Completed' : 'Error');
  return {
    terminated: {
      exitCode: s.exitCode ?? 255, reason,
      startedAt: s.startedAt ? rfc3339(s.startedAt) : zeroTime,
      finishedAt: rfc3339(s.finishedAt ?? Date.now()),
      containerID: `runc://${s.id}`,
      ...(message ? { message } : {}),
    },
  };
}

function startFailureState(f: StartFailure): ContainerState {
  return { terminated: { exitCode: 128, reason: 'StartError', message: f.message, startedAt: zeroTime, finishedAt: rfc3339(f.at) } };
}

/** The container's current and last state, as kubelet's convertToAPIContainerStatuses shapes them. */
function apiContainerStatus(v: ContainerView, defaultWaiting: string): ApiContainerStatus {
  const l = v.latest;
  const failureIsNewer = v.startFailure !== undefined && (!l || v.startFailure.attempt > l.attempt);
  let state: ContainerState;
  let lastState: ContainerState = {};
  if (v.waiting) {
    state = { waiting: { reason: v.waiting.reason, ...(v.waiting.message ? { message: v.waiting.message } : {}) } };
    if (failureIsNewer) lastState = startFailureState(v.startFailure!);
    else if (l && (l.state === 'exited' || l.state === 'unknown')) lastState = terminatedOf(l, v.terminationMessage);
  } else if (failureIsNewer) {
    state = startFailureState(v.startFailure!);
    if (l && l.state === 'exited') lastState = terminatedOf(l);
  } else if (l?.state === 'running') {
    state = { running: { startedAt: rfc3339(l.startedAt ?? l.createdAt) } };
    if (v.previous) lastState = terminatedOf(v.previous);
  } else if (l?.state === 'exited' || l?.state === 'unknown') {
    state = terminatedOf(l, v.terminationMessage);
    if (v.previous) lastState = terminatedOf(v.previous);
  } else {
    state = { waiting: { reason: defaultWaiting } };
  }
  return {
    name: v.spec.name, image: v.spec.image ?? '', imageID: v.imageID ?? '',
    ...(l ? { containerID: `runc://${l.id}` } : {}),
    ready: v.ready, started: v.started, restartCount: v.restartCount,
    state, lastState,
  };
}

/** Upstream's getPhase, for the app containers (init containers only hold the pod in Pending). */
export function podPhase(pod: Pod, initDone: boolean, statuses: readonly ApiContainerStatus[]): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
  const policy = pod.spec?.restartPolicy ?? 'Always';
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const s of statuses) {
    if (s.state?.running) running++;
    else if (s.state?.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state?.waiting) {
      if (s.lastState?.terminated) stopped++;
      else waiting++;
    } else waiting++;
  }
  if (!initDone) return 'Pending';
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

function condition(type: string, ok: boolean, previous: readonly PodCondition[] | undefined, now: number, reason?: string, message?: string): PodCondition {
  const status = ok ? 'True' : 'False';
  const prev = previous?.find((c) => c.type === type);
  const since = prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : rfc3339(now);
  return { type, status, lastProbeTime: null as unknown as undefined, lastTransitionTime: since, ...(!ok && reason ? { reason } : {}), ...(!ok && message ? { message } : {}) };
}

/** The pod's status as this agent reports it (phase, conditions, IPs, container statuses). */
export function computePodStatus(v: PodView): PodStatus {
  const prevConds = v.pod.status?.conditions;
  const initStatuses = v.init.map((c) => apiContainerStatus(c, 'PodInitializing'));
  const regularInit = v.init.filter((c) => !isSidecar(c.spec));
  const initDone = regularInit.every((c) => c.latest?.state === 'exited' && c.latest.exitCode === 0 && !(c.startFailure && c.startFailure.attempt > c.latest.attempt))
    && v.init.filter((c) => isSidecar(c.spec)).every((c) => c.started);
  const appStatuses = v.app.map((c) => apiContainerStatus(c, initDone ? 'ContainerCreating' : 'PodInitializing'));
  // With restartPolicy Never a failed init container fails the pod: it will never be retried.
  const initFailed = (v.pod.spec?.restartPolicy ?? 'Always') === 'Never' && regularInit.some((c) =>
    (c.latest?.state === 'exited' && c.latest.exitCode !== 0) || (c.startFailure && (!c.latest || c.startFailure.attempt > c.latest.attempt)));
  const phase = initFailed ? 'Failed' : podPhase(v.pod, initDone, appStatuses);
  const notReady = v.app.filter((c) => !c.ready).map((c) => c.spec.name);
  const pendingInit = regularInit.filter((c) => !(c.latest?.state === 'exited' && c.latest.exitCode === 0)).map((c) => c.spec.name);
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  const containersReady = notReady.length === 0 && !terminal;
  const readyReason = terminal ? 'PodCompleted' : 'ContainersNotReady';
  const readyMessage = terminal ? undefined : `containers with unready status: [${notReady.join(' ')}]`;
  const conditions: PodCondition[] = [
    condition('PodReadyToStartContainers', v.sandboxReady, prevConds, v.now),
    condition('Initialized', initDone || pendingInit.length === 0, prevConds, v.now, terminal ? 'PodCompleted' : 'ContainersNotInitialized', terminal ? undefined : `containers with incomplete status: [${pendingInit.join(' ')}]`),
    condition('Ready', containersReady, prevConds, v.now, readyReason, readyMessage),
    condition('ContainersReady', containersReady, prevConds, v.now, readyReason, readyMessage),
  ];
  // PodScheduled (and any condition another component owns) is kept as it is, after ours, as kubectl shows them.
  for (const c of prevConds ?? []) if (!conditions.some((x) => x.type === c.type)) conditions.push(c);
  return {
    phase,
    conditions,
    hostIP: v.hostIP,
    hostIPs: [{ ip: v.hostIP }],
    ...(v.podIP ? { podIP: v.podIP, podIPs: [{ ip: v.podIP }] } : {}),
    startTime: v.pod.status?.startTime ?? rfc3339(v.startTime),
    ...(initStatuses.length > 0 ? { initContainerStatuses: initStatuses } : {}),
    containerStatuses: appStatuses,
    ...(v.pod.status?.qosClass ? { qosClass: v.pod.status.qosClass } : {}),
  };
}

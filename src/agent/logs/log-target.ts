import type { ContainerStatus as ApiContainerStatus, Pod } from 'kubernetes-types/core/v1.js';
import type { ContainerStatus } from '../runtime/runtime.js';

/** A container's log file, or why there is none to read (kubelet's words, and the HTTP code). */
export type LogTarget =
  | { readonly kind: 'file'; readonly path: string; readonly containerId: string }
  | { readonly kind: 'error'; readonly code: number; readonly message: string };

const fail = (code: number, message: string): LogTarget => ({ kind: 'error', code, message });

/**
 * Picks the container instance whose log `kubectl logs [--previous]` means, from the pod's reported
 * status, as kubelet's validateContainerLogStatus does, and finds its file among the runtime's
 * containers (the newest two instances of each are kept).
 */
export function logTarget(pod: Pod | undefined, podName: string, container: string, previous: boolean, runtime: readonly ContainerStatus[]): LogTarget {
  if (!pod) return fail(404, `pod "${podName}" cannot be found - no logs available`);
  const spec = pod.spec;
  const known = [...(spec?.containers ?? []), ...(spec?.initContainers ?? []), ...(spec?.ephemeralContainers ?? [])].some((c) => c.name === container);
  if (!known) return fail(400, `container ${container} is not valid for pod ${podName}`);
  const statuses: ApiContainerStatus[] = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.ephemeralContainerStatuses ?? [])];
  const st = statuses.find((s) => s.name === container);
  if (!st) return fail(400, `container "${container}" in pod "${podName}" is waiting to start: ContainerCreating`);
  const who = `container "${container}" in pod "${podName}"`;
  const last = st.lastState?.terminated;
  let id: string | undefined;
  if (previous) {
    if (!last?.containerID) return fail(400, `previous terminated ${who} not found`);
    id = last.containerID;
  } else if (st.state?.running) {
    id = st.containerID;
  } else if (st.state?.terminated) {
    id = st.state.terminated.containerID || last?.containerID;
    if (!id) return fail(400, `${who} is terminated`);
  } else if (last) {
    if (!last.containerID) return fail(400, `${who} is terminated`);
    id = last.containerID;
  } else if (st.state?.waiting) {
    const reason = st.state.waiting.reason ?? '';
    if (reason === 'ErrImagePull') return fail(400, `${who} is waiting to start: image can't be pulled`);
    if (reason === 'ImagePullBackOff') return fail(400, `${who} is waiting to start: trying and failing to pull image`);
    return fail(400, `${who} is waiting to start: ${reason}`);
  } else {
    return fail(400, `${who} is waiting to start - no logs yet`);
  }
  const runtimeId = (id ?? '').replace(/^[a-z]+:\/\//, '');
  const c = runtime.find((x) => x.id === runtimeId);
  if (!c) return fail(400, previous ? `previous terminated ${who} not found` : `${who} is waiting to start - no logs yet`);
  return { kind: 'file', path: c.logPath, containerId: c.id };
}

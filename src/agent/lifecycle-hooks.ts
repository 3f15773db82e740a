import type { Container, LifecycleHandler, Pod } from 'kubernetes-types/core/v1.js';
import type { ContainerRuntime } from './runtime/runtime.js';
import type { Clock } from '../util/clock.js';
import { endpointURL, httpGetStatus, resolvePort } from './pod-endpoints.js';

export interface HookContext {
  readonly runtime: ContainerRuntime;
  readonly clock: Clock;
  readonly pod: Pod;
  readonly container: Container;
  readonly containerId: string;
  readonly podIP: string | undefined;
  /** The hook may not run longer (for preStop: the grace period). */
  readonly timeoutMs: number;
}

/** `name_namespace(uid)`, as kubelet names a pod in its messages. */
export const podDescription = (pod: Pod): string => `${pod.metadata?.name}_${pod.metadata?.namespace}(${pod.metadata?.uid})`;

/**
 * Runs a postStart or preStop handler as kubelet's handler runner does. Resolves with undefined when it
 * succeeded, or with upstream's failure message (for the FailedPostStartHook / FailedPreStopHook event).
 */
export async function runLifecycleHandler(h: LifecycleHandler, ctx: HookContext): Promise<string | undefined> {
  const who = `for Container "${ctx.container.name}" in Pod "${podDescription(ctx.pod)}"`;
  if (h.exec) {
    const cmd = h.exec.command ?? [];
    const r = await ctx.runtime.execSync(ctx.containerId, cmd, ctx.timeoutMs);
    if (r.exitCode === 0) return undefined;
    return `Exec lifecycle hook ([${cmd.join(' ')}]) ${who} failed - error: command '${cmd.join(' ')}' exited with ${r.exitCode}: ${r.output.trim()}, message: "${r.output.trim()}"`;
  }
  if (h.httpGet) {
    const g = h.httpGet;
    const port = resolvePort(g.port, ctx.container);
    const host = g.host || ctx.podIP;
    const fail = (err: string): string => `HTTP lifecycle hook (${g.path ?? ''}) ${who} failed - error: ${err}`;
    if (port === undefined) return fail(`couldn't find port: ${String(g.port)} in ${ctx.container.name}`);
    if (!host) return fail('the pod has no IP');
    const headers = Object.fromEntries((g.httpHeaders ?? []).map((x) => [x.name, x.value]));
    try {
      const code = await httpGetStatus(endpointURL(g.scheme ?? 'HTTP', host, port, g.path), headers, 'kube-lifecycle/1.32', ctx.timeoutMs);
      return code >= 200 && code < 400 ? undefined : fail(`HTTP status code ${code}`);
    } catch (e) {
      return fail((e as Error).message);
    }
  }
  if (h.sleep) {
    const ms = Math.min(h.sleep.seconds * 1000, ctx.timeoutMs);
    await new Promise<void>((resolve) => ctx.clock.setTimeout(resolve, ms));
    return undefined;
  }
  if (h.tcpSocket) return undefined; // deprecated and never run by kubelet either
  return `lifecycle hook ${who} has no handler`;
}

import type { Container, Probe } from 'kubernetes-types/core/v1.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import { endpointURL, grpcHealthCheck, httpGetStatus, resolvePort, tcpDial } from '../pod-endpoints.js';

export interface ProbeTarget {
  readonly runtime: ContainerRuntime;
  readonly containerId: string;
  readonly container: Container;
  readonly podIP: string | undefined;
}

/** A probe's outcome: success, or failure with kubelet's words for the `Unhealthy` event. */
export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly message: string };

const failed = (message: string): ProbeResult => ({ ok: false, message });

/** Runs one probe attempt (exec, httpGet, tcpSocket, grpc) as kubelet's prober does, within `timeoutSeconds`. */
export async function runProbe(p: Probe, t: ProbeTarget): Promise<ProbeResult> {
  const timeoutMs = (p.timeoutSeconds ?? 1) * 1000;
  if (p.exec) {
    const cmd = p.exec.command ?? [];
    const r = await t.runtime.execSync(t.containerId, cmd, timeoutMs);
    if (r.exitCode === 0) return { ok: true };
    if (r.exitCode === 137 && /timed out/.test(r.output)) return failed(`command ${JSON.stringify(cmd.join(' '))} timed out`);
    return failed(r.output.trim());
  }
  if (p.httpGet) {
    const g = p.httpGet;
    const port = resolvePort(g.port, t.container);
    if (port === undefined) return failed(`couldn't find port: ${String(g.port)} in ${t.container.name}`);
    const host = g.host || t.podIP;
    if (!host) return failed('the pod has no IP yet');
    const url = endpointURL(g.scheme ?? 'HTTP', host, port, g.path);
    try {
      const code = await httpGetStatus(url, Object.fromEntries((g.httpHeaders ?? []).map((h) => [h.name, h.value])), 'kube-probe/1.32', timeoutMs);
      return code >= 200 && code < 400 ? { ok: true } : failed(`HTTP probe failed with statuscode: ${code}`);
    } catch (e) {
      return failed(`Get "${url.href}": ${(e as Error).message}`);
    }
  }
  if (p.tcpSocket) {
    const port = resolvePort(p.tcpSocket.port, t.container);
    if (port === undefined) return failed(`couldn't find port: ${String(p.tcpSocket.port)} in ${t.container.name}`);
    const host = p.tcpSocket.host || t.podIP;
    if (!host) return failed('the pod has no IP yet');
    try {
      await tcpDial(host, port, timeoutMs);
      return { ok: true };
    } catch (e) {
      return failed((e as Error).message);
    }
  }
  if (p.grpc) {
    const host = t.podIP;
    if (!host) return failed('the pod has no IP yet');
    try {
      const status = await grpcHealthCheck(host, p.grpc.port, p.grpc.service ?? '', timeoutMs);
      return status === 'SERVING' ? { ok: true } : failed(`service unhealthy (responded with "${status}")`);
    } catch (e) {
      return failed((e as Error).message);
    }
  }
  return failed('the probe has no handler');
}

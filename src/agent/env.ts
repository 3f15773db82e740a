import type { Container, EnvVar, Pod } from 'kubernetes-types/core/v1.js';
import type { VolumeSources } from './volumes/types.js';
import { expand, mappingFor } from './downward/expansion.js';
import { podFieldForEnv } from './downward/container-env.js';
import { findContainer, resourceFieldValue, type ResourceAmounts } from './downward/resource-field.js';

export { expand, mappingFor };

/** A container's configuration cannot be built (upstream's CreateContainerConfigError). */
export class ContainerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContainerConfigError';
  }
}

/** What env resolution needs to know beyond the pod object. */
export interface EnvContext {
  readonly podIP: string;
  readonly hostIP: string;
  readonly nodeName: string;
  /** Node allocatable in milli-units, the default for unset limits in resourceFieldRef. */
  readonly nodeAllocatable: ResourceAmounts;
  readonly sources: VolumeSources;
}

/**
 * The container's environment as kubelet builds it: envFrom first, then env (later entries win and may
 * refer to earlier ones with `$(VAR)`), with values from configMaps, secrets, the downward API and
 * resources. A missing referenced object or key fails the container unless marked optional.
 */
export async function resolveEnv(pod: Pod, container: Container, ctx: EnvContext): Promise<Map<string, string>> {
  const ns = pod.metadata?.namespace ?? 'default';
  const vars = new Map<string, string>();
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef) {
      const cm = await ctx.sources.configMap(ns, from.configMapRef.name ?? '');
      if (!cm) {
        if (from.configMapRef.optional) continue;
        throw new ContainerConfigError(`configmap "${from.configMapRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(cm.data ?? {})) vars.set(prefix + k, v);
    } else if (from.secretRef) {
      const s = await ctx.sources.secret(ns, from.secretRef.name ?? '');
      if (!s) {
        if (from.secretRef.optional) continue;
        throw new ContainerConfigError(`secret "${from.secretRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(s.data ?? {})) vars.set(prefix + k, Buffer.from(v, 'base64').toString('utf8'));
    }
  }
  for (const e of container.env ?? []) {
    const v = await envValue(pod, container, e, vars, ctx);
    if (v !== undefined) vars.set(e.name, v);
  }
  return vars;
}

async function envValue(pod: Pod, container: Container, e: EnvVar, vars: ReadonlyMap<string, string>, ctx: EnvContext): Promise<string | undefined> {
  const ns = pod.metadata?.namespace ?? 'default';
  const from = e.valueFrom;
  if (!from) return expand(e.value ?? '', mappingFor(vars));
  try {
    if (from.fieldRef) {
      // The IPs are this sync's, not the (maybe not yet reported) status's.
      const withIPs = { ...pod, status: { ...pod.status, podIP: ctx.podIP, podIPs: [{ ip: ctx.podIP }], hostIP: ctx.hostIP, hostIPs: [{ ip: ctx.hostIP }] } };
      return podFieldForEnv(withIPs, from.fieldRef.fieldPath, ctx.nodeName);
    }
    if (from.resourceFieldRef) {
      const target = from.resourceFieldRef.containerName ? findContainer(pod, from.resourceFieldRef.containerName) : container;
      return resourceFieldValue(from.resourceFieldRef, target, ctx.nodeAllocatable);
    }
  } catch (err) {
    throw new ContainerConfigError((err as Error).message);
  }
  if (from.configMapKeyRef) {
    const ref = from.configMapKeyRef;
    const cm = await ctx.sources.configMap(ns, ref.name ?? '');
    if (!cm) {
      if (ref.optional) return undefined;
      throw new ContainerConfigError(`configmap "${ref.name}" not found`);
    }
    const v = cm.data?.[ref.key];
    if (v === undefined) {
      if (ref.optional) return undefined;
      throw new ContainerConfigError(`couldn't find key ${ref.key} in ConfigMap ${ns}/${ref.name}`);
    }
    return v;
  }
  if (from.secretKeyRef) {
    const ref = from.secretKeyRef;
    const s = await ctx.sources.secret(ns, ref.name ?? '');
    if (!s) {
      if (ref.optional) return undefined;
      throw new ContainerConfigError(`secret "${ref.name}" not found`);
    }
    const v = s.data?.[ref.key];
    if (v === undefined) {
      if (ref.optional) return undefined;
      throw new ContainerConfigError(`couldn't find key ${ref.key} in Secret ${ns}/${ref.name}`);
    }
    return Buffer.from(v, 'base64').toString('utf8');
  }
  return '';
}

import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import { parseQuantity } from '../api/quantity.js';

/** Resource amounts in milli-units (cpu in millicores, memory and storage in milli-bytes), plus a pod count. */
export type ResourceList = Map<string, bigint>;

function add(into: ResourceList, name: string, v: bigint): void {
  into.set(name, (into.get(name) ?? 0n) + v);
}

function parse(q: string | number | undefined): bigint {
  if (q === undefined) return 0n;
  try { return parseQuantity(q); } catch { return 0n; }
}

/**
 * A container's requests; a resource it limits but does not request counts at its limit (as API defaulting
 * makes it). `nonMissing` fills in resources the container does not request at all (upstream's
 * NonMissingContainerRequests).
 */
function containerRequests(c: Container, nonMissing?: ReadonlyMap<string, bigint>): ResourceList {
  const out: ResourceList = new Map();
  for (const [k, v] of Object.entries(c.resources?.limits ?? {})) out.set(k, parse(v));
  for (const [k, v] of Object.entries(c.resources?.requests ?? {})) out.set(k, parse(v));
  if (nonMissing) for (const [k, v] of nonMissing) if (!out.has(k)) out.set(k, v);
  return out;
}

/**
 * What a pod asks of a node, as upstream's scheduler computes it: the sum over its containers (and
 * sidecar init containers, which keep running), the maximum with each regular init container's request
 * plus the sidecars started before it, plus the pod overhead.
 */
export function podRequests(pod: Pod): ResourceList {
  return aggregate(pod);
}

function aggregate(pod: Pod, nonMissing?: ReadonlyMap<string, bigint>): ResourceList {
  const total: ResourceList = new Map();
  for (const c of pod.spec?.containers ?? []) for (const [k, v] of containerRequests(c, nonMissing)) add(total, k, v);
  const sidecars: ResourceList = new Map();
  const initMax: ResourceList = new Map();
  for (const c of pod.spec?.initContainers ?? []) {
    const req = containerRequests(c, nonMissing);
    if (c.restartPolicy === 'Always') {
      for (const [k, v] of req) { add(sidecars, k, v); add(total, k, v); }
      continue;
    }
    for (const [k, v] of req) {
      const withSidecars = v + (sidecars.get(k) ?? 0n);
      if (withSidecars > (initMax.get(k) ?? 0n)) initMax.set(k, withSidecars);
    }
  }
  for (const [k, v] of initMax) if (v > (total.get(k) ?? 0n)) total.set(k, v);
  for (const [k, v] of Object.entries(pod.spec?.overhead ?? {})) add(total, k, parse(v));
  return total;
}

const scoringDefaults: ReadonlyMap<string, bigint> = new Map([['cpu', 100n], ['memory', 200n * 1024n * 1024n * 1000n]]);

/**
 * Requests used for scoring (upstream's NonZeroRequested): every container, init containers and sidecars
 * included, that requests no cpu or memory counts as 100m cpu and 200Mi memory, before the usual
 * aggregation and the overhead.
 */
export function podRequestsForScoring(pod: Pod): ResourceList {
  return aggregate(pod, scoringDefaults);
}

export function parseResourceList(list: Record<string, string | number> | undefined): ResourceList {
  const out: ResourceList = new Map();
  for (const [k, v] of Object.entries(list ?? {})) out.set(k, parse(v));
  return out;
}

import type { PodSpec } from 'kubernetes-types/core/v1.js';
import { parseQuantity } from './quantity.js';

export type QOSClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

const qosResources = new Set(['cpu', 'memory']);

/** A quantity's milli-units; an unparsable one counts as unset (validation reports it). */
function milli(q: string | number): bigint {
  try { return parseQuantity(q); } catch { return 0n; }
}

/**
 * The pod's quality-of-service class, as upstream computes it: BestEffort without any cpu/memory
 * request or limit; Guaranteed when every container limits both cpu and memory and requests equal
 * limits; Burstable otherwise. Requests missing beside a limit count as the limit, as pod defaulting
 * makes them, so the class is the same before and after defaulting.
 */
export function podQOSClass(spec: PodSpec): QOSClass {
  const requests = new Map<string, bigint>();
  const limits = new Map<string, bigint>();
  let guaranteed = true;
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    const limitList = c.resources?.limits ?? {};
    const requestList: Record<string, string | number> = { ...limitList, ...(c.resources?.requests ?? {}) };
    for (const [name, q] of Object.entries(requestList)) {
      if (!qosResources.has(name)) continue;
      const v = milli(q);
      if (v > 0n) requests.set(name, (requests.get(name) ?? 0n) + v);
    }
    const found = new Set<string>();
    for (const [name, q] of Object.entries(limitList)) {
      if (!qosResources.has(name)) continue;
      const v = milli(q);
      if (v > 0n) {
        found.add(name);
        limits.set(name, (limits.get(name) ?? 0n) + v);
      }
    }
    if (!found.has('cpu') || !found.has('memory')) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, req] of requests) {
      if (limits.get(name) !== req) { guaranteed = false; break; }
    }
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}

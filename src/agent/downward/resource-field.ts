import type { Container, Pod, ResourceFieldSelector } from 'kubernetes-types/core/v1.js';
import { parseQuantity } from '../../api/quantity.js';

/**
 * Container resources exposed through the downward API (`resourceFieldRef`), computed as upstream's
 * fieldpath.ExtractContainerResourceValue: the value divided by `divisor` (default "1"), rounded up.
 * CPU divides in milli-units, so `limits.cpu` 250m with divisor 1 is "1" and with divisor 1m is "250".
 */

/** Node resources in milli-units, keyed by resource name (`cpu`, `memory`, `ephemeral-storage`). */
export type ResourceAmounts = ReadonlyMap<string, bigint>;

const ceilDiv = (a: bigint, b: bigint): bigint => {
  if (b === 0n) throw new Error('division by zero');
  const q = a / b;
  return a % b !== 0n && (a > 0n) === (b > 0n) ? q + 1n : q;
};

// Quantity.Value(): whole units, rounded up.
const value = (milli: bigint): bigint => ceilDiv(milli, 1000n);

function amount(list: Readonly<Record<string, string>> | undefined, name: string): bigint {
  const q = list?.[name];
  return q === undefined ? 0n : parseQuantity(q);
}

/** The container named `name` among the pod's containers and init containers. */
export function findContainer(pod: Pod, name: string): Container {
  const c = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((x) => x.name === name);
  if (!c) throw new Error(`container ${name} not found`);
  return c;
}

/**
 * The rendered value of `selector` for `container`. Limits the container leaves unset (or zero) for
 * cpu, memory and ephemeral-storage read as the node's allocatable amount, because that is all the
 * container can get (upstream's MergeContainerResourceLimits).
 */
export function resourceFieldValue(selector: ResourceFieldSelector, container: Container, allocatable: ResourceAmounts): string {
  const divisorMilli = selector.divisor === undefined || parseQuantity(selector.divisor) === 0n ? 1000n : parseQuantity(selector.divisor);
  const limits = container.resources?.limits;
  const requests = container.resources?.requests;
  const limit = (name: string): bigint => {
    const v = amount(limits, name);
    return v === 0n ? (allocatable.get(name) ?? 0n) : v;
  };
  const [kind, ...rest] = selector.resource.split('.');
  const name = rest.join('.');
  let milli: bigint | undefined;
  if (kind === 'limits' && ['cpu', 'memory', 'ephemeral-storage'].includes(name)) milli = limit(name);
  else if (kind === 'requests' && ['cpu', 'memory', 'ephemeral-storage'].includes(name)) milli = amount(requests, name);
  else if (kind === 'limits' && name.startsWith('hugepages-')) milli = amount(limits, name);
  else if (kind === 'requests' && name.startsWith('hugepages-')) milli = amount(requests, name);
  if (milli === undefined) throw new Error(`Unsupported container resource : ${selector.resource}`);
  if (name === 'cpu') return String(ceilDiv(milli, divisorMilli));
  return String(ceilDiv(value(milli), value(divisorMilli)));
}

/** Resolves a `resourceFieldRef` of a pod-level consumer (a volume item names its container). */
export function podResourceFieldValue(pod: Pod, selector: ResourceFieldSelector, allocatable: ResourceAmounts): string {
  return resourceFieldValue(selector, findContainer(pod, selector.containerName ?? ''), allocatable);
}

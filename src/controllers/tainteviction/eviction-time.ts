import type { Taint, Toleration } from 'kubernetes-types/core/v1.js';
import { matchingTolerations } from '../../api/tolerations.js';

/** A NoExecute taint of a node and when it began to count. */
export interface TaintSince {
  readonly taint: Taint;
  /** Milliseconds since the epoch, see `taintStart`. */
  readonly since: number;
}

/** How much later than its (truncated) `timeAdded` a taint may arrive and still count as seen being added. */
const arrivalSlackMs = 2000;

/**
 * When a taint began to count: its `timeAdded`, which has one-second precision (truncated). A taint this
 * controller saw being added (first seen within the slack of `timeAdded`: truncation plus delivery)
 * counts from the moment it was seen, which is the more precise of the two; one that was already there
 * when the controller started (a restart, a new leader) keeps its age from `timeAdded`, so restarting
 * this controller neither resets nor shortens a pod's toleration of a taint that stays. (The node
 * lifecycle controller, as upstream's, takes its own taints off a node it sees for the first time and
 * puts them back, new, if the node is still unhealthy.)
 */
export function taintStart(timeAdded: string | undefined, firstSeen: number): number {
  const added = timeAdded ? Date.parse(timeAdded) : NaN;
  if (Number.isNaN(added)) return firstSeen;
  return added + arrivalSlackMs < firstSeen ? added : firstSeen;
}

/**
 * When a pod on a node with these NoExecute taints must be evicted (upstream's processPodOnNode, with
 * time measured from each taint's start): at once (`at` ≤ the earliest start) if some taint is not
 * tolerated; otherwise the earliest `start + tolerationSeconds` over the taints, each with the first
 * toleration that tolerates it (non-positive seconds mean at once); undefined when every toleration
 * used has no `tolerationSeconds` (tolerated forever) or there are no taints.
 */
export function evictionTime(taints: readonly TaintSince[], tolerations: readonly Toleration[] | undefined): number | undefined {
  if (taints.length === 0) return undefined;
  let at: number | undefined;
  for (const t of taints) {
    const { allTolerated, used } = matchingTolerations([t.taint], tolerations);
    if (!allTolerated) return Math.min(...taints.map((x) => x.since));
    const seconds = used[0]!.tolerationSeconds;
    if (seconds === undefined || seconds === null) continue;
    const due = t.since + Math.max(0, seconds) * 1000;
    at = at === undefined ? due : Math.min(at, due);
  }
  return at;
}

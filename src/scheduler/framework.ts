import type { Pod } from 'kubernetes-types/core/v1.js';
import type { ClusterTotals, NodeInfo, PodInfo } from './node-info.js';

/**
 * The outcome of a filter, as upstream's framework.Status: `Unschedulable` means preemption could help,
 * `UnschedulableAndUnresolvable` that it could not. `reasons` are the constants users read in
 * FailedScheduling events; `detail` says by how much (for `skiff explain-pending`).
 */
export type Code = 'Success' | 'Unschedulable' | 'UnschedulableAndUnresolvable';

export interface Status {
  readonly code: Code;
  readonly reasons: readonly string[];
  readonly detail?: readonly string[];
  readonly plugin?: string;
}

export const success: Status = { code: 'Success', reasons: [] };

export function unschedulable(reason: string, detail?: string, unresolvable = false): Status {
  return { code: unresolvable ? 'UnschedulableAndUnresolvable' : 'Unschedulable', reasons: [reason], ...(detail ? { detail: [detail] } : {}) };
}

/** Everything one scheduling attempt knows: the pod and per-plugin state computed once in PreFilter/PreScore. */
export class CycleState {
  readonly data = new Map<string, unknown>();
  constructor(
    readonly pod: PodInfo,
    readonly nodes: readonly NodeInfo[],
    readonly allPods: () => Iterable<PodInfo>,
    /** Pods with exactly these labels (`labelsKey`) per node name: the index behind default spreading. */
    readonly sameLabels: (labelsKey: string) => ReadonlyMap<string, number> | undefined = () => undefined,
    /** Cluster-wide counts, when the snapshot keeps them; plugins then skip scans that would find nothing. */
    readonly totals?: ClusterTotals,
  ) {}
  read<T>(key: string): T | undefined { return this.data.get(key) as T | undefined; }
  write(key: string, v: unknown): void { this.data.set(key, v); }
}

/** A filter or score plugin: small objects implementing one or two extension points. */
export interface Plugin {
  readonly name: string;
  /** Computes per-pod state once; a status other than Success rejects the pod on every node. */
  preFilter?(state: CycleState, pod: Pod): Status | undefined;
  filter?(state: CycleState, pod: Pod, node: NodeInfo): Status;
  preScore?(state: CycleState, pod: Pod, nodes: readonly NodeInfo[]): void;
  /** Raw score; `normalize` maps all raw scores to 0..100. */
  score?(state: CycleState, pod: Pod, node: NodeInfo): number;
  normalize?(scores: number[]): void;
  /** Weight of this plugin's normalized score (upstream's defaults). */
  readonly weight?: number;
}

export const maxNodeScore = 100;

/** Scales scores to 0..100 by the largest; with `reverse`, the smallest raw score gets 100. */
export function normalizeByMax(scores: number[], reverse = false): void {
  let max = 0;
  for (const s of scores) if (s > max) max = s;
  for (let i = 0; i < scores.length; i++) {
    if (max === 0) scores[i] = reverse ? maxNodeScore : 0;
    else {
      const n = Math.floor((scores[i]! * maxNodeScore) / max);
      scores[i] = reverse ? maxNodeScore - n : n;
    }
  }
}

/** A canonical key of a label set (sorted `k=v` pairs). */
export function labelsKey(labels: Record<string, string> | undefined): string {
  return Object.keys(labels ?? {}).sort().map((k) => `${k}=${labels![k]}`).join(',');
}

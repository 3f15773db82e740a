import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';

export const annotations = {
  revision: 'deployment.kubernetes.io/revision',
  revisionHistory: 'deployment.kubernetes.io/revision-history',
  desiredReplicas: 'deployment.kubernetes.io/desired-replicas',
  maxReplicas: 'deployment.kubernetes.io/max-replicas',
  changeCause: 'kubernetes.io/change-cause',
  lastApplied: 'kubectl.kubernetes.io/last-applied-configuration',
  rollbackTo: 'deprecated.deployment.rollback.to',
} as const;

/** Deployment annotations that are the controller's own bookkeeping, never copied to ReplicaSets. */
const notCopied = new Set<string>([annotations.lastApplied, annotations.revision, annotations.revisionHistory, annotations.desiredReplicas, annotations.maxReplicas, annotations.rollbackTo]);

/** Longest revision-history annotation kept (upstream's default). */
const maxRevisionHistoryChars = 2000;

export function revisionOf(rs: ReplicaSet | undefined): number {
  const v = rs?.metadata?.annotations?.[annotations.revision];
  const n = v === undefined ? 0 : Number(v);
  return Number.isInteger(n) ? n : 0;
}

export function maxRevision(rss: readonly ReplicaSet[]): number {
  return rss.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
}

type Annotated = { metadata?: { annotations?: Record<string, string> } };

function annotationsOf(o: Annotated): Record<string, string> {
  const meta = (o.metadata ??= {});
  return (meta.annotations ??= {});
}

/** Copies the deployment's user annotations (change-cause among them) onto the ReplicaSet; true when something changed. */
export function copyDeploymentAnnotations(d: Deployment, rs: ReplicaSet): boolean {
  let changed = false;
  const target = annotationsOf(rs as Annotated);
  for (const [k, v] of Object.entries(d.metadata?.annotations ?? {})) {
    if (notCopied.has(k) || target[k] === v) continue;
    target[k] = v;
    changed = true;
  }
  return changed;
}

/** desired-replicas and max-replicas annotations; true when they changed. */
export function setReplicasAnnotations(rs: ReplicaSet, desired: number, max: number): boolean {
  const a = annotationsOf(rs as Annotated);
  let changed = false;
  if (a[annotations.desiredReplicas] !== String(desired)) { a[annotations.desiredReplicas] = String(desired); changed = true; }
  if (a[annotations.maxReplicas] !== String(max)) { a[annotations.maxReplicas] = String(max); changed = true; }
  return changed;
}

export function replicasAnnotationsNeedUpdate(rs: ReplicaSet, desired: number, max: number): boolean {
  const a = rs.metadata?.annotations ?? {};
  return a[annotations.desiredReplicas] !== String(desired) || a[annotations.maxReplicas] !== String(max);
}

/**
 * Annotations of the new ReplicaSet (upstream's SetNewReplicaSetAnnotations): copied user annotations;
 * the new revision when it is higher — a ReplicaSet brought back by `rollout undo` keeps its earlier
 * revisions in `revision-history`; replica annotations for one about to be created.
 */
export function setNewReplicaSetAnnotations(d: Deployment, rs: ReplicaSet, newRevision: number, exists: boolean, maxSurge: number): boolean {
  let changed = copyDeploymentAnnotations(d, rs);
  const a = annotationsOf(rs as Annotated);
  const old = a[annotations.revision];
  const oldN = old === undefined ? 0 : Number(old);
  if (oldN < newRevision) {
    a[annotations.revision] = String(newRevision);
    changed = true;
    if (old !== undefined && old !== '') {
      const history = a[annotations.revisionHistory];
      const next = history ? `${history},${old}` : old;
      // Oldest revisions fall off when the history grows too long.
      let trimmed = next;
      while (trimmed.length > maxRevisionHistoryChars && trimmed.includes(',')) trimmed = trimmed.slice(trimmed.indexOf(',') + 1);
      a[annotations.revisionHistory] = trimmed;
    }
  }
  const desired = d.spec?.replicas ?? 1;
  if (!exists && setReplicasAnnotations(rs, desired, desired + maxSurge)) changed = true;
  return changed;
}

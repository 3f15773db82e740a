import type { Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, Taint, Toleration } from 'kubernetes-types/core/v1.js';
import { toleratesTaint } from '../../api/tolerations.js';

/** A label's value, only if the node or pod really has that label (never an inherited property like `constructor`). */
export function labelValue(labels: Record<string, string> | undefined, key: string): string | undefined {
  return labels && Object.hasOwn(labels, key) ? labels[key] : undefined;
}

/** Does the toleration tolerate the taint (upstream's ToleratesTaint)? */
export const tolerates: (t: Toleration, taint: Taint) => boolean = toleratesTaint;

export function toleratedBy(taint: Taint, tolerations: readonly Toleration[] | undefined): boolean {
  return (tolerations ?? []).some((t) => tolerates(t, taint));
}

function requirementMatches(r: NodeSelectorRequirement, value: string | undefined, has: boolean): boolean {
  switch (r.operator) {
    case 'In': return has && (r.values ?? []).includes(value!);
    case 'NotIn': return !has || !(r.values ?? []).includes(value!);
    case 'Exists': return has;
    case 'DoesNotExist': return !has;
    case 'Gt': case 'Lt': {
      if (!has || !/^-?\d+$/.test(value!) || (r.values ?? []).length !== 1 || !/^-?\d+$/.test(r.values![0]!)) return false;
      const a = BigInt(value!);
      const b = BigInt(r.values![0]!);
      return r.operator === 'Gt' ? a > b : a < b;
    }
    default: return false;
  }
}

/** A node selector term: all its expressions (labels) and field expressions (metadata.name) hold; an empty term matches nothing. */
export function termMatches(term: NodeSelectorTerm, node: Node): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  const labels = node.metadata?.labels ?? {};
  for (const r of exprs) if (!requirementMatches(r, labels[r.key], Object.hasOwn(labels, r.key))) return false;
  for (const r of fields) {
    if (r.key !== 'metadata.name') return false;
    if (!requirementMatches(r, node.metadata?.name, true)) return false;
  }
  return true;
}

/** The pod's nodeSelector and required node affinity (upstream's RequiredNodeAffinity). */
export function matchesRequiredNodeAffinity(pod: Pod, node: Node): boolean {
  const labels = node.metadata?.labels ?? {};
  const selector = pod.spec?.nodeSelector;
  if (selector) for (const k in selector) if (labels[k] !== selector[k]) return false;
  const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required) return true;
  return (required.nodeSelectorTerms ?? []).some((t) => termMatches(t, node));
}

import type { PodSpec, Taint, Toleration } from 'kubernetes-types/core/v1.js';

/** The taint the node lifecycle controller puts on a node whose agent reports Ready=False. */
export const taintNodeNotReady = 'node.kubernetes.io/not-ready';
/** The taint the node lifecycle controller puts on a node that stopped heartbeating (Ready=Unknown). */
export const taintNodeUnreachable = 'node.kubernetes.io/unreachable';

/** Does the toleration tolerate the taint (upstream's `Toleration.ToleratesTaint`)? */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  // An empty key means "every key", which only the Exists operator may say.
  if (!t.key && t.operator !== 'Exists') return false;
  switch (t.operator ?? 'Equal') {
    case 'Exists': return true;
    case 'Equal': return (t.value ?? '') === (taint.value ?? '');
    default: return false;
  }
}

/**
 * Upstream's `GetMatchingTolerations`: for each taint, the first toleration that tolerates it. When
 * some taint is tolerated by none, `allTolerated` is false (and `used` empty).
 */
export function matchingTolerations(taints: readonly Taint[], tolerations: readonly Toleration[] | undefined): { allTolerated: boolean; used: Toleration[] } {
  const used: Toleration[] = [];
  for (const taint of taints) {
    const t = (tolerations ?? []).find((x) => toleratesTaint(x, taint));
    if (!t) return { allTolerated: false, used: [] };
    used.push(t);
  }
  return { allTolerated: true, used };
}

/** The tolerationSeconds every pod gets for the not-ready and unreachable NoExecute taints (kube-apiserver's default). */
export const defaultTolerationSeconds = 300;

/**
 * The DefaultTolerationSeconds admission plugin: a pod that does not already tolerate
 * `node.kubernetes.io/not-ready:NoExecute` (or `unreachable`) gets a toleration for it with
 * `tolerationSeconds` 300, so its pods leave a lost node after five minutes. As upstream, a toleration
 * counts when its key is that taint's or empty, and its effect is NoExecute or empty — whatever its
 * operator, value or seconds. Runs on create and on update of the pod itself (not its subresources).
 */
export function addDefaultTolerations(spec: PodSpec, seconds = defaultTolerationSeconds): void {
  const covers = (key: string): boolean =>
    (spec.tolerations ?? []).some((t) => (t.key === key || !t.key) && (t.effect === 'NoExecute' || !t.effect));
  for (const key of [taintNodeNotReady, taintNodeUnreachable]) {
    if (!covers(key)) (spec.tolerations ??= []).push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: seconds });
  }
}

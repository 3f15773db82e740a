import type { Toleration } from 'kubernetes-types/core/v1.js';
import type { Plugin } from '../framework.js';
import { normalizeByMax, success, unschedulable } from '../framework.js';
import { toleratedBy } from './helpers.js';

/**
 * NoSchedule and NoExecute taints the pod does not tolerate keep it off a node; untolerated
 * PreferNoSchedule taints lower the node's score.
 */
const key = 'TaintToleration';

export const taintToleration: Plugin = {
  name: 'TaintToleration',
  weight: 3,
  filter(_s, pod, node) {
    for (const t of node.taints) {
      if (t.effect !== 'NoSchedule' && t.effect !== 'NoExecute') continue;
      if (toleratedBy(t, pod.spec?.tolerations)) continue;
      return unschedulable(`node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`, `${node.name} has taint ${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}, not tolerated`, true);
    }
    return success;
  },
  score(state, pod, node) {
    if (node.taints.length === 0) return 0;
    let preferring = state.read<Toleration[]>(key);
    if (!preferring) {
      preferring = (pod.spec?.tolerations ?? []).filter((t) => !t.effect || t.effect === 'PreferNoSchedule');
      state.write(key, preferring);
    }
    let n = 0;
    for (const t of node.taints) if (t.effect === 'PreferNoSchedule' && !toleratedBy(t, preferring)) n++;
    return n;
  },
  normalize(scores) { normalizeByMax(scores, true); },
};

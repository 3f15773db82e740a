import type { Plugin } from '../framework.js';
import { normalizeByMax, success, unschedulable } from '../framework.js';
import { matchesRequiredNodeAffinity, termMatches } from './helpers.js';

/** nodeSelector and required node affinity as a filter; preferred node affinity as a score. */
export const nodeAffinity: Plugin = {
  name: 'NodeAffinity',
  weight: 2,
  filter(_s, pod, node) {
    if (matchesRequiredNodeAffinity(pod, node.node)) return success;
    const sel = Object.entries(pod.spec?.nodeSelector ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
    return unschedulable("node(s) didn't match Pod's node affinity/selector", `${node.name} labels do not match ${sel ? `nodeSelector ${sel}` : 'the required node affinity'}`, true);
  },
  score(_s, pod, node) {
    const preferred = pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution;
    if (!preferred || preferred.length === 0) return 0;
    let total = 0;
    for (const p of preferred) {
      if (p.weight && termMatches(p.preference, node.node)) total += p.weight;
    }
    return total;
  },
  normalize(scores) { normalizeByMax(scores); },
};

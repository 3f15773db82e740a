import type { Plugin } from '../framework.js';
import { success, unschedulable } from '../framework.js';

/** A pod that names its node fits only there. */
export const nodeName: Plugin = {
  name: 'NodeName',
  filter(_s, pod, node) {
    const want = pod.spec?.nodeName;
    if (!want || want === node.name) return success;
    return unschedulable("node(s) didn't match the requested node name", `the pod asks for node ${want}`, true);
  },
};

import type { Plugin } from '../framework.js';
import { success, unschedulable } from '../framework.js';
import { toleratedBy } from './helpers.js';

/** Cordoned nodes (`spec.unschedulable`) take only pods that tolerate `node.kubernetes.io/unschedulable`. */
export const nodeUnschedulable: Plugin = {
  name: 'NodeUnschedulable',
  filter(_s, pod, node) {
    if (!node.node.spec?.unschedulable) return success;
    if (toleratedBy({ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }, pod.spec?.tolerations)) return success;
    return unschedulable('node(s) were unschedulable', `${node.name} is cordoned (spec.unschedulable)`, true);
  },
};

import type { Plugin } from '../framework.js';
import { success, unschedulable } from '../framework.js';

/** Host ports the pod asks for must be free on the node (same protocol and port, overlapping address). */
export const nodePorts: Plugin = {
  name: 'NodePorts',
  filter(state, _pod, node) {
    for (const hp of state.pod.hostPorts) {
      for (const used of node.usedPorts.keys()) {
        const [proto, ip, port] = used.split('/');
        if (proto !== hp.protocol || Number(port) !== hp.port) continue;
        if (ip === hp.ip || ip === '0.0.0.0' || hp.ip === '0.0.0.0') {
          return unschedulable("node(s) didn't have free ports for the requested pod ports", `${node.name}: host port ${hp.port}/${hp.protocol} is in use`);
        }
      }
    }
    return success;
  },
};

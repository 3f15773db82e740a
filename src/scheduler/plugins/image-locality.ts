import type { Container } from 'kubernetes-types/core/v1.js';
import type { Plugin } from '../framework.js';
import { maxNodeScore } from '../framework.js';

const mb = 1024 * 1024;
const minThreshold = 23 * mb;
const maxContainerThreshold = 1000 * mb;
const key = 'ImageLocality';

function normalizedImage(name: string): string {
  return /:[^/]+$/.test(name) || name.includes('@') ? name : `${name}:latest`;
}

/** The names a node may list the image under: as written, with `:latest`, and with Docker Hub's prefix. */
function candidates(image: string): string[] {
  return [image, normalizedImage(image), `docker.io/library/${normalizedImage(image)}`];
}

interface Pre {
  totalNodes: number;
  nodesWith: Map<string, number>;
  containers: readonly Container[];
  /** The score of a node that holds none of the images (most nodes, often). */
  scoreWithNone: number;
}

/**
 * Prefer nodes that already hold the pod's images, as upstream's ImageLocality: each image present counts
 * its size scaled by the share of nodes that have it (so a popular image does not pull every pod to the
 * same few nodes), init containers included; the sum is clamped between 23 MiB and 1000 MiB per container.
 */
export const imageLocality: Plugin = {
  name: key,
  weight: 1,
  preScore(state, pod) {
    // How many nodes hold each name the pod's images may be listed under (upstream's ImageStateSummary.NumNodes).
    const nodesWith = new Map<string, number>();
    for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) for (const n of candidates(c.image ?? '')) nodesWith.set(n, 0);
    const known = state.totals?.nodesWithImage;
    if (known) for (const name of nodesWith.keys()) nodesWith.set(name, known.get(name) ?? 0);
    else {
      for (const node of state.nodes) {
        if (node.images.size === 0) continue;
        for (const [name, count] of nodesWith) if (node.images.has(name)) nodesWith.set(name, count + 1);
      }
    }
    const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    state.write(key, { totalNodes: state.nodes.length, nodesWith, containers, scoreWithNone: scaled(0, containers.length) } satisfies Pre);
  },
  score(state, pod, node) {
    const pre = state.read<Pre>(key);
    const containers = pre?.containers ?? [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    if (node.images.size === 0) return pre?.scoreWithNone ?? scaled(0, containers.length);
    let sum = 0;
    for (const c of containers) {
      const name = candidates(c.image ?? '').find((n) => node.images.has(n));
      if (name === undefined) continue;
      const spread = pre && pre.totalNodes > 0 ? (pre.nodesWith.get(name) ?? 1) / pre.totalNodes : 1;
      sum += Math.trunc(node.images.get(name)! * spread);
    }
    return scaled(sum, containers.length);
  },
};

/** The summed image sizes, clamped to 23 MiB .. 1000 MiB per container, as a 0..100 score. */
function scaled(sum: number, containers: number): number {
  const maxThreshold = maxContainerThreshold * Math.max(1, containers);
  const clamped = Math.min(Math.max(sum, minThreshold), maxThreshold);
  return Math.floor((maxNodeScore * (clamped - minThreshold)) / (maxThreshold - minThreshold));
}

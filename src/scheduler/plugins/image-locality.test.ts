// Upstream's image_locality_test.go, table-driven: image sizes scaled by how many nodes hold the image,
// clamped between 23 MiB and 1000 MiB per container, init containers included.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { cluster, makeNode, makePod, runScore } from '../testing.js';
import { imageLocality } from './image-locality.js';

const mb = 1024 * 1024;

describe('ImageLocality score', () => {
  const withImages = (name: string, images: [number, string][]): Node => {
    const b = makeNode(name);
    for (const [size, n] of images) b.image(size * mb, n);
    return b.obj();
  };
  const cases: { name: string; pod: Pod; nodes: Node[]; want: number[] }[] = [
    {
      // n1: 40 MiB × 2/2 + 300 MiB × 1/2 = 190 MiB → 100 × (190-23) / (2000-23) = 8; n2: 40 MiB → 0
      name: 'two images; the one only n1 has counts half, spread over two nodes',
      pod: makePod('p').container(undefined, undefined, 'gcr.io/40').container(undefined, undefined, 'gcr.io/300').obj(),
      nodes: [withImages('n1', [[40, 'gcr.io/40:latest'], [300, 'gcr.io/300:latest']]), withImages('n2', [[40, 'gcr.io/40:latest']])],
      want: [8, 0],
    },
    {
      // 250 MiB on one node of one: 100 × (250-23) / (1000-23) = 23
      name: 'an image on the only node counts in full',
      pod: makePod('p').container(undefined, undefined, 'gcr.io/250:v1').obj(),
      nodes: [withImages('n1', [[250, 'gcr.io/250:v1']])],
      want: [23],
    },
    {
      name: 'images below the 23 MiB threshold score 0, above 1000 MiB the maximum',
      pod: makePod('p').container(undefined, undefined, 'small').obj(),
      nodes: [withImages('n1', [[10, 'small:latest']]), withImages('n2', [[3000, 'small:latest']])],
      want: [0, 100],
    },
    {
      // 500 MiB init image + nothing for the container, two containers: 100 × (500-23) / (2000-23) = 24
      name: 'init containers count, and widen the threshold',
      pod: makePod('p').initContainer(undefined, { image: 'init:1' }).container(undefined, undefined, 'app:1').obj(),
      nodes: [withImages('n1', [[500, 'init:1']])],
      want: [24],
    },
    {
      name: 'a node listing the image with Docker Hub\'s prefix',
      pod: makePod('p').container(undefined, undefined, 'nginx').obj(),
      nodes: [withImages('n1', [[250, 'docker.io/library/nginx:latest']]), withImages('n2', [])],
      // 250 × 1/2 = 125 MiB → 100 × 102 / 977 = 10
      want: [10, 0],
    },
    { name: 'no images anywhere', pod: makePod('p').obj(), nodes: [makeNode('n1').obj()], want: [0] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual([...runScore(imageLocality, c.pod, cluster(c.nodes)).normalized.values()], c.want));
  }
});

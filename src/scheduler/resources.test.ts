// podRequests and podRequestsForScoring against upstream's resourcehelper.PodRequests (with and without
// NonMissingContainerRequests): containers summed, init containers as a maximum, sidecars, overhead,
// limits-only containers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { parseResourceList, podRequests, podRequestsForScoring } from './resources.js';
import { makePod } from './testing.js';

const Mi = 2n ** 20n * 1000n;
const Gi = 2n ** 30n * 1000n;

/** The map as plain numbers for comparison: cpu in millicores, memory in milli-bytes. */
const plain = (m: Map<string, bigint>): Record<string, bigint> => Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)));

describe('podRequests', () => {
  const cases: { name: string; pod: Pod; want: Record<string, bigint> }[] = [
    { name: 'no requests', pod: makePod('p').obj(), want: {} },
    { name: 'one container', pod: makePod('p').container({ cpu: '500m', memory: '1Gi' }).obj(), want: { cpu: 500n, memory: Gi } },
    { name: 'containers add up', pod: makePod('p').container({ cpu: '1', memory: '1Gi' }).container({ cpu: '250m', memory: '512Mi' }).obj(), want: { cpu: 1250n, memory: Gi + 512n * Mi } },
    { name: 'a limits-only container requests its limits (API defaulting)', pod: makePod('p').container(undefined, { cpu: '2', memory: '1Gi' }).obj(), want: { cpu: 2000n, memory: Gi } },
    { name: 'requests win over limits', pod: makePod('p').container({ cpu: '1' }, { cpu: '2', memory: '1Gi' }).obj(), want: { cpu: 1000n, memory: Gi } },
    { name: 'a larger init container sets the amount', pod: makePod('p').container({ cpu: '1' }).initContainer({ cpu: '3' }).obj(), want: { cpu: 3000n } },
    { name: 'init containers run one after another: the maximum, not the sum', pod: makePod('p').container({ cpu: '1' }).initContainer({ cpu: '2' }).initContainer({ cpu: '2' }).obj(), want: { cpu: 2000n } },
    { name: 'per resource maximum', pod: makePod('p').container({ cpu: '1', memory: '2Gi' }).initContainer({ cpu: '2', memory: '1Gi' }).obj(), want: { cpu: 2000n, memory: 2n * Gi } },
    { name: 'a sidecar runs beside the containers', pod: makePod('p').container({ cpu: '1' }).initContainer({ cpu: '500m' }, { sidecar: true }).obj(), want: { cpu: 1500n } },
    { name: 'an init container after a sidecar runs beside it', pod: makePod('p').container({ cpu: '1' }).initContainer({ cpu: '1' }, { sidecar: true }).initContainer({ cpu: '2' }).obj(), want: { cpu: 3000n } },
    { name: 'an init container before a sidecar does not', pod: makePod('p').container({ cpu: '1' }).initContainer({ cpu: '2' }).initContainer({ cpu: '1' }, { sidecar: true }).obj(), want: { cpu: 2000n } },
    { name: 'overhead is added after the maximum', pod: makePod('p').container({ cpu: '1' }).initContainer({ cpu: '2' }).overhead({ cpu: '250m', memory: '64Mi' }).obj(), want: { cpu: 2250n, memory: 64n * Mi } },
    { name: 'extended resources', pod: makePod('p').container({ 'nvidia.com/gpu': '2' }).obj(), want: { 'nvidia.com/gpu': 2000n } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(plain(podRequests(c.pod)), c.want));
});

describe('podRequestsForScoring (upstream NonZeroRequested)', () => {
  const dcpu = 100n;
  const dmem = 200n * Mi;
  const cases: { name: string; pod: Pod; want: Record<string, bigint> }[] = [
    { name: 'no requests: 100m and 200Mi', pod: makePod('p').obj(), want: { cpu: dcpu, memory: dmem } },
    { name: 'per container', pod: makePod('p').container().container({ cpu: '1' }).obj(), want: { cpu: 1000n + dcpu, memory: 2n * dmem } },
    { name: 'an explicit zero stays zero', pod: makePod('p').container({ cpu: '0', memory: '0' }).obj(), want: { cpu: 0n, memory: 0n } },
    { name: 'limits count as requests, no default', pod: makePod('p').container(undefined, { cpu: '2' }).obj(), want: { cpu: 2000n, memory: dmem } },
    { name: 'init containers get the defaults too', pod: makePod('p').container({ cpu: '50m', memory: '10Mi' }).initContainer().obj(), want: { cpu: dcpu, memory: dmem } },
    { name: 'a sidecar without requests adds the defaults', pod: makePod('p').container({ cpu: '200m', memory: '1Gi' }).initContainer(undefined, { sidecar: true }).obj(), want: { cpu: 200n + dcpu, memory: Gi + dmem } },
    { name: 'overhead comes on top of the defaults', pod: makePod('p').overhead({ cpu: '250m' }).obj(), want: { cpu: dcpu + 250n, memory: dmem } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(plain(podRequestsForScoring(c.pod)), c.want));
});

describe('parseResourceList', () => {
  it('parses quantities to milli-units and ignores unparsable ones', () => {
    assert.deepEqual(plain(parseResourceList({ cpu: '1500m', memory: '1Ki', pods: '110', bad: 'x1' })), { bad: 0n, cpu: 1500n, memory: 1024n * 1000n, pods: 110000n });
  });
});

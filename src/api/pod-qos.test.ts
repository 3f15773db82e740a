import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, PodSpec } from 'kubernetes-types/core/v1.js';
import { podQOSClass, type QOSClass } from './pod-qos.js';

type Res = Record<string, string>;
const c = (name: string, requests?: Res, limits?: Res): Container => ({
  name, image: 'x', ...(requests || limits ? { resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) } } : {}),
});
const full = { cpu: '100m', memory: '128Mi' };

describe('podQOSClass', () => {
  const cases: [name: string, spec: PodSpec, qos: QOSClass][] = [
    ['no resources at all', { containers: [c('a'), c('b')] }, 'BestEffort'],
    ['only non-cpu/memory resources', { containers: [c('a', { 'ephemeral-storage': '1Gi' }, { 'nvidia.com/gpu': '1' })] }, 'BestEffort'],
    ['zero requests and limits count as unset', { containers: [c('a', { cpu: '0', memory: '0' }, { cpu: '0' })] }, 'BestEffort'],
    ['a cpu request only', { containers: [c('a', { cpu: '100m' })] }, 'Burstable'],
    ['a memory limit only (request defaults to it, cpu unset)', { containers: [c('a', undefined, { memory: '1Gi' })] }, 'Burstable'],
    ['requests equal limits for cpu and memory', { containers: [c('a', full, full)] }, 'Guaranteed'],
    ['limits only: requests default from limits', { containers: [c('a', undefined, full)] }, 'Guaranteed'],
    ['limits only, partly defaulted requests', { containers: [c('a', { cpu: '100m' }, full)] }, 'Guaranteed'],
    ['equal quantities in different spellings', { containers: [c('a', { cpu: '0.1', memory: '134217728' }, { cpu: '100m', memory: '128Mi' })] }, 'Guaranteed'],
    ['requests below limits', { containers: [c('a', { cpu: '50m', memory: '128Mi' }, full)] }, 'Burstable'],
    ['every container must be guaranteed', { containers: [c('a', full, full), c('b')] }, 'Burstable'],
    ['two guaranteed containers', { containers: [c('a', full, full), c('b', { cpu: '1', memory: '1Gi' }, { cpu: '1', memory: '1Gi' })] }, 'Guaranteed'],
    ['a guaranteed app with a best-effort init container', { containers: [c('a', full, full)], initContainers: [c('init')] }, 'Burstable'],
    ['guaranteed app and init containers', { containers: [c('a', full, full)], initContainers: [c('init', undefined, { cpu: '1', memory: '1Gi' })] }, 'Guaranteed'],
    ['an init container alone makes it burstable', { containers: [c('a')], initContainers: [c('init', { cpu: '10m' })] }, 'Burstable'],
    ['an extra resource does not break guaranteed', { containers: [c('a', { ...full, 'nvidia.com/gpu': '1' }, { ...full, 'nvidia.com/gpu': '1' })] }, 'Guaranteed'],
    ['a cpu limit of zero is not a limit', { containers: [c('a', { memory: '1Gi' }, { cpu: '0', memory: '1Gi' })] }, 'Burstable'],
    ['an unparsable quantity counts as unset (validation reports it)', { containers: [c('a', { cpu: 'lots' })] }, 'BestEffort'],
    ['no containers', { containers: [] }, 'BestEffort'],
  ];
  for (const [name, spec, qos] of cases) {
    it(`${name} -> ${qos}`, () => assert.equal(podQOSClass(spec), qos));
  }

  it('does not modify the spec it reads', () => {
    const spec: PodSpec = { containers: [c('a', undefined, full)] };
    const before = structuredClone(spec);
    podQOSClass(spec);
    assert.deepEqual(spec, before);
  });
});

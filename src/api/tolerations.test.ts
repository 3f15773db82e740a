// DefaultTolerationSeconds as upstream's admission_test.go tables it, and toleration matching.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PodSpec, Toleration } from 'kubernetes-types/core/v1.js';
import { addDefaultTolerations, matchingTolerations, toleratesTaint } from './tolerations.js';

const notReady = (seconds = 300): Toleration => ({ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: seconds });
const unreachable = (seconds = 300): Toleration => ({ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: seconds });

describe('addDefaultTolerations (DefaultTolerationSeconds admission)', () => {
  const cases: { name: string; given: Toleration[] | undefined; want: Toleration[] }[] = [
    { name: 'a pod without tolerations gets both, 300 s', given: undefined, want: [notReady(), unreachable()] },
    {
      name: 'unrelated tolerations are kept, the defaults appended',
      given: [{ key: 'foo', operator: 'Equal', value: 'bar', effect: 'NoSchedule' }],
      want: [{ key: 'foo', operator: 'Equal', value: 'bar', effect: 'NoSchedule' }, notReady(), unreachable()],
    },
    { name: 'its own not-ready toleration (any seconds) is left alone', given: [notReady(60)], want: [notReady(60), unreachable()] },
    { name: 'its own unreachable toleration is left alone', given: [unreachable(5)], want: [unreachable(5), notReady()] },
    {
      name: 'a toleration of the key without effect covers NoExecute',
      given: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists' }],
      want: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists' }, notReady()],
    },
    {
      name: 'a toleration of the key for NoSchedule only does not',
      given: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoSchedule' }],
      want: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoSchedule' }, notReady(), unreachable()],
    },
    { name: 'an empty key with Exists tolerates everything: nothing added', given: [{ operator: 'Exists' }], want: [{ operator: 'Exists' }] },
    {
      name: 'an empty key for NoExecute covers both',
      given: [{ operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 }],
      want: [{ operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 }],
    },
    { name: 'both present: unchanged', given: [unreachable(7), notReady(8)], want: [unreachable(7), notReady(8)] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const spec: PodSpec = { containers: [], ...(c.given ? { tolerations: structuredClone(c.given) } : {}) };
      addDefaultTolerations(spec);
      assert.deepEqual(spec.tolerations, c.want);
    });
  }
  it('running it again changes nothing (updates keep the defaults without duplicating them)', () => {
    const spec: PodSpec = { containers: [] };
    addDefaultTolerations(spec);
    addDefaultTolerations(spec);
    assert.equal(spec.tolerations!.length, 2);
  });
});

describe('matchingTolerations (upstream GetMatchingTolerations)', () => {
  const unreachableTaint = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' };
  const notReadyTaint = { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' };
  it('the first tolerating toleration per taint', () => {
    const r = matchingTolerations([unreachableTaint, notReadyTaint], [notReady(1), { operator: 'Exists' }, unreachable(2)]);
    assert.equal(r.allTolerated, true);
    assert.deepEqual(r.used, [{ operator: 'Exists' }, notReady(1)]);
  });
  it('one untolerated taint makes the whole set untolerated', () => {
    assert.deepEqual(matchingTolerations([unreachableTaint, notReadyTaint], [unreachable()]), { allTolerated: false, used: [] });
  });
  it('no taints: tolerated', () => assert.deepEqual(matchingTolerations([], undefined), { allTolerated: true, used: [] }));
  it('toleratesTaint: value matters for Equal, effect must match when set', () => {
    assert.equal(toleratesTaint({ key: 'k', operator: 'Equal', value: 'v' }, { key: 'k', value: 'v', effect: 'NoExecute' }), true);
    assert.equal(toleratesTaint({ key: 'k', operator: 'Equal', value: 'w' }, { key: 'k', value: 'v', effect: 'NoExecute' }), false);
    assert.equal(toleratesTaint({ key: 'k', operator: 'Exists', effect: 'NoSchedule' }, { key: 'k', effect: 'NoExecute' }), false);
    assert.equal(toleratesTaint({ operator: 'Equal' }, { key: 'k', effect: 'NoExecute' }), false);
  });
});

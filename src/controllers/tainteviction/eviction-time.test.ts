// When the taint manager evicts a pod (upstream's taint_eviction_test.go cases, on explicit times).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Toleration } from 'kubernetes-types/core/v1.js';
import { evictionTime, taintStart } from './eviction-time.js';

const unreachable = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' };
const notReady = { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' };
const custom = { key: 'example.com/maintenance', value: 'yes', effect: 'NoExecute' };
const tol = (key: string, seconds?: number): Toleration => ({ key, operator: 'Exists', effect: 'NoExecute', ...(seconds !== undefined ? { tolerationSeconds: seconds } : {}) });

describe('evictionTime', () => {
  const t = 1_000_000;
  const cases: { name: string; taints: { taint: typeof unreachable; since: number }[]; tolerations?: Toleration[]; want: number | undefined }[] = [
    { name: 'no taints: never', taints: [], tolerations: [], want: undefined },
    { name: 'an untolerated taint: at once', taints: [{ taint: custom, since: t }], tolerations: [tol(unreachable.key, 300)], want: t },
    { name: 'tolerated for 5 s: 5 s after the taint', taints: [{ taint: unreachable, since: t }], tolerations: [tol(unreachable.key, 5)], want: t + 5_000 },
    { name: 'tolerated forever (no seconds): never', taints: [{ taint: unreachable, since: t }], tolerations: [tol(unreachable.key)], want: undefined },
    { name: 'zero or negative seconds: at once', taints: [{ taint: unreachable, since: t }], tolerations: [tol(unreachable.key, -3)], want: t },
    {
      name: 'two taints: the earlier deadline wins',
      taints: [{ taint: unreachable, since: t }, { taint: custom, since: t + 2_000 }],
      tolerations: [tol(unreachable.key, 60), tol(custom.key, 10)], want: t + 12_000,
    },
    {
      name: 'one taint tolerated forever, another for a while: the while',
      taints: [{ taint: unreachable, since: t }, { taint: notReady, since: t }],
      tolerations: [tol(unreachable.key), tol(notReady.key, 30)], want: t + 30_000,
    },
    {
      name: 'the first tolerating toleration decides, as upstream',
      taints: [{ taint: unreachable, since: t }],
      tolerations: [{ operator: 'Exists' }, tol(unreachable.key, 1)], want: undefined,
    },
    {
      name: 'one untolerated among tolerated: at once, counted from the earliest taint',
      taints: [{ taint: unreachable, since: t + 1_000 }, { taint: custom, since: t + 5_000 }],
      tolerations: [tol(unreachable.key, 300)], want: t + 1_000,
    },
  ];
  for (const c of cases) it(c.name, () => assert.equal(evictionTime(c.taints, c.tolerations), c.want));
});

describe('taintStart', () => {
  const seen = Date.parse('2026-01-01T00:00:10.700Z');
  it('a taint seen being added counts from when it was seen (timeAdded is truncated to the second)', () => {
    assert.equal(taintStart('2026-01-01T00:00:10Z', seen), seen);
    assert.equal(taintStart('2026-01-01T00:00:09Z', seen), seen, 'added at 09.99, delivered at 10.7');
  });
  it('a taint that was there before the controller started keeps its age', () => {
    assert.equal(taintStart('2026-01-01T00:00:01Z', seen), Date.parse('2026-01-01T00:00:01Z'));
  });
  it('no or bad timeAdded: from when it was seen', () => {
    assert.equal(taintStart(undefined, seen), seen);
    assert.equal(taintStart('yesterday', seen), seen);
  });
});

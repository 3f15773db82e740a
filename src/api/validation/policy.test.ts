// PodDisruptionBudget validation, as upstream's ValidatePodDisruptionBudgetSpec, and its table row.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validatePodDisruptionBudget } from './policy.js';
import { podDisruptionBudgetPrinter } from '../printers/policy.js';

describe('validatePodDisruptionBudget', () => {
  const sel = { matchLabels: { app: 'web' } };
  const cases: { name: string; spec: Record<string, unknown>; status?: Record<string, number>; errors: string[] }[] = [
    { name: 'minAvailable integer', spec: { minAvailable: 2, selector: sel }, errors: [] },
    { name: 'maxUnavailable percentage', spec: { maxUnavailable: '25%', selector: sel }, errors: [] },
    { name: 'an empty selector is allowed (it selects every pod of the namespace)', spec: { minAvailable: '100%', selector: {} }, errors: [] },
    { name: 'both bounds', spec: { minAvailable: 1, maxUnavailable: 1, selector: sel }, errors: ['spec: Invalid value: {"minAvailable":1,"maxUnavailable":1,"selector":{"matchLabels":{"app":"web"}}}: minAvailable and maxUnavailable cannot be both set'] },
    { name: 'negative', spec: { minAvailable: -1 }, errors: ['spec.minAvailable: Invalid value: -1: must be greater than or equal to 0'] },
    { name: 'over 100%', spec: { maxUnavailable: '101%' }, errors: ['spec.maxUnavailable: Invalid value: "101%": must not be greater than 100%'] },
    { name: 'not a percentage', spec: { minAvailable: 'half' }, errors: ["spec.minAvailable: Invalid value: \"half\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"] },
    { name: 'bad policy', spec: { unhealthyPodEvictionPolicy: 'Sometimes' }, errors: ['spec.unhealthyPodEvictionPolicy: Unsupported value: "Sometimes": supported values: "AlwaysAllow", "IfHealthyBudget"'] },
    { name: 'bad selector operator', spec: { selector: { matchExpressions: [{ key: 'a', operator: 'Near' }] } }, errors: ['spec.selector.matchExpressions[0].operator: Unsupported value: "Near": supported values: "In", "NotIn", "Exists", "DoesNotExist"'] },
    { name: 'negative status counter', spec: {}, status: { disruptionsAllowed: -1 }, errors: ['status.disruptionsAllowed: Invalid value: -1: must be greater than or equal to 0'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const errs = validatePodDisruptionBudget({ metadata: { name: 'b' }, spec: c.spec as never, ...(c.status ? { status: c.status as never } : {}) });
      assert.deepEqual(errs.map((e) => `${e.field}: ${e.detail}`), c.errors);
    });
  }
});

describe('PodDisruptionBudget table', () => {
  it('prints N/A for the bound not set, the allowed disruptions as a number', () => {
    const now = Date.parse('2026-01-01T00:01:00Z');
    const row = podDisruptionBudgetPrinter.row({ metadata: { name: 'web', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { maxUnavailable: '25%' }, status: { disruptionsAllowed: 2, currentHealthy: 4, desiredHealthy: 2, expectedPods: 4 } }, now);
    assert.deepEqual(row, ['web', 'N/A', '25%', 2, '60s']);
    assert.deepEqual(podDisruptionBudgetPrinter.columns.map((c) => c.name), ['Name', 'Min Available', 'Max Unavailable', 'Allowed Disruptions', 'Age']);
  });
});

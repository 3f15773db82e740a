import type { PodDisruptionBudget, PodDisruptionBudgetSpec, PodDisruptionBudgetStatus } from 'kubernetes-types/policy/v1.js';
import type { FieldError } from '../status.js';
import { invalidValue, notSupported } from './field.js';
import { validateLabelSelector } from './apps.js';

const percentRe = /^[0-9]+%$/;
const unhealthyPodEvictionPolicies = ['AlwaysAllow', 'IfHealthyBudget'];

/** Upstream's ValidatePositiveIntOrPercent and IsNotMoreThan100Percent, for one bound of a budget. */
function intOrPercent(errs: FieldError[], field: string, v: number | string): void {
  if (typeof v === 'number') {
    if (v < 0) errs.push(invalidValue(field, v, 'must be greater than or equal to 0'));
    return;
  }
  if (typeof v !== 'string') {
    errs.push(invalidValue(field, v, "must be an integer or percentage (e.g '5%')"));
    return;
  }
  if (!percentRe.test(v)) {
    errs.push(invalidValue(field, v, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"));
    return;
  }
  if (Number(v.slice(0, -1)) > 100) errs.push(invalidValue(field, v, 'must not be greater than 100%'));
}

/** A PodDisruptionBudget's spec (upstream's ValidatePodDisruptionBudgetSpec). */
export function validatePodDisruptionBudgetSpec(spec: PodDisruptionBudgetSpec | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const s = spec ?? {};
  if (s.minAvailable !== undefined && s.maxUnavailable !== undefined) {
    errs.push(invalidValue('spec', s, 'minAvailable and maxUnavailable cannot be both set'));
  }
  if (s.minAvailable !== undefined) intOrPercent(errs, 'spec.minAvailable', s.minAvailable);
  if (s.maxUnavailable !== undefined) intOrPercent(errs, 'spec.maxUnavailable', s.maxUnavailable);
  if (s.selector) errs.push(...validateLabelSelector(s.selector, 'spec.selector'));
  if (s.unhealthyPodEvictionPolicy !== undefined && !unhealthyPodEvictionPolicies.includes(s.unhealthyPodEvictionPolicy)) {
    errs.push(notSupported('spec.unhealthyPodEvictionPolicy', s.unhealthyPodEvictionPolicy, unhealthyPodEvictionPolicies));
  }
  return errs;
}

/** The counters of a budget's status may not go negative (upstream's ValidatePodDisruptionBudgetStatusUpdate for policy/v1). */
export function validatePodDisruptionBudgetStatus(status: PodDisruptionBudgetStatus | undefined): FieldError[] {
  const errs: FieldError[] = [];
  for (const k of ['disruptionsAllowed', 'currentHealthy', 'desiredHealthy', 'expectedPods'] as const) {
    const v = status?.[k];
    if (typeof v === 'number' && v < 0) errs.push(invalidValue(`status.${k}`, v, 'must be greater than or equal to 0'));
  }
  return errs;
}

/** Both, for a whole object. */
export function validatePodDisruptionBudget(pdb: PodDisruptionBudget): FieldError[] {
  return [...validatePodDisruptionBudgetSpec(pdb.spec), ...validatePodDisruptionBudgetStatus(pdb.status)];
}

import type { DeploymentSpec, ReplicaSetSpec } from 'kubernetes-types/apps/v1.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { FieldError } from '../status.js';
import { forbiddenField, immutable, invalidValue, notSupported, required } from './field.js';
import { validatePodSpec } from './pod.js';
import { validateAnnotations, validateLabels } from './object-meta.js';
import { fromLabelSelector } from '../selectors/label-selector.js';
import { isQualifiedName, isValidLabelValue } from './names.js';

function nonNegative(errs: FieldError[], field: string, v: number | undefined): void {
  if (v !== undefined && v < 0) errs.push(invalidValue(field, v, 'must be greater than or equal to 0'));
}

/** Label selector syntax (upstream ValidateLabelSelector). */
export function validateLabelSelector(sel: LabelSelector, field: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    for (const m of isQualifiedName(k)) errs.push(invalidValue(`${field}.matchLabels`, k, m));
    for (const m of isValidLabelValue(v)) errs.push(invalidValue(`${field}.matchLabels`, v, m));
  }
  (sel.matchExpressions ?? []).forEach((e, i) => {
    const f = `${field}.matchExpressions[${i}]`;
    const ops = ['In', 'NotIn', 'Exists', 'DoesNotExist'];
    if (!ops.includes(e.operator)) errs.push(notSupported(`${f}.operator`, e.operator, ops));
    else if ((e.operator === 'In' || e.operator === 'NotIn') && (!e.values || e.values.length === 0)) {
      errs.push(required(`${f}.values`, 'must be specified when `operator` is \'In\' or \'NotIn\''));
    } else if ((e.operator === 'Exists' || e.operator === 'DoesNotExist') && e.values && e.values.length > 0) {
      errs.push(forbiddenField(`${f}.values`, 'may not be specified when `operator` is \'Exists\' or \'DoesNotExist\''));
    }
    for (const m of isQualifiedName(e.key ?? '')) errs.push(invalidValue(`${f}.key`, e.key, m));
  });
  return errs;
}

/** Selector present, non-empty, valid, and matching the template's labels; template valid with restartPolicy Always. */
function validateSelectorAndTemplate(errs: FieldError[], selector: LabelSelector | undefined, template: PodTemplateSpec | undefined, kind: string): void {
  if (!selector) errs.push(required('spec.selector'));
  else {
    const selErrs = validateLabelSelector(selector, 'spec.selector');
    errs.push(...selErrs);
    const sel = selErrs.length === 0 ? fromLabelSelector(selector) : undefined;
    if (sel && sel.empty()) errs.push(invalidValue('spec.selector', selector, `empty selector is invalid for ${kind}`));
    if (sel && template && !sel.matches(template.metadata?.labels)) {
      errs.push(invalidValue('spec.template.metadata.labels', template.metadata?.labels ?? {}, '`selector` does not match template `labels`'));
    }
  }
  if (!template) { errs.push(required('spec.template')); return; }
  errs.push(...validateLabels(template.metadata?.labels, 'spec.template.metadata.labels'));
  errs.push(...validateAnnotations(template.metadata?.annotations, 'spec.template.metadata.annotations'));
  errs.push(...validatePodSpec(template.spec, 'spec.template.spec', true));
  const rp = template.spec?.restartPolicy;
  if (rp !== undefined && rp !== 'Always') errs.push(notSupported('spec.template.spec.restartPolicy', rp, ['Always']));
  if (template.spec?.activeDeadlineSeconds !== undefined) errs.push(forbiddenField('spec.template.spec.activeDeadlineSeconds', 'activeDeadlineSeconds in ReplicaSet is not Supported'));
}

const percentRe = /^[0-9]+%$/;

function intOrPercent(errs: FieldError[], field: string, v: number | string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') {
    nonNegative(errs, field, v);
    return v;
  }
  if (!percentRe.test(v)) {
    errs.push(invalidValue(field, v, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"));
    return undefined;
  }
  const p = Number(v.slice(0, -1));
  if (p > 100 && field.endsWith('maxUnavailable')) errs.push(invalidValue(field, v, 'must not be greater than 100%'));
  return p;
}

export function validateDeploymentSpec(spec: DeploymentSpec | undefined): FieldError[] {
  const errs: FieldError[] = [];
  if (!spec) return [required('spec')];
  nonNegative(errs, 'spec.replicas', spec.replicas);
  validateSelectorAndTemplate(errs, spec.selector, spec.template, 'deployment');
  const types = ['Recreate', 'RollingUpdate'];
  const st = spec.strategy;
  if (st?.type !== undefined && !types.includes(st.type)) errs.push(notSupported('spec.strategy.type', st.type, types));
  if (st?.type === 'Recreate' && st.rollingUpdate) errs.push(forbiddenField('spec.strategy.rollingUpdate', "may not be specified when strategy `type` is 'Recreate'"));
  if (st?.type === 'RollingUpdate' && st.rollingUpdate) {
    const u = intOrPercent(errs, 'spec.strategy.rollingUpdate.maxUnavailable', st.rollingUpdate.maxUnavailable);
    const s = intOrPercent(errs, 'spec.strategy.rollingUpdate.maxSurge', st.rollingUpdate.maxSurge);
    if (u === 0 && s === 0) errs.push(invalidValue('spec.strategy.rollingUpdate.maxUnavailable', st.rollingUpdate.maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
  }
  nonNegative(errs, 'spec.revisionHistoryLimit', spec.revisionHistoryLimit);
  nonNegative(errs, 'spec.minReadySeconds', spec.minReadySeconds);
  if (spec.progressDeadlineSeconds !== undefined) {
    nonNegative(errs, 'spec.progressDeadlineSeconds', spec.progressDeadlineSeconds);
    if (spec.progressDeadlineSeconds <= (spec.minReadySeconds ?? 0)) {
      errs.push(invalidValue('spec.progressDeadlineSeconds', spec.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
    }
  }
  return errs;
}

export function validateReplicaSetSpec(spec: ReplicaSetSpec | undefined): FieldError[] {
  const errs: FieldError[] = [];
  if (!spec) return [required('spec')];
  nonNegative(errs, 'spec.replicas', spec.replicas);
  nonNegative(errs, 'spec.minReadySeconds', spec.minReadySeconds);
  validateSelectorAndTemplate(errs, spec.selector, spec.template, 'replicaset');
  return errs;
}

/** The selector of a workload is fixed once created (apps/v1). */
export function validateSelectorUpdate(selector: LabelSelector | undefined, old: LabelSelector | undefined): FieldError[] {
  return JSON.stringify(selector ?? null) === JSON.stringify(old ?? null) ? [] : [immutable('spec.selector', selector ?? null)];
}

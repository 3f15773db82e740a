import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { FieldError } from '../status.js';
import { forbiddenField, immutable, invalidValue, required, tooLong } from './field.js';
import { isDNS1123Label, isDNS1123Subdomain, isQualifiedName, isValidLabelValue } from './names.js';

/** Checks a name; returns upstream's messages. Each kind picks its rule (most: DNS-1123 subdomain). */
export type NameValidator = (name: string, prefix: boolean) => string[];

/** With `prefix` (generateName), a trailing dash is allowed, as upstream's `maskTrailingDash`. */
export const dns1123SubdomainName: NameValidator = (n, prefix) => isDNS1123Subdomain(prefix ? maskTrailingDash(n) : n);
export const dns1123LabelName: NameValidator = (n, prefix) => isDNS1123Label(prefix ? maskTrailingDash(n) : n);

function maskTrailingDash(n: string): string {
  return n.length > 1 && n.endsWith('-') ? n.slice(0, -1) + 'a' : n;
}

/** Path segments that may not be names: they would break URLs. */
function pathSegmentErrors(name: string): string[] {
  if (name === '.' || name === '..') return [`may not be '${name}'`];
  for (const bad of ['/', '%']) if (name.includes(bad)) return [`may not contain '${bad}'`];
  return [];
}

const totalAnnotationSizeLimit = 256 * 1024;

export function validateLabels(labels: Record<string, string> | undefined, field: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    for (const m of isQualifiedName(k)) errs.push(invalidValue(field, k, m));
    for (const m of isValidLabelValue(String(v))) errs.push(invalidValue(field, v, m));
  }
  return errs;
}

export function validateAnnotations(annotations: Record<string, string> | undefined, field: string): FieldError[] {
  const errs: FieldError[] = [];
  let size = 0;
  for (const [k, v] of Object.entries(annotations ?? {})) {
    for (const m of isQualifiedName(k.toLowerCase())) errs.push(invalidValue(field, k, m));
    size += k.length + String(v).length;
  }
  if (size > totalAnnotationSizeLimit) errs.push(tooLong(field, totalAnnotationSizeLimit));
  return errs;
}

/** Upstream's ValidateObjectMeta: name rules, namespace presence, labels, annotations, owners, finalizers. */
export function validateObjectMeta(meta: ObjectMeta, namespaced: boolean, nameRule: NameValidator, field = 'metadata'): FieldError[] {
  const errs: FieldError[] = [];
  if (meta.generateName) {
    for (const m of nameRule(meta.generateName, true)) errs.push(invalidValue(`${field}.generateName`, meta.generateName, m));
  }
  if (!meta.name) {
    errs.push(required(`${field}.name`, 'name or generateName is required'));
  } else {
    for (const m of [...pathSegmentErrors(meta.name), ...nameRule(meta.name, false)]) errs.push(invalidValue(`${field}.name`, meta.name, m));
  }
  if (namespaced) {
    if (!meta.namespace) errs.push(required(`${field}.namespace`));
    else for (const m of isDNS1123Label(meta.namespace)) errs.push(invalidValue(`${field}.namespace`, meta.namespace, m));
  } else if (meta.namespace) {
    errs.push(forbiddenField(`${field}.namespace`, 'not allowed on this type'));
  }
  errs.push(...validateLabels(meta.labels, `${field}.labels`));
  errs.push(...validateAnnotations(meta.annotations, `${field}.annotations`));
  let controllers = 0;
  (meta.ownerReferences ?? []).forEach((o, i) => {
    const f = `${field}.ownerReferences[${i}]`;
    if (!o.apiVersion) errs.push(invalidValue(`${f}.apiVersion`, o.apiVersion ?? '', 'version must not be empty'));
    if (!o.kind) errs.push(invalidValue(`${f}.kind`, o.kind ?? '', 'kind must not be empty'));
    if (!o.name) errs.push(invalidValue(`${f}.name`, o.name ?? '', 'name must not be empty'));
    if (!o.uid) errs.push(invalidValue(`${f}.uid`, o.uid ?? '', 'uid must not be empty'));
    if (o.controller) controllers++;
  });
  if (controllers > 1) errs.push(invalidValue(`${field}.ownerReferences`, meta.ownerReferences, 'Only one reference can have Controller set to true'));
  (meta.finalizers ?? []).forEach((f, i) => {
    for (const m of isQualifiedName(f)) errs.push(invalidValue(`${field}.finalizers[${i}]`, f, m));
  });
  return errs;
}

/** Upstream's ValidateObjectMetaUpdate: identity fields never change. */
export function validateObjectMetaUpdate(meta: ObjectMeta, old: ObjectMeta, field = 'metadata'): FieldError[] {
  const errs: FieldError[] = [];
  if (meta.name !== old.name) errs.push(immutable(`${field}.name`, meta.name));
  if ((meta.namespace ?? '') !== (old.namespace ?? '')) errs.push(immutable(`${field}.namespace`, meta.namespace));
  if (meta.uid !== old.uid) errs.push(immutable(`${field}.uid`, meta.uid));
  if (meta.creationTimestamp !== old.creationTimestamp) errs.push(immutable(`${field}.creationTimestamp`, meta.creationTimestamp));
  if (old.deletionTimestamp && meta.deletionTimestamp !== old.deletionTimestamp) errs.push(immutable(`${field}.deletionTimestamp`, meta.deletionTimestamp));
  if (old.deletionGracePeriodSeconds !== undefined && meta.deletionGracePeriodSeconds !== old.deletionGracePeriodSeconds) errs.push(immutable(`${field}.deletionGracePeriodSeconds`, meta.deletionGracePeriodSeconds));
  return errs;
}

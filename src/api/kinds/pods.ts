import type { Pod, PodSpec } from 'kubernetes-types/core/v1.js';
import { defineResource, statusSubresource } from './define.js';
import { defaultPodOnly, defaultPodSpec } from '../defaults/pod.js';
import { podQOSClass } from '../pod-qos.js';
import { dns1123SubdomainName, validateObjectMeta, validateObjectMetaUpdate } from '../validation/object-meta.js';
import { validatePodSpec, validatePodSpecUpdate } from '../validation/pod.js';
import { podPrinter } from '../printers/pod.js';
import { notSupported } from '../validation/field.js';
import { addDefaultTolerations } from '../tolerations.js';
import type { KubeObject, Mutable } from '../types.js';

type PodObject = Mutable<Pod> & KubeObject;

/** Mutating admission for new pods: service account, priority, default tolerations (upstream's plugins of those names). */
function admitPod(spec: PodSpec): void {
  spec.serviceAccountName ||= spec.serviceAccount || 'default';
  spec.serviceAccount = spec.serviceAccountName;
  spec.priority ??= 0;
  spec.preemptionPolicy ??= 'PreemptLowerPriority';
  addDefaultTolerations(spec);
}

const phases = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'];

export const pods = defineResource<PodObject>({
  group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true,
  openapiName: 'io.k8s.api.core.v1.Pod',
  shortNames: ['po'],
  categories: ['all'],
  subresources: [
    statusSubresource('', 'v1', 'Pod'),
    { name: 'binding', kind: { group: '', version: 'v1', kind: 'Binding' }, verbs: ['create'] },
    { name: 'log', kind: { group: '', version: 'v1', kind: 'Pod' }, verbs: ['get'] },
    { name: 'eviction', kind: { group: 'policy', version: 'v1', kind: 'Eviction' }, verbs: ['create'] },
  ],
  statusSubresource: true,
  returnDeletedObject: true,
  defaults(pod) {
    pod.spec ??= { containers: [] };
    defaultPodSpec(pod.spec);
    defaultPodOnly(pod.spec);
  },
  prepareForCreate(pod) {
    admitPod(pod.spec!);
    pod.status = { phase: 'Pending', qosClass: podQOSClass(pod.spec!) };
  },
  prepareForUpdate(pod, old) {
    pod.status = old.status;
    // DefaultTolerationSeconds admits updates too, so a replaced spec keeps (or regains) the defaults.
    if (pod.spec) addDefaultTolerations(pod.spec);
  },
  validate(pod) {
    return [...validateObjectMeta(pod.metadata, true, dns1123SubdomainName), ...validatePodSpec(pod.spec, 'spec', false)];
  },
  validateUpdate(pod, old) {
    const errs = validateObjectMetaUpdate(pod.metadata, old.metadata);
    errs.push(...validatePodSpec(pod.spec, 'spec', false), ...validatePodSpecUpdate(pod.spec!, old.spec!));
    const phase = pod.status?.phase;
    if (phase !== undefined && !phases.includes(phase)) errs.push(notSupported('status.phase', phase, phases));
    return errs;
  },
  deletePlan(pod, grace) {
    const phase = pod.status?.phase;
    // Nothing runs an unbound or finished pod, so there is nobody to wait for.
    if (!pod.spec?.nodeName || phase === 'Succeeded' || phase === 'Failed') return { kind: 'now' };
    const seconds = grace ?? pod.spec.terminationGracePeriodSeconds ?? 30;
    return seconds <= 0 ? { kind: 'now' } : { kind: 'graceful', seconds };
  },
  fields: {
    'spec.nodeName': (p: Pod) => p.spec?.nodeName,
    'spec.restartPolicy': (p: Pod) => p.spec?.restartPolicy,
    'spec.schedulerName': (p: Pod) => p.spec?.schedulerName,
    'spec.serviceAccountName': (p: Pod) => p.spec?.serviceAccountName,
    'spec.hostNetwork': (p: Pod) => String(p.spec?.hostNetwork ?? false),
    'status.phase': (p: Pod) => p.status?.phase,
    'status.podIP': (p: Pod) => p.status?.podIP,
    'status.nominatedNodeName': (p: Pod) => p.status?.nominatedNodeName,
  },
  printer: podPrinter,
});

import type { DeploymentSpec, ReplicaSetSpec } from 'kubernetes-types/apps/v1.js';
import { defaultPodSpec } from './pod.js';

/** Upstream's apps/v1 Deployment defaults: 1 replica, RollingUpdate 25%/25%, 10 revisions, 600 s deadline. */
export function defaultDeploymentSpec(spec: DeploymentSpec): void {
  spec.replicas ??= 1;
  spec.strategy ??= {};
  spec.strategy.type ??= 'RollingUpdate';
  if (spec.strategy.type === 'RollingUpdate') {
    spec.strategy.rollingUpdate ??= {};
    spec.strategy.rollingUpdate.maxUnavailable ??= '25%';
    spec.strategy.rollingUpdate.maxSurge ??= '25%';
  }
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  if (spec.template?.spec) defaultPodSpec(spec.template.spec);
}

export function defaultReplicaSetSpec(spec: ReplicaSetSpec): void {
  spec.replicas ??= 1;
  if (spec.template?.spec) defaultPodSpec(spec.template.spec);
}

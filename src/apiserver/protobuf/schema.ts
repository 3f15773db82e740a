/**
 * The subset of the Kubernetes protobuf schema that `kubectl create <generator>` can send
 * (namespace, configmap, secret, serviceaccount, service, deployment, poddisruptionbudget), and the
 * evictions and delete options of `kubectl drain`.
 *
 * Package names, message names, field names and field numbers are upstream's
 * (k8s.io/api core/v1 + apps/v1, k8s.io/apimachinery meta/v1, runtime, util/intstr, api/resource
 * generated.proto). Fields upstream has but that are left out here are pointers, lists or maps, so a
 * client that does not set them does not put them on the wire; decode.ts reports any left-out field
 * that carries data instead of dropping it.
 *
 * Each entry is one proto2 file (one package); they are parsed into a single protobufjs Root.
 */

export const META_V1_PROTO = `
syntax = "proto2";
package k8s.io.apimachinery.pkg.apis.meta.v1;

message Condition {
  optional string type = 1;
  optional string status = 2;
  optional int64 observedGeneration = 3;
  optional Time lastTransitionTime = 4;
  optional string reason = 5;
  optional string message = 6;
}

message DeleteOptions {
  optional int64 gracePeriodSeconds = 1;
  optional Preconditions preconditions = 2;
  optional bool orphanDependents = 3;
  optional string propagationPolicy = 4;
  repeated string dryRun = 5;
  optional bool ignoreStoreReadErrorWithClusterBreakingPotential = 6;
}

message LabelSelector {
  map<string, string> matchLabels = 1;
  repeated LabelSelectorRequirement matchExpressions = 2;
}

message LabelSelectorRequirement {
  optional string key = 1;
  optional string operator = 2;
  repeated string values = 3;
}

message ObjectMeta {
  optional string name = 1;
  optional string generateName = 2;
  optional string namespace = 3;
  optional string selfLink = 4;
  optional string uid = 5;
  optional string resourceVersion = 6;
  optional int64 generation = 7;
  optional Time creationTimestamp = 8;
  optional Time deletionTimestamp = 9;
  optional int64 deletionGracePeriodSeconds = 10;
  map<string, string> labels = 11;
  map<string, string> annotations = 12;
  repeated OwnerReference ownerReferences = 13;
  repeated string finalizers = 14;
}

message OwnerReference {
  optional string apiVersion = 5;
  optional string kind = 1;
  optional string name = 3;
  optional string uid = 4;
  optional bool controller = 6;
  optional bool blockOwnerDeletion = 7;
}

message Preconditions {
  optional string uid = 1;
  optional string resourceVersion = 2;
}

message Time {
  optional int64 seconds = 1;
  optional int32 nanos = 2;
}
`;

export const RUNTIME_PROTO = `
syntax = "proto2";
package k8s.io.apimachinery.pkg.runtime;

message TypeMeta {
  optional string apiVersion = 1;
  optional string kind = 2;
}

message Unknown {
  optional TypeMeta typeMeta = 1;
  optional bytes raw = 2;
  optional string contentEncoding = 3;
  optional string contentType = 4;
}
`;

export const INTSTR_PROTO = `
syntax = "proto2";
package k8s.io.apimachinery.pkg.util.intstr;

message IntOrString {
  optional int64 type = 1;
  optional int32 intVal = 2;
  optional string strVal = 3;
}
`;

export const RESOURCE_PROTO = `
syntax = "proto2";
package k8s.io.apimachinery.pkg.api.resource;

message Quantity {
  optional string string = 1;
}
`;

export const CORE_V1_PROTO = `
syntax = "proto2";
package k8s.io.api.core.v1;

message ClientIPConfig {
  optional int32 timeoutSeconds = 1;
}

message ConfigMap {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional bool immutable = 4;
  map<string, string> data = 2;
  map<string, bytes> binaryData = 3;
}

message ConfigMapEnvSource {
  optional LocalObjectReference localObjectReference = 1;
  optional bool optional = 2;
}

message ConfigMapKeySelector {
  optional LocalObjectReference localObjectReference = 1;
  optional string key = 2;
  optional bool optional = 3;
}

message Container {
  optional string name = 1;
  optional string image = 2;
  repeated string command = 3;
  repeated string args = 4;
  optional string workingDir = 5;
  repeated ContainerPort ports = 6;
  repeated EnvFromSource envFrom = 19;
  repeated EnvVar env = 7;
  optional ResourceRequirements resources = 8;
  repeated ContainerResizePolicy resizePolicy = 23;
  optional string restartPolicy = 24;
  repeated VolumeMount volumeMounts = 9;
  repeated VolumeDevice volumeDevices = 21;
  optional string terminationMessagePath = 13;
  optional string terminationMessagePolicy = 20;
  optional string imagePullPolicy = 14;
  optional bool stdin = 16;
  optional bool stdinOnce = 17;
  optional bool tty = 18;
}

message ContainerPort {
  optional string name = 1;
  optional int32 hostPort = 2;
  optional int32 containerPort = 3;
  optional string protocol = 4;
  optional string hostIP = 5;
}

message ContainerResizePolicy {
  optional string resourceName = 1;
  optional string restartPolicy = 2;
}

message EnvFromSource {
  optional string prefix = 1;
  optional ConfigMapEnvSource configMapRef = 2;
  optional SecretEnvSource secretRef = 3;
}

message EnvVar {
  optional string name = 1;
  optional string value = 2;
  optional EnvVarSource valueFrom = 3;
}

message EnvVarSource {
  optional ObjectFieldSelector fieldRef = 1;
  optional ResourceFieldSelector resourceFieldRef = 2;
  optional ConfigMapKeySelector configMapKeyRef = 3;
  optional SecretKeySelector secretKeyRef = 4;
}

message LoadBalancerIngress {
  optional string ip = 1;
  optional string hostname = 2;
  optional string ipMode = 3;
  repeated PortStatus ports = 4;
}

message LoadBalancerStatus {
  repeated LoadBalancerIngress ingress = 1;
}

message LocalObjectReference {
  optional string name = 1;
}

message Namespace {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional NamespaceSpec spec = 2;
  optional NamespaceStatus status = 3;
}

message NamespaceCondition {
  optional string type = 1;
  optional string status = 2;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.Time lastTransitionTime = 4;
  optional string reason = 5;
  optional string message = 6;
}

message NamespaceSpec {
  repeated string finalizers = 1;
}

message NamespaceStatus {
  optional string phase = 1;
  repeated NamespaceCondition conditions = 2;
}

message ObjectFieldSelector {
  optional string apiVersion = 1;
  optional string fieldPath = 2;
}

message ObjectReference {
  optional string kind = 1;
  optional string namespace = 2;
  optional string name = 3;
  optional string uid = 4;
  optional string apiVersion = 5;
  optional string resourceVersion = 6;
  optional string fieldPath = 7;
}

message PodSpec {
  repeated Container initContainers = 20;
  repeated Container containers = 2;
  optional string restartPolicy = 3;
  optional int64 terminationGracePeriodSeconds = 4;
  optional int64 activeDeadlineSeconds = 5;
  optional string dnsPolicy = 6;
  map<string, string> nodeSelector = 7;
  optional string serviceAccountName = 8;
  optional string serviceAccount = 9;
  optional bool automountServiceAccountToken = 21;
  optional string nodeName = 10;
  optional bool hostNetwork = 11;
  optional bool hostPID = 12;
  optional bool hostIPC = 13;
  optional bool shareProcessNamespace = 27;
  repeated LocalObjectReference imagePullSecrets = 15;
  optional string hostname = 16;
  optional string subdomain = 17;
  optional string schedulerName = 19;
  repeated Toleration tolerations = 22;
  optional string priorityClassName = 24;
  optional int32 priority = 25;
  optional string runtimeClassName = 29;
  optional bool enableServiceLinks = 30;
  optional string preemptionPolicy = 31;
  optional bool setHostnameAsFQDN = 35;
  optional bool hostUsers = 37;
}

message PodTemplateSpec {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional PodSpec spec = 2;
}

message PortStatus {
  optional int32 port = 1;
  optional string protocol = 2;
  optional string error = 3;
}

message ResourceClaim {
  optional string name = 1;
  optional string request = 2;
}

message ResourceFieldSelector {
  optional string containerName = 1;
  optional string resource = 2;
  optional .k8s.io.apimachinery.pkg.api.resource.Quantity divisor = 3;
}

message ResourceRequirements {
  map<string, .k8s.io.apimachinery.pkg.api.resource.Quantity> limits = 1;
  map<string, .k8s.io.apimachinery.pkg.api.resource.Quantity> requests = 2;
  repeated ResourceClaim claims = 3;
}

message Secret {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional bool immutable = 5;
  map<string, bytes> data = 2;
  map<string, string> stringData = 4;
  optional string type = 3;
}

message SecretEnvSource {
  optional LocalObjectReference localObjectReference = 1;
  optional bool optional = 2;
}

message SecretKeySelector {
  optional LocalObjectReference localObjectReference = 1;
  optional string key = 2;
  optional bool optional = 3;
}

message Service {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional ServiceSpec spec = 2;
  optional ServiceStatus status = 3;
}

message ServiceAccount {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  repeated ObjectReference secrets = 2;
  repeated LocalObjectReference imagePullSecrets = 3;
  optional bool automountServiceAccountToken = 4;
}

message ServicePort {
  optional string name = 1;
  optional string protocol = 2;
  optional string appProtocol = 6;
  optional int32 port = 3;
  optional .k8s.io.apimachinery.pkg.util.intstr.IntOrString targetPort = 4;
  optional int32 nodePort = 5;
}

message ServiceSpec {
  repeated ServicePort ports = 1;
  map<string, string> selector = 2;
  optional string clusterIP = 3;
  repeated string clusterIPs = 18;
  optional string type = 4;
  repeated string externalIPs = 5;
  optional string sessionAffinity = 7;
  optional string loadBalancerIP = 8;
  repeated string loadBalancerSourceRanges = 9;
  optional string externalName = 10;
  optional string externalTrafficPolicy = 11;
  optional int32 healthCheckNodePort = 12;
  optional bool publishNotReadyAddresses = 13;
  optional SessionAffinityConfig sessionAffinityConfig = 14;
  repeated string ipFamilies = 19;
  optional string ipFamilyPolicy = 17;
  optional bool allocateLoadBalancerNodePorts = 20;
  optional string loadBalancerClass = 21;
  optional string internalTrafficPolicy = 22;
  optional string trafficDistribution = 23;
}

message ServiceStatus {
  optional LoadBalancerStatus loadBalancer = 1;
  repeated .k8s.io.apimachinery.pkg.apis.meta.v1.Condition conditions = 2;
}

message SessionAffinityConfig {
  optional ClientIPConfig clientIP = 1;
}

message Toleration {
  optional string key = 1;
  optional string operator = 2;
  optional string value = 3;
  optional string effect = 4;
  optional int64 tolerationSeconds = 5;
}

message VolumeDevice {
  optional string name = 1;
  optional string devicePath = 2;
}

message VolumeMount {
  optional string name = 1;
  optional bool readOnly = 2;
  optional string recursiveReadOnly = 7;
  optional string mountPath = 3;
  optional string subPath = 4;
  optional string mountPropagation = 5;
  optional string subPathExpr = 6;
}
`;

export const APPS_V1_PROTO = `
syntax = "proto2";
package k8s.io.api.apps.v1;

message Deployment {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional DeploymentSpec spec = 2;
  optional DeploymentStatus status = 3;
}

message DeploymentCondition {
  optional string type = 1;
  optional string status = 2;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.Time lastUpdateTime = 6;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.Time lastTransitionTime = 7;
  optional string reason = 4;
  optional string message = 5;
}

message DeploymentSpec {
  optional int32 replicas = 1;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector selector = 2;
  optional .k8s.io.api.core.v1.PodTemplateSpec template = 3;
  optional DeploymentStrategy strategy = 4;
  optional int32 minReadySeconds = 5;
  optional int32 revisionHistoryLimit = 6;
  optional bool paused = 7;
  optional int32 progressDeadlineSeconds = 9;
  optional string podReplacementPolicy = 10;
}

message DeploymentStatus {
  optional int64 observedGeneration = 1;
  optional int32 replicas = 2;
  optional int32 updatedReplicas = 3;
  optional int32 readyReplicas = 7;
  optional int32 availableReplicas = 4;
  optional int32 unavailableReplicas = 5;
  optional int32 terminatingReplicas = 9;
  repeated DeploymentCondition conditions = 6;
  optional int32 collisionCount = 8;
}

message DeploymentStrategy {
  optional string type = 1;
  optional RollingUpdateDeployment rollingUpdate = 2;
}

message RollingUpdateDeployment {
  optional .k8s.io.apimachinery.pkg.util.intstr.IntOrString maxUnavailable = 1;
  optional .k8s.io.apimachinery.pkg.util.intstr.IntOrString maxSurge = 2;
}
`;

/** policy/v1: what `kubectl create poddisruptionbudget` and `kubectl drain` (evictions) send. */
export const POLICY_V1_PROTO = `
syntax = "proto2";
package k8s.io.api.policy.v1;

message Eviction {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions deleteOptions = 2;
}

message PodDisruptionBudget {
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional PodDisruptionBudgetSpec spec = 2;
  optional PodDisruptionBudgetStatus status = 3;
}

message PodDisruptionBudgetSpec {
  optional .k8s.io.apimachinery.pkg.util.intstr.IntOrString minAvailable = 1;
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector selector = 2;
  optional .k8s.io.apimachinery.pkg.util.intstr.IntOrString maxUnavailable = 3;
  optional string unhealthyPodEvictionPolicy = 4;
}

message PodDisruptionBudgetStatus {
  optional int64 observedGeneration = 1;
  map<string, .k8s.io.apimachinery.pkg.apis.meta.v1.Time> disruptedPods = 2;
  optional int32 disruptionsAllowed = 3;
  optional int32 currentHealthy = 4;
  optional int32 desiredHealthy = 5;
  optional int32 expectedPods = 6;
  repeated .k8s.io.apimachinery.pkg.apis.meta.v1.Condition conditions = 7;
}
`;

/** All files, dependencies first. */
export const PROTO_FILES: readonly string[] = [
  META_V1_PROTO,
  RUNTIME_PROTO,
  INTSTR_PROTO,
  RESOURCE_PROTO,
  CORE_V1_PROTO,
  APPS_V1_PROTO,
  POLICY_V1_PROTO,
];

/** Top-level kinds this subset can decode: `<apiVersion>/<kind>` → fully qualified message name. */
export const KINDS: ReadonlyMap<string, string> = new Map([
  ['v1/Namespace', 'k8s.io.api.core.v1.Namespace'],
  ['v1/ConfigMap', 'k8s.io.api.core.v1.ConfigMap'],
  ['v1/Secret', 'k8s.io.api.core.v1.Secret'],
  ['v1/ServiceAccount', 'k8s.io.api.core.v1.ServiceAccount'],
  ['v1/Service', 'k8s.io.api.core.v1.Service'],
  ['apps/v1/Deployment', 'k8s.io.api.apps.v1.Deployment'],
  ['v1/DeleteOptions', 'k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions'],
  ['meta.k8s.io/v1/DeleteOptions', 'k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions'],
  ['policy/v1/PodDisruptionBudget', 'k8s.io.api.policy.v1.PodDisruptionBudget'],
  ['policy/v1/Eviction', 'k8s.io.api.policy.v1.Eviction'],
  ['policy/v1beta1/Eviction', 'k8s.io.api.policy.v1.Eviction'],
]);

/**
 * Go pointer fields (`*int32`, `*bool`, `*string`, …) of the messages above: the Go marshaller writes
 * them only when set, so a zero value on the wire is meaningful (e.g. `replicas: 0`) and is kept.
 * Every other scalar is a plain Go value, always written, and dropped from the JSON when zero
 * (`omitempty`); so are zero IntOrString and Quantity values that are not pointers (a zero
 * `targetPort` means "unset" to defaulting). Keys are `<Message>.<field>`.
 */
export const POINTER_FIELDS: ReadonlySet<string> = new Set([
  'ObjectMeta.deletionGracePeriodSeconds',
  'OwnerReference.controller',
  'OwnerReference.blockOwnerDeletion',
  'ClientIPConfig.timeoutSeconds',
  'ConfigMap.immutable',
  'ConfigMapEnvSource.optional',
  'ConfigMapKeySelector.optional',
  'Container.restartPolicy',
  'LoadBalancerIngress.ipMode',
  'PodSpec.terminationGracePeriodSeconds',
  'PodSpec.activeDeadlineSeconds',
  'PodSpec.automountServiceAccountToken',
  'PodSpec.shareProcessNamespace',
  'PodSpec.priority',
  'PodSpec.runtimeClassName',
  'PodSpec.enableServiceLinks',
  'PodSpec.preemptionPolicy',
  'PodSpec.setHostnameAsFQDN',
  'PodSpec.hostUsers',
  'PortStatus.error',
  'Secret.immutable',
  'SecretEnvSource.optional',
  'SecretKeySelector.optional',
  'ServiceAccount.automountServiceAccountToken',
  'ServicePort.appProtocol',
  'ServiceSpec.ipFamilyPolicy',
  'ServiceSpec.allocateLoadBalancerNodePorts',
  'ServiceSpec.loadBalancerClass',
  'ServiceSpec.internalTrafficPolicy',
  'ServiceSpec.trafficDistribution',
  'Toleration.tolerationSeconds',
  'DeploymentSpec.replicas',
  'DeploymentSpec.revisionHistoryLimit',
  'DeploymentSpec.progressDeadlineSeconds',
  'DeploymentSpec.podReplacementPolicy',
  'DeploymentStatus.terminatingReplicas',
  'DeploymentStatus.collisionCount',
  'RollingUpdateDeployment.maxUnavailable',
  'RollingUpdateDeployment.maxSurge',
  'DeleteOptions.gracePeriodSeconds',
  'DeleteOptions.orphanDependents',
  'DeleteOptions.propagationPolicy',
  'DeleteOptions.ignoreStoreReadErrorWithClusterBreakingPotential',
  'Preconditions.uid',
  'Preconditions.resourceVersion',
  'PodDisruptionBudgetSpec.minAvailable',
  'PodDisruptionBudgetSpec.maxUnavailable',
  'PodDisruptionBudgetSpec.unhealthyPodEvictionPolicy',
]);

/**
 * Embedded Go structs (`json:",inline"`): the protobuf has them as a nested message, the JSON has
 * their fields directly in the parent. Keys are `<Message>.<field>`.
 */
export const INLINE_FIELDS: ReadonlySet<string> = new Set([
  'ConfigMapEnvSource.localObjectReference',
  'ConfigMapKeySelector.localObjectReference',
  'SecretEnvSource.localObjectReference',
  'SecretKeySelector.localObjectReference',
]);

import type { Container, Pod } from 'kubernetes-types/core/v1.js';

/** A bind mount in an OCI runtime spec. */
export interface OciMount {
  readonly destination: string;
  readonly type: string;
  readonly source: string;
  readonly options: readonly string[];
}

/** A volume made ready on the host for one pod. */
export interface PreparedVolume {
  readonly name: string;
  /** Host path the volume's content lives at (a directory, or a file for hostPath File). */
  readonly hostPath: string;
  /** True for volumes the pod may never write (configMap, secret, downwardAPI, projected). */
  readonly readOnly: boolean;
}

/**
 * Why a volume or a mount could not be set up. `reason` follows upstream: `FailedMount` for pod-level
 * volume errors (the pod stays ContainerCreating and an event says why), `CreateContainerConfigError`
 * for a container-level problem such as a missing configMap key or a bad subPath.
 */
export class VolumeError extends Error {
  constructor(readonly reason: 'FailedMount' | 'CreateContainerConfigError', message: string) {
    super(message);
    this.name = 'VolumeError';
  }
}

/** Reads the objects volumes are made from (configMaps, secrets) through the API. */
export interface VolumeSources {
  configMap(namespace: string, name: string): Promise<{ data?: Record<string, string>; binaryData?: Record<string, string> } | undefined>;
  secret(namespace: string, name: string): Promise<{ data?: Record<string, string> } | undefined>;
}

export interface VolumeManager {
  /**
   * Makes every volume of the pod ready under `<root-dir>/pods/<uid>/volumes/<plugin>/<name>` (kubelet's
   * layout, e.g. `kubernetes.io~empty-dir`), refreshing the contents of configMap/secret/downwardAPI/projected
   * volumes when called again. Throws VolumeError.
   */
  setUp(pod: Pod): Promise<ReadonlyMap<string, PreparedVolume>>;
  /**
   * The OCI mounts for a container's volumeMounts (subPath and readOnly applied; `subPathExpr` expanded
   * from `env`, the container's resolved environment). Throws VolumeError.
   */
  mountsFor(pod: Pod, container: Container, volumes: ReadonlyMap<string, PreparedVolume>, env?: ReadonlyMap<string, string>): Promise<readonly OciMount[]>;
  /** Unmounts (tmpfs) and removes everything under the pod's directory. Safe to call twice. */
  tearDown(podUid: string): Promise<void>;
}

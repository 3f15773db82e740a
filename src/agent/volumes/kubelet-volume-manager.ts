import { mkdir, statfs } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { dirname } from 'node:path';
import type { Container, Pod, Volume } from 'kubernetes-types/core/v1.js';
import { volumeSourcesOf } from '../../api/defaults/pod.js';
import { parseQuantity } from '../../api/quantity.js';
import { assertNever } from '../../util/assert-never.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { writeAtomically, type Payload } from './atomic-writer.js';
import { configMapPayload, defaultFileMode, fetchConfigMap } from './config-map.js';
import { containerMounts } from './container-mounts.js';
import { downwardApiPayload } from './downward-api.js';
import { emptyDirMemorySize, setUpEmptyDir } from './empty-dir.js';
import { mountFailed } from './errors.js';
import { checkHostPath } from './host-path.js';
import { defaultRootDir, pluginNames, podDir, podVolumeDir, podVolumesDir, type SupportedVolumeType } from './paths.js';
import { projectedPayload } from './projected.js';
import type { ResourceAmounts } from '../downward/resource-field.js';
import { fetchSecret, secretPayload } from './secret.js';
import { unmountAndRemove } from './tear-down.js';
import { VolumeError, type OciMount, type PreparedVolume, type VolumeManager, type VolumeSources } from './types.js';

/** Options of {@link KubeletVolumeManager}. */
export interface KubeletVolumeManagerOptions {
  /** Like kubelet's `--root-dir`: pod volumes go under `<rootDir>/pods/<uid>/volumes`. Default `/var/lib/kubelet`. */
  readonly rootDir?: string;
  /** Where configMaps and secrets are read from (the API, through the agent's client or cache). */
  readonly sources: VolumeSources;
  /** This node's name; the value of `spec.nodeName` for subPathExpr variables when the pod lacks it. */
  readonly nodeName?: string;
  /** Default: silent. */
  readonly log?: Logger;
  /**
   * The node's allocatable resources as quantities (`{cpu: '4', memory: '8Gi', 'ephemeral-storage': '100Gi'}`),
   * used where upstream uses them: unset container limits in downward API values, and the size cap of
   * memory-backed volumes. Default: this host's CPU count, total memory and the size of the
   * filesystem holding rootDir (allocatable equals capacity when nothing is reserved).
   */
  readonly nodeAllocatable?: Readonly<Record<string, string>>;
}

// Path elements that come from objects: a uid or volume name must never walk out of its directory.
const safeElement = /^(?!\.{1,2}$)[A-Za-z0-9._-]+$/;

/**
 * The node agent's volume manager with kubelet's on-disk layout and semantics: emptyDir (disk or
 * tmpfs), hostPath with type checks, configMap/secret/downwardAPI/projected through the atomic writer
 * (secret, downwardAPI and projected on tmpfs), subPath/subPathExpr bind mounts, and a teardown that
 * unmounts before it deletes. Calls for one pod are serialised (the atomic writer needs it); different
 * pods proceed in parallel.
 */
export class KubeletVolumeManager implements VolumeManager {
  readonly #rootDir: string;
  readonly #sources: VolumeSources;
  readonly #nodeName: string | undefined;
  readonly #log: Logger;
  readonly #allocatableOption: Readonly<Record<string, string>> | undefined;
  #allocatable: Promise<ResourceAmounts> | undefined;
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(opts: KubeletVolumeManagerOptions) {
    this.#rootDir = opts.rootDir ?? defaultRootDir;
    this.#sources = opts.sources;
    this.#nodeName = opts.nodeName;
    this.#log = (opts.log ?? silentLogger).with({ subsystem: 'volumes' });
    this.#allocatableOption = opts.nodeAllocatable;
  }

  /** The root directory volumes live under (kubelet's `--root-dir`). */
  get rootDir(): string {
    return this.#rootDir;
  }

  /**
   * Prepares every volume of the pod (refreshing configMap/secret/downwardAPI/projected content on
   * repeated calls). All volumes are attempted, so one bad volume does not hold the others back; the
   * first failure (in spec order) is then thrown as VolumeError('FailedMount', `MountVolume.SetUp
   * failed for volume "<name>" : <cause>`), and any further ones are logged.
   */
  async setUp(pod: Pod): Promise<ReadonlyMap<string, PreparedVolume>> {
    const uid = checkedUid(pod.metadata?.uid);
    return this.#serialized(uid, () => this.#setUp(pod, uid));
  }

  /**
   * The OCI bind mounts for `container`'s volumeMounts; see containerMounts for the rules. `env`, when
   * given, is the container's resolved environment for subPathExpr (an extension of the contract:
   * without it only literal, fieldRef and resourceFieldRef variables are known).
   */
  async mountsFor(pod: Pod, container: Container, volumes: ReadonlyMap<string, PreparedVolume>, env?: ReadonlyMap<string, string>): Promise<readonly OciMount[]> {
    return containerMounts(pod, container, volumes, { allocatable: await this.#nodeAllocatable(), nodeName: this.#nodeName, log: this.#log, ...(env ? { env } : {}) });
  }

  /** Unmounts everything under `<rootDir>/pods/<uid>` (deepest first) and removes it; safe to repeat. */
  async tearDown(podUid: string): Promise<void> {
    const uid = checkedUid(podUid);
    return this.#serialized(uid, async () => {
      await unmountAndRemove(podDir(this.#rootDir, uid), this.#log);
      this.#log.debug('pod volumes torn down', { podUid: uid });
    });
  }

  // Chains work per pod uid; a failed step does not block the next one.
  #serialized<T>(uid: string, work: () => Promise<T>): Promise<T> {
    const prev = this.#queues.get(uid) ?? Promise.resolve();
    const next = prev.then(work, work);
    const tail = next.catch(() => {});
    this.#queues.set(uid, tail);
    void tail.then(() => {
      if (this.#queues.get(uid) === tail) this.#queues.delete(uid);
    });
    return next;
  }

  async #setUp(pod: Pod, uid: string): Promise<ReadonlyMap<string, PreparedVolume>> {
    const allocatable = await this.#nodeAllocatable();
    // kubelet keeps pod directories 0750: only root walks into them; containers see bind mounts.
    await mkdir(podVolumesDir(this.#rootDir, uid), { recursive: true, mode: 0o750 });
    const prepared = new Map<string, PreparedVolume>();
    const failures: VolumeError[] = [];
    for (const v of pod.spec?.volumes ?? []) {
      try {
        prepared.set(v.name, await this.#prepare(pod, uid, v, allocatable));
      } catch (e) {
        failures.push(mountFailed(v.name, e));
      }
    }
    const [first, ...rest] = failures;
    for (const f of rest) this.#log.warn('volume setup failed', { podUid: uid, error: f.message });
    if (first) throw first;
    return prepared;
  }

  async #prepare(pod: Pod, uid: string, v: Volume, allocatable: ResourceAmounts): Promise<PreparedVolume> {
    if (!safeElement.test(v.name)) throw new Error(`invalid volume name "${v.name}"`);
    const type = volumeTypeOf(v);
    const namespace = pod.metadata?.namespace ?? 'default';
    const dir = podVolumeDir(this.#rootDir, uid, pluginNames[type], v.name);
    const memory = allocatable.get('memory');
    const memoryBytes = memory === undefined ? undefined : memory / 1000n;
    // Secret-bearing and pod-describing volumes live in RAM, capped like a sizeless memory emptyDir.
    const ramDir = async (payload: Payload): Promise<PreparedVolume> => {
      await setUpEmptyDir(dir, 'Memory', emptyDirMemorySize(pod, undefined, memoryBytes));
      return this.#write(uid, v.name, dir, payload);
    };
    switch (type) {
      case 'emptyDir': {
        const medium = v.emptyDir?.medium ?? '';
        const size = medium === 'Memory' ? emptyDirMemorySize(pod, v.emptyDir?.sizeLimit, memoryBytes) : undefined;
        await setUpEmptyDir(dir, medium, size);
        return { name: v.name, hostPath: dir, readOnly: false };
      }
      case 'hostPath': {
        const src = v.hostPath!;
        await checkHostPath(src.path, src.type);
        return { name: v.name, hostPath: src.path, readOnly: false };
      }
      case 'configMap': {
        const src = v.configMap!;
        const optional = src.optional === true;
        // The payload comes first: a missing object or key must not leave a half-made volume behind.
        const payload = configMapPayload(src.items, await fetchConfigMap(this.#sources, namespace, src.name ?? '', optional), src.defaultMode ?? defaultFileMode, optional);
        await setUpEmptyDir(dir, '', undefined);
        return this.#write(uid, v.name, dir, payload);
      }
      case 'secret': {
        const src = v.secret!;
        const optional = src.optional === true;
        const payload = secretPayload(src.items, await fetchSecret(this.#sources, namespace, src.secretName ?? '', optional), src.defaultMode ?? defaultFileMode, optional);
        return ramDir(payload);
      }
      case 'downwardAPI': {
        const src = v.downwardAPI!;
        return ramDir(downwardApiPayload(src.items, pod, src.defaultMode ?? defaultFileMode, allocatable));
      }
      case 'projected':
        return ramDir(await projectedPayload(v.projected!, pod, this.#sources, allocatable));
      default:
        return assertNever(type, 'volume type');
    }
  }

  async #write(uid: string, name: string, dir: string, payload: Payload): Promise<PreparedVolume> {
    if (await writeAtomically(dir, payload)) this.#log.debug('volume content written', { podUid: uid, volume: name, files: payload.size });
    return { name, hostPath: dir, readOnly: true };
  }

  #nodeAllocatable(): Promise<ResourceAmounts> {
    this.#allocatable ??= this.#computeAllocatable();
    return this.#allocatable;
  }

  async #computeAllocatable(): Promise<ResourceAmounts> {
    const m = new Map<string, bigint>();
    if (this.#allocatableOption) {
      for (const [k, q] of Object.entries(this.#allocatableOption)) m.set(k, parseQuantity(q));
      return m;
    }
    m.set('cpu', BigInt(availableParallelism()) * 1000n);
    m.set('memory', BigInt(totalmem()) * 1000n);
    // The filesystem that holds rootDir (or its nearest existing ancestor) bounds ephemeral storage.
    for (let p = this.#rootDir; ; p = dirname(p)) {
      try {
        const fs = await statfs(p, { bigint: true });
        m.set('ephemeral-storage', fs.bsize * fs.blocks * 1000n);
        break;
      } catch {
        if (dirname(p) === p) break;
      }
    }
    return m;
  }
}

function checkedUid(uid: string | undefined): string {
  if (uid === undefined || uid === '') throw new VolumeError('FailedMount', 'pod has no metadata.uid');
  if (!safeElement.test(uid)) throw new VolumeError('FailedMount', `invalid pod uid "${uid}"`);
  return uid;
}

const supportedTypes = Object.keys(pluginNames) as SupportedVolumeType[];

/**
 * Which supported type a volume is. A volume with no source is an emptyDir (API defaulting does the
 * same); a source this manager has no plugin for, or more than one source, is an error naming them.
 */
export function volumeTypeOf(v: Volume): SupportedVolumeType {
  const kinds = volumeSourcesOf(v);
  if (kinds.length === 0) return 'emptyDir';
  if (kinds.length > 1) throw new Error(`volume sets more than one source: ${kinds.join(', ')}`);
  const kind = kinds[0]!;
  const supported = supportedTypes.find((t) => t === kind);
  if (!supported) throw new Error(`volume type "${kind}" is not supported by skiff (supported: ${supportedTypes.join(', ')})`);
  return supported;
}

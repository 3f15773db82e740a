/**
 * The node's image store, as the pod workers see it. Images are kept content-addressed under the
 * agent's data dir; each image present is also unpacked once into a read-only root filesystem that
 * containers use as the lower layer of their own overlay.
 */

/** The parts of an OCI image config a container is built from (`config` in the image config JSON). */
export interface ImageConfig {
  readonly Env?: readonly string[];
  readonly Entrypoint?: readonly string[];
  readonly Cmd?: readonly string[];
  readonly WorkingDir?: string;
  readonly User?: string;
  readonly ExposedPorts?: Readonly<Record<string, unknown>>;
  readonly Labels?: Readonly<Record<string, string>>;
  readonly StopSignal?: string;
}

/** An image present on this node. */
export interface LocalImage {
  /** `sha256:<hex>` of the image config blob (what `crictl images` calls the image id). */
  readonly id: string;
  /** Normalised names it is known by, e.g. `docker.io/library/busybox:1.36`, `127.0.0.1:5000/nginx:1.22`. */
  readonly repoTags: readonly string[];
  /** `<repo>@sha256:<manifest digest>` for images pulled from a registry. */
  readonly repoDigests: readonly string[];
  /** Bytes of the compressed layers (what Node.status.images reports). */
  readonly size: number;
  /** Absolute path of the unpacked, read-only root filesystem (never written to by containers). */
  readonly rootfs: string;
  readonly config: ImageConfig;
}

export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';

/** Why an image could not be made present; `reason` is what the container's waiting state shows. */
export class ImageError extends Error {
  constructor(
    /** `ErrImagePull` (registry or transfer failure), `ErrImageNeverPull` (policy Never, not present), `InvalidImageName`. */
    readonly reason: 'ErrImagePull' | 'ErrImageNeverPull' | 'InvalidImageName',
    message: string,
  ) {
    super(message);
    this.name = 'ImageError';
  }
}

/** Progress of a pull, for events and the CLI. */
export type PullProgress = (message: string) => void;

export interface ImageService {
  /**
   * Makes `ref` present according to `policy` (upstream's rules: `IfNotPresent` pulls only when absent,
   * `Always` resolves the tag against the registry and pulls what changed, `Never` only looks locally).
   * Throws ImageError.
   */
  ensure(ref: string, policy: PullPolicy, progress?: PullProgress): Promise<LocalImage>;
  /** The local image `ref` names (tag, digest reference or image id), if present. */
  get(ref: string): LocalImage | undefined;
  list(): readonly LocalImage[];
  /** Removes a tag; the image's blobs and rootfs go when no tag and no running container needs them. */
  remove(ref: string): Promise<void>;
  /** Imports an OCI-layout tarball or a `docker save` archive; returns the images it held. */
  importArchive(path: string): Promise<readonly LocalImage[]>;
}

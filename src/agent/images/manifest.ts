import type { ImageConfig } from './types.js';

/**
 * The JSON documents of OCI and Docker v2 images (manifests, indexes, configs) and the media types that name them,
 * plus the rewrite of Docker media types to OCI that umoci needs (it refuses Docker schema 2 manifests).
 */

/** Media types a registry may answer a manifest request with. */
export const MediaType = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerTar: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/**
 * The Accept header for manifest requests: all four types, because distribution 2.8 answers 404 for an OCI
 * manifest when the header does not name the OCI type (and for no header at all).
 */
export const manifestAccept = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest].join(', ');

/** An OCI content descriptor. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: Platform;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly urls?: readonly string[];
}

/** The platform an index entry is for. */
export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
}

/** An image manifest (OCI or Docker schema 2). */
export interface ImageManifest {
  readonly schemaVersion: number;
  readonly mediaType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

/** An image index or Docker manifest list. */
export interface ImageIndex {
  readonly schemaVersion: number;
  readonly mediaType?: string;
  readonly manifests: readonly Descriptor[];
}

/** The image config blob, the parts the store reads. */
export interface ImageConfigBlob {
  readonly architecture?: string;
  readonly os?: string;
  readonly config?: ImageConfig;
  readonly rootfs?: { readonly type: string; readonly diff_ids: readonly string[] };
}

/** What kind of document a manifest response holds, from its media type or, when that is vague, its shape. */
export function manifestKind(mediaType: string | undefined, doc: unknown): 'index' | 'manifest' | 'schema1' | 'unknown' {
  const mt = (mediaType ?? '').split(';')[0]!.trim();
  if (mt === MediaType.ociIndex || mt === MediaType.dockerManifestList) return 'index';
  if (mt === MediaType.ociManifest || mt === MediaType.dockerManifest) return 'manifest';
  if (mt === MediaType.dockerSchema1 || mt === MediaType.dockerSchema1Signed) return 'schema1';
  // Some registries send application/json; OCI documents may omit mediaType, so fall back to the shape.
  if (typeof doc === 'object' && doc !== null) {
    const d = doc as Record<string, unknown>;
    const inner = typeof d['mediaType'] === 'string' ? (d['mediaType'] as string) : undefined;
    if (inner && inner !== mt) return manifestKind(inner, undefined);
    if (Array.isArray(d['manifests'])) return 'index';
    if (typeof d['config'] === 'object' && Array.isArray(d['layers'])) return 'manifest';
    if (d['schemaVersion'] === 1) return 'schema1';
  }
  return 'unknown';
}

/** The layer media types umoci can apply, mapped from their Docker names; undefined for unsupported layers. */
function ociLayerType(mediaType: string): string | undefined {
  switch (mediaType) {
    case MediaType.ociLayerGzip: case MediaType.dockerLayerGzip: return MediaType.ociLayerGzip;
    case MediaType.ociLayerTar: case MediaType.dockerLayerTar: return MediaType.ociLayerTar;
    case MediaType.ociLayerZstd: return MediaType.ociLayerZstd;
    default: return undefined;
  }
}

/**
 * The same image as an OCI manifest: Docker media types rewritten to their OCI twins (blobs untouched, so the
 * config digest, i.e. the image id, stays the same). Throws on layer types umoci cannot apply.
 */
export function toOciManifest(m: ImageManifest): ImageManifest {
  const layers = m.layers.map((l) => {
    const mediaType = ociLayerType(l.mediaType);
    if (!mediaType) throw new Error(`unsupported layer media type ${l.mediaType}`);
    return { mediaType, digest: l.digest, size: l.size, ...(l.annotations ? { annotations: l.annotations } : {}) };
  });
  return {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: m.config.digest, size: m.config.size },
    layers,
    ...(m.annotations ? { annotations: m.annotations } : {}),
  };
}

/** Checks the fields the store relies on, so a malformed document fails with a clear message, not a TypeError. */
export function assertImageManifest(doc: unknown): asserts doc is ImageManifest {
  const d = doc as Partial<ImageManifest> | null;
  if (!d || typeof d !== 'object' || !isDescriptor(d.config) || !Array.isArray(d.layers) || !d.layers.every(isDescriptor)) {
    throw new Error('malformed image manifest: expected config and layers descriptors');
  }
}

/** Like assertImageManifest, for indexes. */
export function assertImageIndex(doc: unknown): asserts doc is ImageIndex {
  const d = doc as Partial<ImageIndex> | null;
  if (!d || typeof d !== 'object' || !Array.isArray(d.manifests) || !d.manifests.every(isDescriptor)) {
    throw new Error('malformed image index: expected a manifests array of descriptors');
  }
}

function isDescriptor(x: unknown): x is Descriptor {
  const d = x as Partial<Descriptor> | null;
  return !!d && typeof d === 'object' && typeof d.digest === 'string' && /^sha256:[a-f0-9]{64}$/.test(d.digest) && typeof d.size === 'number' && d.size >= 0;
}

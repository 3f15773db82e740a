import type { ImageManifest } from './manifest.js';
import type { ImageConfig } from './types.js';

/**
 * An image whose blobs are all in the content store and verified, ready to be unpacked and recorded in the index.
 * Pulls and archive imports both produce these; the store does the rest the same way for both.
 */
export interface StagedImage {
  /** Config digest: the image id. */
  readonly id: string;
  /** The OCI form of the manifest (what umoci reads) and its digest in the content store. */
  readonly manifest: ImageManifest;
  readonly manifestDigest: string;
  /** Every blob to keep for this image (manifest as fetched, OCI manifest, config, layers). */
  readonly blobs: readonly string[];
  /** Canonical names to point at the image. */
  readonly names: readonly string[];
  readonly repoDigests: readonly string[];
  /** Bytes of the layers as stored. */
  readonly size: number;
  readonly config: ImageConfig;
}

/** Human-readable bytes for progress lines (`1.2 MiB`). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** `sha256:0123456789ab` — the short digest used in progress lines. */
export function shortDigest(d: string): string {
  return d.slice(0, 'sha256:'.length + 12);
}

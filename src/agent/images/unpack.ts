import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { ContentStore } from './content-store.js';
import { MediaType, type ImageManifest } from './manifest.js';

const execFileAsync = promisify(execFile);

/**
 * Unpacks an image into a root filesystem with `umoci unpack`, which applies the layers with whiteouts, ownership
 * and modes right. umoci reads an OCI image layout, so each unpack gets a throw-away layout whose blobs are hard
 * links into the content store (no copies, and the store itself is never written by umoci). The bundle is built
 * beside its final place and renamed into it, so a rootfs that exists is always complete.
 */

/** What to unpack and where. */
export interface UnpackRequest {
  readonly content: ContentStore;
  /** Digest of the OCI manifest (Docker media types already rewritten) in the content store. */
  readonly manifestDigest: string;
  readonly manifest: ImageManifest;
  /** Scratch directory on the same filesystem as the content store (hard links). */
  readonly tmpDir: string;
  /** Final bundle directory; the root filesystem ends up in `<bundle>/rootfs`. */
  readonly bundle: string;
}

/** A unique scratch name that says which process made it, so leftovers of dead processes can be recognised. */
export function scratchName(what: string): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}-${what}`;
}

/** Runs `umoci unpack`; resolves when `<bundle>/rootfs` exists. Throws with umoci's own last words. */
export async function unpackImage(r: UnpackRequest): Promise<void> {
  if (existsSync(r.bundle)) return;
  const layout = join(r.tmpDir, scratchName('layout'));
  const staging = join(dirname(r.bundle), `.${scratchName('unpack')}`);
  try {
    await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
    await mkdir(dirname(r.bundle), { recursive: true });
    const digests = new Set([r.manifestDigest, r.manifest.config.digest, ...r.manifest.layers.map((l) => l.digest)]);
    for (const d of digests) await link(r.content.path(d), join(layout, 'blobs', 'sha256', d.slice('sha256:'.length)));
    const size = r.content.read(r.manifestDigest).length;
    const index = { schemaVersion: 2, manifests: [{ mediaType: MediaType.ociManifest, digest: r.manifestDigest, size, annotations: { 'org.opencontainers.image.ref.name': 'image' } }] };
    await writeFile(join(layout, 'index.json'), JSON.stringify(index));
    await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    // Without root, umoci must not try to chown to the image's owners.
    const args = ['unpack', ...(process.getuid?.() === 0 ? [] : ['--rootless']), '--image', `${layout}:image`, staging];
    try {
      await execFileAsync('umoci', args, { maxBuffer: 16 * 1024 * 1024 });
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stderr?: string };
      if (err.code === 'ENOENT') throw new Error('failed to unpack image: umoci not found (install the Debian package "umoci")');
      const words = (err.stderr ?? err.message).trim().split('\n').filter(Boolean).pop() ?? err.message;
      throw new Error(`failed to unpack image: umoci: ${words}`);
    }
    try {
      await rename(staging, r.bundle);
    } catch (e) {
      // Another unpack of the same image (another process) finished first; its bundle is as good as ours.
      if (!existsSync(r.bundle)) throw e;
    }
  } finally {
    await rm(layout, { recursive: true, force: true });
    await rm(staging, { recursive: true, force: true });
  }
}

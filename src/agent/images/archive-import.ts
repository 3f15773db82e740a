import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { x as untar } from 'tar';
import type { Logger } from '../../util/log.js';
import { ContentStore } from './content-store.js';
import { assertImageIndex, assertImageManifest, manifestKind, MediaType, toOciManifest, type Descriptor, type ImageConfigBlob, type ImageManifest } from './manifest.js';
import { hostPlatform, pickPlatform } from './platform.js';
import { tryParseReference } from './reference.js';
import type { StagedImage } from './staged-image.js';
import { scratchName } from './unpack.js';

/**
 * Reads image archives into the content store: OCI image layouts in a tar (`skopeo copy … oci-archive:`, `ctr
 * images export`, Docker ≥ 25's `docker save`) and legacy `docker save` archives (`manifest.json` with RepoTags and
 * uncompressed layer tars). When a tar holds both, the OCI layout is read and `manifest.json` only supplies names.
 * Every blob is hashed before it enters the store.
 */

/** What an import needs from the store. */
export interface ImportContext {
  readonly content: ContentStore;
  /** Scratch directory on the store's filesystem (blobs are moved, not copied, into the store). */
  readonly tmpDir: string;
  readonly log: Logger;
  pin(digest: string): void;
}

/** An archive's images, plus bare tags that could not name anything (reported to the user). */
export interface ImportResult {
  readonly images: StagedImage[];
  /** `org.opencontainers.image.ref.name` values that were only a tag, with no repository to attach it to. */
  readonly unnamedTags: string[];
}

const annotationImageName = 'io.containerd.image.name';
const annotationRefName = 'org.opencontainers.image.ref.name';

/** Unpacks `file` (tar, optionally gzip-compressed) into scratch space and stages every image it holds. */
export async function importImageArchive(file: string, ctx: ImportContext): Promise<ImportResult> {
  const dir = join(ctx.tmpDir, scratchName('import'));
  await mkdir(dir, { recursive: true });
  try {
    try {
      const fh = await open(file, 'r');
      await fh.close();
      // node-tar refuses absolute paths and `..`, and never follows a symlink out of `dir` while extracting.
      await untar({ file, cwd: dir, strict: true, preserveOwner: false });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'EISDIR') throw new Error(`${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
      throw new Error(`${file}: not a readable tar archive: ${err.message}`);
    }
    const legacy = existsSync(join(dir, 'manifest.json')) ? readLegacyManifest(dir) : undefined;
    if (existsSync(join(dir, 'oci-layout')) && existsSync(join(dir, 'index.json'))) return await readOciLayout(dir, legacy, ctx);
    if (legacy) return { images: await readDockerArchive(dir, legacy, ctx), unnamedTags: [] };
    throw new Error(`${file}: neither an OCI image layout (oci-layout, index.json) nor a docker save archive (manifest.json)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface LegacyEntry { readonly Config: string; readonly RepoTags?: readonly string[] | null; readonly Layers: readonly string[] }

function readLegacyManifest(dir: string): LegacyEntry[] {
  const doc = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as unknown;
  if (!Array.isArray(doc) || !doc.every((e: Partial<LegacyEntry>) => typeof e?.Config === 'string' && Array.isArray(e.Layers))) {
    throw new Error('manifest.json: expected a list of {Config, RepoTags, Layers}');
  }
  return doc as LegacyEntry[];
}

/** A path inside the extracted archive, refusing anything (e.g. a symlink) that resolves outside it. */
function inside(dir: string, rel: string): string {
  const p = realpathSync(join(dir, rel));
  const root = realpathSync(dir);
  if (p !== root && !p.startsWith(root + sep)) throw new Error(`archive entry ${rel} points outside the archive`);
  return p;
}

/** Canonical names from RepoTags-style strings; invalid ones are logged and skipped. */
function canonicalNames(names: readonly string[], log: Logger): string[] {
  const out: string[] = [];
  for (const n of names) {
    const r = tryParseReference(n);
    if (r) out.push(r.canonical);
    else log.warn('skipping an invalid image name in the archive', { name: n });
  }
  return out;
}

async function readOciLayout(dir: string, legacy: LegacyEntry[] | undefined, ctx: ImportContext): Promise<ImportResult> {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as unknown;
  assertImageIndex(index);
  const blobPath = (d: string): string => inside(dir, join('blobs', 'sha256', d.slice('sha256:'.length)));
  const readBlob = (d: Descriptor): Buffer => {
    // An earlier entry of the same index may already have moved this blob into the store.
    const moved = !existsSync(join(dir, 'blobs', 'sha256', d.digest.slice('sha256:'.length))) && ctx.content.has(d.digest, d.size);
    const b = moved ? ctx.content.read(d.digest) : readFileSync(blobPath(d.digest));
    if (b.length !== d.size) throw new Error(`blob ${d.digest} is ${b.length} bytes, expected ${d.size}`);
    return b;
  };
  // Moves one blob into the store; several manifests may share it, and then it is already there.
  const adoptBlob = async (d: Descriptor, kind: string): Promise<void> => {
    const file = join(dir, 'blobs', 'sha256', d.digest.slice('sha256:'.length));
    if (!existsSync(file) && ctx.content.has(d.digest, d.size)) {
      ctx.pin(d.digest);
      return;
    }
    await ctx.content.adopt(blobPath(d.digest), d.digest, d.size, `${kind}-${d.digest}`);
    ctx.pin(d.digest);
  };
  // Legacy names by config file, for Docker ≥ 25 archives whose index.json carries no names.
  const legacyTags = new Map<string, readonly string[]>();
  for (const e of legacy ?? []) legacyTags.set(e.Config.split('/').pop() ?? '', e.RepoTags ?? []);

  const images: StagedImage[] = [];
  const unnamedTags: string[] = [];
  for (const top of index.manifests) {
    let desc = top;
    let body = readBlob(desc);
    let doc = JSON.parse(body.toString('utf8')) as unknown;
    if (manifestKind(desc.mediaType, doc) === 'index') {
      assertImageIndex(doc);
      const chosen = pickPlatform(doc.manifests, hostPlatform());
      if (!chosen) {
        ctx.log.warn('skipping an image with no manifest for this platform', { digest: top.digest });
        continue;
      }
      desc = chosen;
      body = readBlob(desc);
      doc = JSON.parse(body.toString('utf8')) as unknown;
    }
    if (manifestKind(desc.mediaType, doc) !== 'manifest') {
      ctx.log.warn('skipping an index entry that is not an image manifest', { digest: desc.digest, mediaType: desc.mediaType });
      continue;
    }
    assertImageManifest(doc);
    const manifest: ImageManifest = doc;
    const oci = toOciManifest(manifest);
    await adoptBlob(top, 'manifest');
    if (desc !== top) await adoptBlob(desc, 'manifest');
    await adoptBlob(manifest.config, 'config');
    for (const l of manifest.layers) await adoptBlob(l, 'layer');
    const ociDigest = await ctx.content.writeBuffer(Buffer.from(JSON.stringify(oci)), `manifest-${desc.digest}`);
    ctx.pin(ociDigest);
    const config = JSON.parse(ctx.content.read(manifest.config.digest).toString('utf8')) as ImageConfigBlob;

    const a = top.annotations ?? {};
    let names: string[] = [];
    if (a[annotationImageName]) names = canonicalNames([a[annotationImageName]], ctx.log);
    else if (a[annotationRefName]) {
      const refName = a[annotationRefName];
      // A ref.name is either a full reference (skopeo oci-archive:F:busybox:1.36) or just a tag (oci-archive:F:1.36).
      if (/[/:@]/.test(refName)) names = canonicalNames([refName], ctx.log);
      else unnamedTags.push(refName);
    }
    if (names.length === 0) names = canonicalNames(legacyTags.get(manifest.config.digest.slice(7)) ?? [], ctx.log);
    images.push({
      id: manifest.config.digest,
      manifest: oci,
      manifestDigest: ociDigest,
      blobs: [...new Set([top.digest, desc.digest, ociDigest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)])],
      names,
      repoDigests: [...new Set(names.map((n) => `${tryParseReference(n)!.name}@${top.digest}`))],
      size: manifest.layers.reduce((n, l) => n + l.size, 0),
      config: config.config ?? {},
    });
  }
  return { images, unnamedTags };
}

/** Media type of a layer file from its first bytes: legacy archives hold plain tars, but compressed ones occur. */
async function layerMediaType(file: string): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(4);
    await fh.read(b, 0, 4, 0);
    if (b[0] === 0x1f && b[1] === 0x8b) return MediaType.ociLayerGzip;
    if (b.readUInt32LE(0) === 0xfd2fb528) return MediaType.ociLayerZstd;
    return MediaType.ociLayerTar;
  } finally {
    await fh.close();
  }
}

async function readDockerArchive(dir: string, entries: LegacyEntry[], ctx: ImportContext): Promise<StagedImage[]> {
  const images: StagedImage[] = [];
  for (const e of entries) {
    const configBytes = readFileSync(inside(dir, e.Config));
    const config = JSON.parse(configBytes.toString('utf8')) as ImageConfigBlob;
    const configSize = configBytes.length;
    const configDigest = await ctx.content.writeBuffer(configBytes, 'config');
    ctx.pin(configDigest);
    const layers: Descriptor[] = [];
    for (const rel of e.Layers) {
      const f = inside(dir, rel);
      const mediaType = await layerMediaType(f);
      const { digest, size } = await ContentStore.hashFile(f);
      // One layer file can be listed by several images (or symlinked); it moves into the store only once.
      if (!ctx.content.has(digest, size)) await ctx.content.adopt(f, digest, size, `layer-${digest}`);
      ctx.pin(digest);
      layers.push({ mediaType, digest, size });
    }
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: configDigest, size: configSize },
      layers,
    };
    const manifestDigest = await ctx.content.writeBuffer(Buffer.from(JSON.stringify(manifest)), `manifest-${configDigest}`);
    ctx.pin(manifestDigest);
    images.push({
      id: configDigest,
      manifest,
      manifestDigest,
      blobs: [...new Set([manifestDigest, configDigest, ...layers.map((l) => l.digest)])],
      names: canonicalNames(e.RepoTags ?? [], ctx.log),
      // A legacy archive carries no registry manifest, so there is no repo digest to report.
      repoDigests: [],
      size: layers.reduce((n, l) => n + l.size, 0),
      config: config.config ?? {},
    });
  }
  return images;
}

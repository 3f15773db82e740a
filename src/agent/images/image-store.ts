import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { assertNever } from '../../util/assert-never.js';
import type { Logger } from '../../util/log.js';
import { silentLogger } from '../../util/log.js';
import { importImageArchive } from './archive-import.js';
import { ContentStore } from './content-store.js';
import { ImageIndex, type ImageRecord, type IndexDoc } from './image-index.js';
import { PullError, pullImage } from './puller.js';
import { isSha256Digest, parseReference, tryParseReference, type ImageReference } from './reference.js';
import type { RegistriesConfig } from './registries-config.js';
import { RegistryClient } from './registry-client.js';
import { rootfsMounted } from './rootfs-mounted.js';
import { shortDigest, type StagedImage } from './staged-image.js';
import { ImageError, type ImageService, type LocalImage, type PullPolicy, type PullProgress } from './types.js';
import { scratchName, unpackImage } from './unpack.js';
import { pidAlive } from '../../util/pid-alive.js';

/**
 * The node's image store: content-addressed blobs, a JSON index of names → images, and one read-only root
 * filesystem per image, unpacked once by umoci.
 *
 * ```
 * <root>/blobs/sha256/<hex>            every manifest, config and layer, verified on the way in
 * <root>/images.json                   ids → records, names → ids (atomic replace, lock file for writers)
 * <root>/rootfs/<config-hex>/rootfs    the unpacked image (containers overlay it, never write it)
 * <root>/tmp/                          scratch: unpack layouts, extracted archives
 * ```
 *
 * Names are counted references: an image goes (rootfs, then the blobs no other image uses) when its last name is
 * removed or moved to another image, unless a container still uses it; it then stays, nameless, until `prune()`.
 */

/** Options of OciImageStore. */
export interface OciImageStoreOptions {
  /** Directory of the store, e.g. `<data-dir>/agent/images`; created when missing. */
  readonly root: string;
  /** Mirrors, TLS and credentials in k3s registries.yaml shape; default: none (every registry as itself). */
  readonly registries?: RegistriesConfig;
  readonly log?: Logger;
  /**
   * True while a container uses image `id`. Such an image survives losing its names. Overlay mounts of a rootfs
   * are detected from the mount table anyway; this covers containers between creation and mount.
   */
  readonly inUse?: (id: string) => boolean;
  /** Parallel layer downloads per pull (default 3). */
  readonly concurrency?: number;
  /** Timeout of a manifest or token request, in ms (default 30 000). */
  readonly requestTimeoutMs?: number;
}

/** What `importArchiveDetailed` found, including tags it could not attach to a repository. */
export interface ImportReport {
  readonly images: readonly LocalImage[];
  /** OCI `ref.name` values that were only a tag (e.g. skopeo's `oci-archive:FILE:1.36`); those images are untagged. */
  readonly unnamedTags: readonly string[];
}

function pidOfScratch(name: string): number {
  const m = /^\.?(\d+)-/.exec(name);
  return m ? Number(m[1]) : 0;
}

/** The ImageService of a real node (see the file comment for the layout). */
export class OciImageStore implements ImageService {
  /** The store's directory. */
  readonly root: string;
  readonly #content: ContentStore;
  readonly #index: ImageIndex;
  readonly #client: RegistryClient;
  readonly #log: Logger;
  readonly #inUse: (id: string) => boolean;
  readonly #concurrency: number;
  readonly #tmp: string;
  readonly #rootfsDir: string;
  /** Pulls in flight by canonical reference: concurrent ensure() calls of one image share one pull. */
  readonly #pulls = new Map<string, Promise<LocalImage>>();
  /** Blob downloads in flight by digest, shared between pulls of images with common layers. */
  readonly #blobOps = new Map<string, Promise<void>>();
  /** Unpacks in flight by image id. */
  readonly #unpacks = new Map<string, Promise<void>>();
  /** Blobs in use by unfinished operations (count per digest): garbage collection leaves them alone. */
  readonly #pins = new Map<string, number>();

  constructor(o: OciImageStoreOptions) {
    this.root = o.root;
    this.#log = o.log ?? silentLogger;
    this.#tmp = join(o.root, 'tmp');
    this.#rootfsDir = join(o.root, 'rootfs');
    mkdirSync(this.#tmp, { recursive: true });
    mkdirSync(this.#rootfsDir, { recursive: true });
    this.#content = new ContentStore(o.root);
    this.#index = new ImageIndex(join(o.root, 'images.json'));
    this.#client = new RegistryClient({ registries: o.registries, log: this.#log, timeoutMs: o.requestTimeoutMs });
    this.#concurrency = o.concurrency ?? 3;
    this.#inUse = (id) => (o.inUse?.(id) ?? false) || rootfsMounted(this.#rootfsOf(id));
    this.#removeDeadScratch();
  }

  /** Releases pooled registry connections. */
  async close(): Promise<void> {
    await this.#client.close();
  }

  async ensure(ref: string, policy: PullPolicy, progress?: PullProgress): Promise<LocalImage> {
    // An image id is not a pullable name, but a present image may be asked for by it.
    if (policy !== 'Always' && isSha256Digest(ref)) {
      const img = this.get(ref);
      if (img) return img;
    }
    const parsed = parseReference(ref);
    switch (policy) {
      case 'Never': {
        const img = await this.#present(parsed);
        if (img) return img;
        throw new ImageError('ErrImageNeverPull', `Container image "${ref}" is not present with pull policy of Never`);
      }
      case 'IfNotPresent':
        return (await this.#present(parsed)) ?? this.#pullOnce(parsed, ref, progress);
      case 'Always':
        // Content named by digest cannot change, so only a tag needs asking the registry again.
        if (parsed.digest) return (await this.#present(parsed)) ?? this.#pullOnce(parsed, ref, progress);
        return this.#pullOnce(parsed, ref, progress);
      default:
        return assertNever(policy, 'pull policy');
    }
  }

  get(ref: string): LocalImage | undefined {
    const doc = this.#index.doc();
    const rec = this.#find(doc, ref);
    return rec && existsSync(this.#rootfsOf(rec.id)) ? this.#toLocal(doc, rec) : undefined;
  }

  list(): readonly LocalImage[] {
    const doc = this.#index.doc();
    return Object.values(doc.images)
      .filter((r) => existsSync(this.#rootfsOf(r.id)))
      .map((r) => this.#toLocal(doc, r))
      .sort((a, b) => (a.repoTags[0] ?? a.id).localeCompare(b.repoTags[0] ?? b.id));
  }

  async remove(ref: string): Promise<void> {
    const doc = this.#index.doc();
    const rec = this.#find(doc, ref);
    if (!rec) return;
    const parsed = tryParseReference(ref);
    // A name removes that name; an id or a digest removes every name of the image (as `crictl rmi` does).
    const byName = parsed !== undefined && doc.names[parsed.canonical] === rec.id;
    await this.#index.update((d) => {
      for (const [name, id] of Object.entries(d.names)) {
        if (id === rec.id && (!byName || name === parsed!.canonical)) delete d.names[name];
      }
    });
    await this.#collect([rec.id]);
  }

  async importArchive(path: string): Promise<readonly LocalImage[]> {
    return (await this.importArchiveDetailed(path)).images;
  }

  /** importArchive, also reporting bare tags that named no repository (for the CLI to explain). */
  async importArchiveDetailed(path: string): Promise<ImportReport> {
    const pins = new Set<string>();
    let ok = false;
    try {
      const r = await importImageArchive(path, { content: this.#content, tmpDir: this.#tmp, log: this.#log, pin: (d) => this.#pin(d, pins) });
      if (r.images.length === 0) throw new Error(`${path}: the archive holds no image for this platform`);
      const images = await this.#commit(r.images);
      ok = true;
      return { images, unnamedTags: r.unnamedTags };
    } finally {
      this.#unpin(pins);
      if (!ok) await this.#discard(pins);
    }
  }

  /**
   * Removes what nothing needs: nameless images no container uses, rootfs directories and blobs no image
   * records (only those older than a minute, so another process's import in progress is safe). Returns the ids
   * of the images removed.
   */
  async prune(): Promise<string[]> {
    const doc = this.#index.doc();
    const named = new Set(Object.values(doc.names));
    const removed = await this.#collect(Object.keys(doc.images).filter((id) => !named.has(id)));
    const after = this.#index.doc();
    const referenced = new Set(Object.values(after.images).flatMap((r) => r.blobs));
    const cutoff = Date.now() - 60_000;
    const old = (p: string): boolean => { try { return statSync(p).mtimeMs < cutoff; } catch { return false; } };
    for (const d of this.#content.list()) {
      if (!referenced.has(d) && !this.#pins.has(d) && old(this.#content.path(d))) await this.#content.delete(d);
    }
    for (const hex of readdirSync(this.#rootfsDir)) {
      const id = `sha256:${hex}`;
      if (/^[a-f0-9]{64}$/.test(hex) && !after.images[id] && !this.#inUse(id) && old(join(this.#rootfsDir, hex))) await this.#trash(join(this.#rootfsDir, hex));
    }
    return removed;
  }

  // --- pulls ------------------------------------------------------------------------------------------------------

  /** One pull per canonical reference at a time; later callers wait for the running one. */
  #pullOnce(ref: ImageReference, display: string, progress?: PullProgress): Promise<LocalImage> {
    const running = this.#pulls.get(ref.canonical);
    if (running) {
      progress?.(`Waiting for the pull of "${display}" already in progress`);
      return running;
    }
    const p = this.#pull(ref, display, progress).finally(() => this.#pulls.delete(ref.canonical));
    this.#pulls.set(ref.canonical, p);
    return p;
  }

  async #pull(ref: ImageReference, display: string, progress?: PullProgress): Promise<LocalImage> {
    const t0 = Date.now();
    progress?.(`Pulling image "${display}"`);
    const pins = new Set<string>();
    let ok = false;
    try {
      const staged = await pullImage(ref, {
        client: this.#client,
        content: this.#content,
        log: this.#log,
        progress,
        concurrency: this.#concurrency,
        pin: (d) => this.#pin(d, pins),
        once: (d, fetch) => this.#once(d, fetch),
        complete: (id) => this.#index.doc().images[id] !== undefined && existsSync(this.#rootfsOf(id)),
      });
      if (!existsSync(this.#rootfsOf(staged.id))) progress?.(`Unpacking ${shortDigest(staged.id)}`);
      const [img] = await this.#commit([staged]);
      ok = true;
      const secs = ((Date.now() - t0) / 1000).toFixed(3);
      progress?.(`Successfully pulled image "${display}" in ${secs}s. Image size: ${staged.size} bytes.`);
      this.#log.info('pulled image', { ref: ref.canonical, id: staged.id, ms: Date.now() - t0 });
      return img!;
    } catch (e) {
      if (e instanceof ImageError) throw e;
      const why = e instanceof PullError ? e.message : (e as Error).message;
      this.#log.warn('image pull failed', { ref: ref.canonical, error: why });
      throw new ImageError('ErrImagePull', `failed to pull and unpack image "${ref.canonical}": ${why}`);
    } finally {
      this.#unpin(pins);
      // Whatever a failed pull wrote and no image records goes, so a failure leaves the store as it was.
      if (!ok) await this.#discard(pins);
    }
  }

  /** Runs `fetch` for a digest unless one is running; callers of the same digest share its outcome. */
  #once(digest: string, fetch: () => Promise<void>): Promise<void> {
    const running = this.#blobOps.get(digest);
    if (running) return running;
    const p = fetch().finally(() => this.#blobOps.delete(digest));
    this.#blobOps.set(digest, p);
    return p;
  }

  // --- commit, lookup ---------------------------------------------------------------------------------------------

  /**
   * Unpacks staged images and records them: names move to the new images, and images that lost their last name
   * are collected. Returns the images in the order staged (one per distinct id).
   */
  async #commit(staged: readonly StagedImage[]): Promise<LocalImage[]> {
    const byId = new Map<string, StagedImage>();
    for (const s of staged) {
      const prev = byId.get(s.id);
      byId.set(s.id, prev ? { ...prev, names: [...prev.names, ...s.names], repoDigests: [...prev.repoDigests, ...s.repoDigests], blobs: [...new Set([...prev.blobs, ...s.blobs])] } : s);
    }
    for (const s of byId.values()) await this.#unpack(s);
    const losers = await this.#index.update((doc) => {
      const lost = new Set<string>();
      for (const s of byId.values()) {
        const old = doc.images[s.id];
        doc.images[s.id] = {
          id: s.id,
          manifest: s.manifestDigest,
          blobs: [...new Set([...(old?.blobs ?? []), ...s.blobs])],
          repoDigests: [...new Set([...(old?.repoDigests ?? []), ...s.repoDigests])],
          size: s.size,
          config: s.config,
        };
        for (const name of s.names) {
          const prev = doc.names[name];
          if (prev !== undefined && prev !== s.id) lost.add(prev);
          doc.names[name] = s.id;
        }
      }
      return [...lost];
    });
    await this.#collect(losers);
    const doc = this.#index.doc();
    return [...byId.keys()].map((id) => this.#toLocal(doc, doc.images[id]!));
  }

  #unpack(s: StagedImage): Promise<void> {
    const bundle = join(this.#rootfsDir, s.id.slice('sha256:'.length));
    if (existsSync(bundle)) return Promise.resolve();
    const running = this.#unpacks.get(s.id);
    if (running) return running;
    const p = unpackImage({ content: this.#content, manifestDigest: s.manifestDigest, manifest: s.manifest, tmpDir: this.#tmp, bundle })
      .finally(() => this.#unpacks.delete(s.id));
    this.#unpacks.set(s.id, p);
    return p;
  }

  /** The recorded image `ref` names, re-unpacked if its rootfs went missing; undefined when it cannot be had locally. */
  async #present(ref: ImageReference): Promise<LocalImage | undefined> {
    const doc = this.#index.doc();
    const rec = this.#find(doc, ref.canonical);
    if (!rec) return undefined;
    if (!existsSync(this.#rootfsOf(rec.id))) {
      try {
        const manifest = JSON.parse(this.#content.read(rec.manifest).toString('utf8')) as StagedImage['manifest'];
        await this.#unpack({ id: rec.id, manifest, manifestDigest: rec.manifest, blobs: rec.blobs, names: [], repoDigests: [], size: rec.size, config: rec.config });
      } catch (e) {
        this.#log.warn('recorded image cannot be unpacked; treating it as absent', { id: rec.id, error: (e as Error).message });
        return undefined;
      }
    }
    return this.#toLocal(this.#index.doc(), rec);
  }

  /** Finds an image by name (tag or digest reference), by id (`sha256:<hex>`, `<hex>`), or by a unique id prefix. */
  #find(doc: IndexDoc, ref: string): ImageRecord | undefined {
    const parsed = tryParseReference(ref);
    if (parsed) {
      const id = doc.names[parsed.canonical];
      if (id) return doc.images[id];
      if (parsed.digest) {
        const rd = `${parsed.name}@${parsed.digest}`;
        const rec = Object.values(doc.images).find((r) => r.repoDigests.includes(rd));
        if (rec) return rec;
      }
    }
    const m = /^(?:sha256:)?([a-f0-9]{4,64})$/.exec(ref);
    if (!m) return undefined;
    const exact = doc.images[`sha256:${m[1]}`];
    if (exact) return exact;
    const hits = Object.values(doc.images).filter((r) => r.id.startsWith(`sha256:${m[1]}`));
    return hits.length === 1 ? hits[0] : undefined;
  }

  #toLocal(doc: IndexDoc, rec: ImageRecord): LocalImage {
    const names = Object.entries(doc.names).filter(([, id]) => id === rec.id).map(([n]) => n);
    return {
      id: rec.id,
      repoTags: names.filter((n) => !n.includes('@')).sort(),
      repoDigests: [...rec.repoDigests].sort(),
      size: rec.size,
      rootfs: this.#rootfsOf(rec.id),
      config: rec.config,
    };
  }

  #rootfsOf(id: string): string {
    return join(this.#rootfsDir, id.slice('sha256:'.length), 'rootfs');
  }

  // --- garbage collection -----------------------------------------------------------------------------------------

  #pin(digest: string, mine: Set<string>): void {
    if (mine.has(digest)) return;
    mine.add(digest);
    this.#pins.set(digest, (this.#pins.get(digest) ?? 0) + 1);
  }

  #unpin(mine: Set<string>): void {
    for (const d of mine) {
      const n = (this.#pins.get(d) ?? 1) - 1;
      if (n <= 0) this.#pins.delete(d);
      else this.#pins.set(d, n);
    }
  }

  /** Deletes the given blobs unless an image records them or an operation still holds them. */
  async #discard(digests: Iterable<string>): Promise<void> {
    const referenced = new Set(Object.values(this.#index.doc().images).flatMap((r) => r.blobs));
    for (const d of digests) if (!referenced.has(d) && !this.#pins.has(d)) await this.#content.delete(d);
  }

  /**
   * Removes the images among `ids` that have no name left and no container using them: the record first (so a
   * crash leaves at worst unreferenced files, which prune() finds), then the rootfs, then their unshared blobs.
   */
  async #collect(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const gone = await this.#index.update((doc) => {
      const named = new Set(Object.values(doc.names));
      const out: ImageRecord[] = [];
      for (const id of new Set(ids)) {
        const rec = doc.images[id];
        if (!rec || named.has(id)) continue;
        if (this.#inUse(id)) {
          this.#log.info('image lost its last name but is in use; keeping it until prune', { id });
          continue;
        }
        delete doc.images[id];
        out.push(rec);
      }
      return out;
    });
    for (const rec of gone) {
      await this.#trash(join(this.#rootfsDir, rec.id.slice('sha256:'.length)));
      await this.#discard(rec.blobs);
      this.#log.info('removed image', { id: rec.id });
    }
    return gone.map((r) => r.id);
  }

  /** Removes a directory tree so that it disappears at once (rename first), then deletes it at leisure. */
  async #trash(dir: string): Promise<void> {
    const t = join(this.#tmp, scratchName('trash'));
    try {
      await rename(dir, t);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    await rm(t, { recursive: true, force: true });
  }

  /** Scratch files of processes that died (a crash mid-unpack or mid-import) are removed on start. */
  #removeDeadScratch(): void {
    for (const [dir, hidden] of [[this.#tmp, false], [this.#rootfsDir, true]] as const) {
      for (const name of readdirSync(dir)) {
        if (hidden !== name.startsWith('.')) continue;
        const pid = pidOfScratch(name);
        if (pid > 0 && pid !== process.pid && !pidAlive(pid)) rmSync(join(dir, name), { recursive: true, force: true });
      }
    }
  }
}

import type { Logger } from '../../util/log.js';
import type { ContentStore } from './content-store.js';
import { assertImageIndex, assertImageManifest, manifestKind, toOciManifest, type Descriptor, type ImageConfigBlob, type ImageManifest } from './manifest.js';
import { formatPlatform, hostPlatform, pickPlatform } from './platform.js';
import type { ImageReference } from './reference.js';
import { RegistryError, type FetchedManifest, type RegistryClient } from './registry-client.js';
import type { RegistryEndpoint } from './registries-config.js';
import { formatBytes, shortDigest, type StagedImage } from './staged-image.js';
import { describeFetchError } from './registry-auth.js';
import type { PullProgress } from './types.js';

/**
 * One pull from a registry, as containerd does it: resolve the reference to a manifest (through an index to this
 * node's platform), then fetch config and layers into the content store, each verified against its digest. Blobs
 * already in the store are re-hashed before being trusted, so one that rotted or was cut short is fetched again.
 */

/** What a pull needs from the store around it. */
export interface PullContext {
  readonly client: RegistryClient;
  readonly content: ContentStore;
  readonly log: Logger;
  readonly progress?: PullProgress;
  /** Marks a blob as used by this pull, so no garbage collection deletes it before the image is recorded. */
  pin(digest: string): void;
  /** Runs `fetch` unless a fetch of the same digest is already running (then waits for that one). */
  once(digest: string, fetch: () => Promise<void>): Promise<void>;
  /** True when an image with this id is recorded with its blobs and rootfs, so its layers need no fetching. */
  complete(id: string): boolean;
  /** Parallel layer downloads (default 3, containerd's default). */
  readonly concurrency?: number;
  /** A blob stream silent this long is abandoned (default 60 s). */
  readonly stallTimeoutMs?: number;
}

/** A pull failure already worded for the user (after `failed to pull and unpack image "X": `). */
export class PullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PullError';
  }
}

/**
 * Pulls `ref` into the content store and returns it staged (not yet unpacked or recorded). The top-level digest the
 * registry gave (index or manifest) becomes the image's repo digest.
 */
export async function pullImage(ref: ImageReference, ctx: PullContext): Promise<StagedImage> {
  let top: FetchedManifest;
  try {
    top = await ctx.client.resolve(ref);
  } catch (e) {
    if (e instanceof RegistryError) throw new PullError(`failed to resolve reference "${ref.canonical}": ${e.message}`);
    throw e;
  }
  const ep = top.endpoint;
  const blobs: string[] = [];
  let fetched = top;
  let doc = parseJson(top.body, 'manifest');
  let kind = manifestKind(top.mediaType, doc);
  if (kind === 'index') {
    assertIndex(doc);
    const platform = hostPlatform();
    const chosen = pickPlatform(doc.manifests, platform);
    if (!chosen) throw new PullError(`no match for platform in manifest ${top.digest}: not found (this node is ${formatPlatform(platform)})`);
    try {
      fetched = await ctx.client.fetchManifest(ep, chosen.digest, chosen.digest);
    } catch (e) {
      if (e instanceof RegistryError) throw new PullError(`failed to fetch manifest ${chosen.digest}: ${e.message || 'not found'}`);
      throw e;
    }
    doc = parseJson(fetched.body, 'manifest');
    kind = manifestKind(fetched.mediaType, doc);
  }
  if (kind === 'schema1') throw new PullError(`${ref.canonical}: Docker schema 1 manifests are not supported; push the image again with a current client`);
  if (kind !== 'manifest') throw new PullError(`${ref.canonical}: unsupported manifest media type "${fetched.mediaType}"`);
  let manifest: ImageManifest;
  let oci: ImageManifest;
  try {
    assertImageManifest(doc);
    manifest = doc;
    oci = toOciManifest(manifest);
  } catch (e) {
    throw new PullError(`${ref.canonical}: ${(e as Error).message}`);
  }

  const pinAll = (d: Descriptor): void => ctx.pin(d.digest);
  pinAll(manifest.config);
  manifest.layers.forEach(pinAll);
  const fetchedDigest = await storeSmall(ctx, fetched.body, `manifest-${fetched.digest}`);
  const ociDigest = await storeSmall(ctx, Buffer.from(JSON.stringify(oci)), `manifest-${fetched.digest}`);
  blobs.push(fetchedDigest, ociDigest);

  await fetchBlob(ctx, ep, manifest.config, `config-${manifest.config.digest}`, false);
  const config = parseJson(ctx.content.read(manifest.config.digest), 'image config') as ImageConfigBlob;
  const id = manifest.config.digest;
  blobs.push(id);
  const size = manifest.layers.reduce((n, l) => n + l.size, 0);

  if (ctx.complete(id)) {
    ctx.progress?.(`Image ${shortDigest(id)} already present; layers not fetched`);
  } else {
    await parallel(manifest.layers, ctx.concurrency ?? 3, (l) => fetchBlob(ctx, ep, l, `layer-${l.digest}`, true));
  }
  blobs.push(...manifest.layers.map((l) => l.digest));
  return {
    id,
    manifest: oci,
    manifestDigest: ociDigest,
    blobs: [...new Set(blobs)],
    names: [ref.canonical],
    repoDigests: [`${ref.name}@${top.digest}`],
    size,
    config: config.config ?? {},
  };
}

function parseJson(b: Buffer, what: string): unknown {
  try {
    return JSON.parse(b.toString('utf8')) as unknown;
  } catch {
    throw new PullError(`the registry sent a ${what} that is not JSON`);
  }
}

function assertIndex(doc: unknown): asserts doc is import('./manifest.js').ImageIndex {
  try {
    assertImageIndex(doc);
  } catch (e) {
    throw new PullError((e as Error).message);
  }
}

async function storeSmall(ctx: PullContext, body: Buffer, refName: string): Promise<string> {
  const digest = await ctx.content.writeBuffer(body, refName);
  ctx.pin(digest);
  return digest;
}

/**
 * Makes one blob present and verified: trusts a stored copy only after re-hashing it, otherwise streams it from
 * the registry through the content store's digest check. Concurrent pulls share one download per digest.
 */
async function fetchBlob(ctx: PullContext, ep: RegistryEndpoint, desc: Descriptor, refName: string, isLayer: boolean): Promise<void> {
  ctx.pin(desc.digest);
  await ctx.once(desc.digest, async () => {
    if (ctx.content.has(desc.digest)) {
      if (await ctx.content.verify(desc.digest, desc.size)) {
        if (isLayer) ctx.progress?.(`Already exists ${shortDigest(desc.digest)}`);
        return;
      }
      ctx.log.warn('stored blob is corrupt; fetching it again', { digest: desc.digest });
      await ctx.content.delete(desc.digest);
    }
    let res: Response;
    try {
      res = await ctx.client.fetchBlob(ep, desc.digest);
    } catch (e) {
      if (e instanceof RegistryError) throw new PullError(`failed to copy: httpReadSeeker: failed open: ${e.notFound ? `content at ${desc.digest} not found: not found${e.message ? ` (${e.message})` : ''}` : e.message}`);
      throw e;
    }
    let last = 0;
    const total = formatBytes(desc.size);
    const onBytes = isLayer && ctx.progress ? (n: number): void => {
      const now = Date.now();
      if (now - last < 1000) return;
      last = now;
      ctx.progress?.(`Downloading ${shortDigest(desc.digest)}: ${formatBytes(n)} / ${total}`);
    } : undefined;
    const url = `${ep.base}/${ep.path}/blobs/${desc.digest}`;
    try {
      await ctx.content.write(desc.digest, desc.size, watchStalls(res, ctx.stallTimeoutMs ?? 60_000), refName, onBytes);
    } catch (e) {
      if ((e as Error).name === 'DigestMismatchError') throw new PullError((e as Error).message);
      throw new PullError(`failed to copy: ${describeFetchError(e, 'Get', url)}`);
    }
    if (isLayer) ctx.progress?.(`Downloaded ${shortDigest(desc.digest)} (${total})`);
  });
}

/** The response body as an async iterable that fails if no bytes arrive for `ms` (a stuck connection). */
async function* watchStalls(res: Response, ms: number): AsyncGenerator<Uint8Array> {
  if (!res.body) return;
  const reader = res.body.getReader();
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('stalled'), { name: 'TimeoutError' })), ms);
      });
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await Promise.race([reader.read(), stalled]);
      } finally {
        clearTimeout(timer);
      }
      if (r.done) return;
      yield r.value;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** Runs `fn` over `items` with at most `n` at a time; the first failure rejects (the rest still settle). */
async function parallel<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failure !== undefined) throw failure;
}

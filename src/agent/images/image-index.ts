import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync, fsyncSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ImageConfig } from './types.js';
import { pidAlive } from '../../util/pid-alive.js';

/**
 * The store's small database: which images exist (by id, the config digest), which blobs each holds on to, and which
 * names point at them. One JSON file, replaced atomically (write a temp file, fsync, rename), so a crash leaves the
 * old or the new version and never half of one. Writers in different processes (the agent and `skiff images`) take a
 * lock file and re-read before changing anything; readers notice another process's write by the file's inode.
 */

/** One image as the index records it. */
export interface ImageRecord {
  /** `sha256:` digest of the config blob: the image id. */
  readonly id: string;
  /** Digest of the OCI manifest in the content store that `umoci unpack` reads (Docker manifests rewritten). */
  readonly manifest: string;
  /** Every blob the image keeps alive: manifests as fetched and as rewritten, config, layers. */
  readonly blobs: readonly string[];
  /** `name@sha256:…` of the manifest or index each registry (or archive) gave. */
  readonly repoDigests: readonly string[];
  /** Bytes of the layers as stored (compressed for pulled images). */
  readonly size: number;
  readonly config: ImageConfig;
}

/** The whole file. */
export interface IndexDoc {
  version: 1;
  /** Records by id. */
  images: Record<string, ImageRecord>;
  /** Canonical names (`docker.io/library/busybox:latest`, `…@sha256:…`) → image id. */
  names: Record<string, string>;
}

const lockTimeoutMs = 30_000;

function emptyDoc(): IndexDoc {
  return { version: 1, images: {}, names: {} };
}

/** The index file of one image store. */
export class ImageIndex {
  readonly #file: string;
  #doc: IndexDoc = emptyDoc();
  /** Identity of the file version #doc came from, to notice writes by other processes. */
  #version = '';
  /** Serialises this process's writers, so only one of them waits on the lock file at a time. */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(file: string) {
    this.#file = file;
    this.#reload();
  }

  /** The current contents (re-read when another process replaced the file). Treat as read-only. */
  doc(): IndexDoc {
    this.#reload();
    return this.#doc;
  }

  /**
   * Applies `mutate` to a fresh copy of the index under the cross-process lock and writes the result atomically.
   * Returns what `mutate` returns.
   */
  update<T>(mutate: (doc: IndexDoc) => T): Promise<T> {
    const run = async (): Promise<T> => {
      await this.#lock();
      try {
        this.#reload();
        const doc = structuredClone(this.#doc);
        const result = mutate(doc);
        this.#write(doc);
        return result;
      } finally {
        try { unlinkSync(`${this.#file}.lock`); } catch { /* already gone */ }
      }
    };
    const p = this.#chain.then(run, run);
    this.#chain = p.catch(() => {});
    return p;
  }

  #stamp(): string {
    try {
      const st = statSync(this.#file);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }

  #reload(): void {
    const stamp = this.#stamp();
    if (stamp === this.#version) return;
    if (stamp === 'missing') {
      this.#doc = emptyDoc();
    } else {
      const doc = JSON.parse(readFileSync(this.#file, 'utf8')) as IndexDoc;
      if (doc.version !== 1 || typeof doc.images !== 'object' || typeof doc.names !== 'object') {
        throw new Error(`${this.#file}: not a skiff image index (version ${String(doc.version)})`);
      }
      this.#doc = doc;
    }
    this.#version = stamp;
  }

  #write(doc: IndexDoc): void {
    const tmp = `${this.#file}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o644);
    try {
      writeSync(fd, JSON.stringify(doc, null, 1));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.#file);
    this.#doc = doc;
    this.#version = this.#stamp();
  }

  /** Takes `<file>.lock` (O_EXCL), stealing it from a dead holder; gives up after 30 s. */
  async #lock(): Promise<void> {
    const lock = `${this.#file}.lock`;
    const deadline = Date.now() + lockTimeoutMs;
    for (;;) {
      try {
        const fd = openSync(lock, 'wx', 0o644);
        writeFileSync(fd, String(process.pid));
        closeSync(fd);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let holder = 0;
      try { holder = Number(readFileSync(lock, 'utf8')); } catch { continue; }
      // An empty file is a holder between open and write; only a dead pid is proof of a stale lock.
      if (holder > 0 && holder !== process.pid && !pidAlive(holder)) {
        try { unlinkSync(lock); } catch { /* someone else stole it first */ }
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (held by pid ${holder || 'unknown'})`);
      await sleep(10);
    }
  }
}

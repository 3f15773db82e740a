import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pidAlive } from '../../util/pid-alive.js';

/**
 * Content-addressed blobs under `<root>/blobs/sha256/<hex>`. A blob only ever appears under its final name after
 * its bytes were hashed and counted, so a crash mid-write leaves a `.partial` file (removed on the next start) and
 * never a wrong blob; blobs that rot on disk later are caught by `verify` before they are trusted again.
 */

/** A blob whose bytes did not match its digest or size; the message is containerd's commit error. */
export class DigestMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DigestMismatchError';
  }
}

/** Called with the bytes written so far while a blob streams in. */
export type WriteProgress = (bytes: number) => void;

function hexOf(digest: string): string {
  if (!/^sha256:[a-f0-9]{64}$/.test(digest)) throw new Error(`not a sha256 digest: ${digest}`);
  return digest.slice('sha256:'.length);
}

/** The blob directory of an image store. */
export class ContentStore {
  /** `<root>/blobs/sha256`. */
  readonly dir: string;
  #seq = 0;

  constructor(root: string) {
    this.dir = join(root, 'blobs', 'sha256');
    mkdirSync(this.dir, { recursive: true });
    this.#removeStalePartials();
  }

  /** Absolute path of a blob (whether or not it exists). */
  path(digest: string): string {
    return join(this.dir, hexOf(digest));
  }

  /** True when the blob exists with the expected size (cheap; `verify` checks the bytes). */
  has(digest: string, size?: number): boolean {
    try {
      const st = statSync(this.path(digest));
      return st.isFile() && (size === undefined || st.size === size);
    } catch {
      return false;
    }
  }

  /** Re-hashes a stored blob; false when it is missing, of the wrong size, or its bytes no longer match. */
  async verify(digest: string, size?: number): Promise<boolean> {
    const p = this.path(digest);
    try {
      const st = await stat(p);
      if (size !== undefined && st.size !== size) return false;
    } catch {
      return false;
    }
    const h = createHash('sha256');
    for await (const chunk of createReadStream(p)) h.update(chunk as Buffer);
    return `sha256:${h.digest('hex')}` === digest;
  }

  /** Reads a (small) blob whole. */
  read(digest: string): Buffer {
    return readFileSync(this.path(digest));
  }

  /**
   * Streams `source` into the blob `digest`: bytes go to a `.partial` file through sha256, and the file is renamed
   * to its final name only when digest and size (when given) match. On mismatch the partial file is removed and a
   * DigestMismatchError names `refName` (e.g. `layer-sha256:…`) as containerd does.
   */
  async write(digest: string, size: number | undefined, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, refName: string, progress?: WriteProgress): Promise<void> {
    const final = this.path(digest);
    // Unique per writer so two processes (agent and CLI) never write into one partial file.
    const partial = `${final}.${process.pid}-${++this.#seq}-${randomBytes(3).toString('hex')}.partial`;
    const h = createHash('sha256');
    let written = 0;
    const fh = await open(partial, 'w', 0o644);
    try {
      for await (const chunk of source) {
        h.update(chunk);
        await fh.write(chunk);
        written += chunk.length;
        if (size !== undefined && written > size) break;
        progress?.(written);
      }
      // A blob renamed into place must survive a crash: flush before the rename makes it visible.
      await fh.datasync();
    } catch (e) {
      await fh.close().catch(() => {});
      await rm(partial, { force: true });
      throw e;
    }
    await fh.close();
    const got = `sha256:${h.digest('hex')}`;
    let problem: string | undefined;
    if (size !== undefined && written !== size) problem = `unexpected commit size ${written}, expected ${size}`;
    else if (got !== digest) problem = `unexpected commit digest ${got}, expected ${digest}`;
    if (problem) {
      await rm(partial, { force: true });
      throw new DigestMismatchError(`failed commit on ref "${refName}": commit failed: ${problem}: failed precondition`);
    }
    await rename(partial, final);
  }

  /**
   * Moves a file (on the same filesystem, e.g. from an unpacked archive) into the store as blob `digest`, after
   * hashing it: a mismatch throws DigestMismatchError and leaves the store untouched. An already stored, intact
   * copy wins and the file is left where it is.
   */
  async adopt(file: string, digest: string, size: number | undefined, refName: string): Promise<void> {
    if (this.has(digest, size) && (await this.verify(digest, size))) return;
    const st = await stat(file);
    const h = createHash('sha256');
    for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
    const got = `sha256:${h.digest('hex')}`;
    let problem: string | undefined;
    if (size !== undefined && st.size !== size) problem = `unexpected commit size ${st.size}, expected ${size}`;
    else if (got !== digest) problem = `unexpected commit digest ${got}, expected ${digest}`;
    if (problem) throw new DigestMismatchError(`failed commit on ref "${refName}": commit failed: ${problem}: failed precondition`);
    await rename(file, this.path(digest));
  }

  /** `sha256:<hex>` and size of a file, for blobs whose digest is not known up front (legacy archive layers). */
  static async hashFile(file: string): Promise<{ digest: string; size: number }> {
    const h = createHash('sha256');
    let size = 0;
    for await (const chunk of createReadStream(file)) {
      h.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { digest: `sha256:${h.digest('hex')}`, size };
  }

  /** Stores a small in-memory blob (a manifest or config) and returns its digest. */
  async writeBuffer(b: Buffer, refName: string): Promise<string> {
    const digest = `sha256:${createHash('sha256').update(b).digest('hex')}`;
    if (!this.has(digest, b.length)) await this.write(digest, b.length, [b], refName);
    return digest;
  }

  /** Removes a blob; missing blobs are fine. */
  async delete(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  /** Every complete blob's digest. */
  list(): string[] {
    return readdirSync(this.dir).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  /** Partial files of writers that no longer exist are leftovers of a crash; live writers' files stay. */
  #removeStalePartials(): void {
    for (const name of readdirSync(this.dir)) {
      const m = /^[a-f0-9]{64}\.(\d+)-.*\.partial$/.exec(name);
      if (!m && !name.endsWith('.partial')) continue;
      const pid = Number(m?.[1] ?? 0);
      if (pid === 0 || (pid !== process.pid && !pidAlive(pid))) rmSync(join(this.dir, name), { force: true });
    }
  }
}

import { createRequire } from 'node:module';
import { constants, createDeflate, createInflate, type Deflate, type Inflate } from 'node:zlib';

/**
 * SPDY/3's header compression: one zlib stream per direction for the whole connection, primed with
 * the protocol's fixed dictionary, each header block ending at a sync flush. The dictionary comes from
 * spdy-transport (whose framer we cannot use: it insists on HTTP's `:method` and `:path` headers,
 * which kubectl's streams do not carry).
 */
function spdyDictionary(): Buffer {
  const require = createRequire(import.meta.url);
  const transport = require('spdy-transport') as { protocol: { spdy: { dictionary: Record<string, Buffer> } } };
  const dict = transport.protocol.spdy.dictionary['3'];
  if (!dict) throw new Error('spdy-transport has no SPDY/3 dictionary');
  return dict;
}

let dictionary: Buffer | undefined;

/** Runs one block through a zlib stream and collects what the sync flush yields. */
function through(z: Inflate | Deflate, block: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const onData = (d: Buffer): void => { out.push(d); };
    const onError = (e: Error): void => { z.off('data', onData); reject(e); };
    z.on('data', onData);
    z.once('error', onError);
    z.write(block);
    z.flush(constants.Z_SYNC_FLUSH, () => {
      z.off('data', onData);
      z.off('error', onError);
      resolve(Buffer.concat(out));
    });
  });
}

export class HeaderCodec {
  readonly #inflate: Inflate;
  readonly #deflate: Deflate;
  /** Blocks go through zlib strictly in frame order: the compression state spans all of them. */
  #inflating: Promise<unknown> = Promise.resolve();
  #deflating: Promise<unknown> = Promise.resolve();

  constructor() {
    dictionary ??= spdyDictionary();
    this.#inflate = createInflate({ dictionary });
    this.#deflate = createDeflate({ dictionary });
  }

  inflate(block: Buffer): Promise<Buffer> {
    const p = this.#inflating.then(() => through(this.#inflate, block));
    this.#inflating = p.catch(() => {});
    return p;
  }

  deflate(block: Buffer): Promise<Buffer> {
    const p = this.#deflating.then(() => through(this.#deflate, block));
    this.#deflating = p.catch(() => {});
    return p;
  }

  close(): void {
    this.#inflate.destroy();
    this.#deflate.destroy();
  }
}

// SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00 with 3.1's flow control frames): what kubectl's
// SPDY streams (moby/spdystream) put on the wire for exec, attach and port-forward. Header blocks
// arrive here compressed; header-codec.ts inflates them.

export const SPDY_VERSION = 3;

export const FrameType = {
  synStream: 1, synReply: 2, rstStream: 3, settings: 4, ping: 6, goAway: 7, headers: 8, windowUpdate: 9,
} as const;

export const Flag = { fin: 0x01, unidirectional: 0x02 } as const;

/** RST_STREAM status codes. */
export const RstStatus = { protocolError: 1, invalidStream: 2, refusedStream: 3, cancel: 5, internalError: 6, streamInUse: 8, streamAlreadyClosed: 9 } as const;

export type Frame =
  | { kind: 'data'; streamId: number; flags: number; data: Buffer }
  | { kind: 'control'; type: number; flags: number; body: Buffer };

/** The largest frame this side accepts: SPDY's 24-bit length allows 16 MiB, spdystream sends far less. */
const MAX_FRAME = 16 * 1024 * 1024;

/** Splits a byte stream into frames; bytes may arrive in any pieces. */
export class FrameParser {
  #buf: Buffer = Buffer.alloc(0);

  /** Adds bytes and returns every frame now complete. Throws on a frame no SPDY/3 peer would send. */
  push(chunk: Buffer): Frame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const frames: Frame[] = [];
    while (this.#buf.length >= 8) {
      const length = this.#buf.readUIntBE(5, 3);
      if (length > MAX_FRAME) throw new Error(`SPDY frame of ${length} bytes is too large`);
      if (this.#buf.length < 8 + length) break;
      const flags = this.#buf[4]!;
      const body = this.#buf.subarray(8, 8 + length);
      if (this.#buf[0]! & 0x80) {
        const version = this.#buf.readUInt16BE(0) & 0x7fff;
        if (version !== SPDY_VERSION) throw new Error(`unsupported SPDY version ${version}`);
        frames.push({ kind: 'control', type: this.#buf.readUInt16BE(2), flags, body });
      } else {
        frames.push({ kind: 'data', streamId: this.#buf.readUInt32BE(0) & 0x7fffffff, flags, data: body });
      }
      this.#buf = this.#buf.subarray(8 + length);
    }
    return frames;
  }
}

export function controlFrame(type: number, flags: number, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(body.length, 4);
  head[4] = flags;
  return Buffer.concat([head, body]);
}

function u32s(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
}

export function dataFrame(streamId: number, data: Buffer, fin: boolean): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(streamId & 0x7fffffff, 0);
  head.writeUInt32BE(data.length, 4);
  head[4] = fin ? Flag.fin : 0;
  return Buffer.concat([head, data]);
}

export const synReplyFrame = (streamId: number, headerBlock: Buffer, fin: boolean): Buffer =>
  controlFrame(FrameType.synReply, fin ? Flag.fin : 0, Buffer.concat([u32s(streamId & 0x7fffffff), headerBlock]));

export const rstStreamFrame = (streamId: number, status: number): Buffer =>
  controlFrame(FrameType.rstStream, 0, u32s(streamId & 0x7fffffff, status));

export const pingFrame = (id: number): Buffer => controlFrame(FrameType.ping, 0, u32s(id));

export const goAwayFrame = (lastGoodStreamId: number, status = 0): Buffer =>
  controlFrame(FrameType.goAway, 0, u32s(lastGoodStreamId & 0x7fffffff, status));

/** Encodes headers as SPDY/3's uncompressed name/value block (names lower-case, values joined by NUL). */
export function encodeHeaderBlock(headers: Readonly<Record<string, string>>): Buffer {
  const parts: Buffer[] = [u32s(Object.keys(headers).length)];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name.toLowerCase());
    const v = Buffer.from(value);
    parts.push(u32s(n.length), n, u32s(v.length), v);
  }
  return Buffer.concat(parts);
}

/** Decodes an uncompressed name/value block; several values of one name are joined with ", ". */
export function decodeHeaderBlock(block: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  const take = (): Buffer => {
    if (at + 4 > block.length) throw new Error('truncated SPDY header block');
    const len = block.readUInt32BE(at);
    at += 4;
    if (at + len > block.length) throw new Error('truncated SPDY header block');
    const b = block.subarray(at, at + len);
    at += len;
    return b;
  };
  if (block.length < 4) throw new Error('truncated SPDY header block');
  const count = block.readUInt32BE(0);
  at = 4;
  for (let i = 0; i < count; i++) {
    const name = take().toString('utf8').toLowerCase();
    const value = take().toString('utf8').split('\0').join(', ');
    out[name] = out[name] === undefined ? value : `${out[name]}, ${value}`;
  }
  return out;
}

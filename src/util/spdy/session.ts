import { Duplex } from 'node:stream';
import { silentLogger, type Logger } from '../log.js';
import {
  Flag, FrameParser, FrameType, RstStatus, dataFrame, decodeHeaderBlock, encodeHeaderBlock, goAwayFrame,
  pingFrame, rstStreamFrame, synReplyFrame, type Frame,
} from './frames.js';
import { HeaderCodec } from './header-codec.js';

/** Data frames this side sends are at most this large (spdystream reads any size). */
const MAX_DATA = 32 * 1024;

/**
 * One stream the client opened: its headers, and a Duplex for its data. Ending the writable side sends
 * FIN; the readable side ends at the client's FIN. No flow control: spdystream, kubectl's SPDY, sends
 * no WINDOW_UPDATE and ignores ours, so neither side waits on windows.
 */
export class SpdyStream extends Duplex {
  #replied = false;
  #finSent = false;
  #finReceived = false;

  constructor(readonly id: number, readonly headers: Readonly<Record<string, string>>, private readonly session: SpdySession) {
    super({ allowHalfOpen: true });
  }

  /** Accepts the stream (SYN_REPLY); kubectl waits for it before using a stream. */
  reply(): void {
    if (this.#replied) return;
    this.#replied = true;
    this.session.sendReply(this.id);
  }

  /** Aborts the stream (RST_STREAM). */
  reset(status: number = RstStatus.cancel): void {
    if (!this.destroyed) this.session.sendReset(this.id, status);
    this.#finSent = true;
    this.destroy();
  }

  override _read(): void { /* data is pushed as frames arrive */ }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.reply();
    this.session.sendData(this.id, chunk, false, cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.reply();
    this.#finSent = true;
    this.session.sendData(this.id, Buffer.alloc(0), true, (e) => {
      cb(e);
      if (this.#finReceived) this.destroy();
    });
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.session.forget(this.id);
    cb(err);
  }

  /** Called by the session: a data frame for this stream arrived. */
  received(data: Buffer, fin: boolean): void {
    if (this.#finReceived) return;
    if (data.length > 0) this.push(data);
    if (fin) {
      this.#finReceived = true;
      this.push(null);
      if (this.#finSent) this.destroy();
    }
  }

  get finished(): boolean { return this.#finSent && this.#finReceived; }
}

/**
 * The server side of a SPDY/3.1 connection, as kubelet serves kubectl's exec, attach and port-forward:
 * the client opens streams, this side replies to them and carries their data. Frames are handled one
 * at a time, in order, since header blocks share one compression state.
 */
export class SpdySession {
  readonly #socket: Duplex;
  #onStream: ((s: SpdyStream) => void) | undefined;
  readonly #log: Logger;
  readonly #parser = new FrameParser();
  readonly #codec = new HeaderCodec();
  readonly #streams = new Map<number, SpdyStream>();
  #incoming: Promise<void> = Promise.resolve();
  #outgoing: Promise<void> = Promise.resolve();
  #lastStreamId = 0;
  #closed = false;
  readonly #closeListeners: (() => void)[] = [];

  /** `head`: bytes that arrived with the upgrade request, before the socket was handed over. */
  constructor(socket: Duplex, log: Logger = silentLogger, head?: Buffer) {
    this.#socket = socket;
    this.#log = log;
    if (head && head.length > 0) this.#receive(head);
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
    socket.on('end', () => this.close());
  }

  /** Who gets the streams the client opens (set before the first one arrives: frames are handled asynchronously). */
  onStream(fn: (s: SpdyStream) => void): void {
    this.#onStream = fn;
  }

  #receive(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.#parser.push(chunk);
    } catch (e) {
      this.#fail(e as Error);
      return;
    }
    for (const f of frames) this.#incoming = this.#incoming.then(() => this.#handle(f)).catch((e: Error) => this.#fail(e));
  }

  onClose(fn: () => void): void {
    if (this.#closed) fn();
    else this.#closeListeners.push(fn);
  }

  get closed(): boolean { return this.#closed; }

  /** Says goodbye (GOAWAY), then closes the connection and every stream on it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const sock = this.#socket;
    if (!sock.destroyed && sock.writable) {
      const bye = goAwayFrame(this.#lastStreamId);
      void this.#outgoing.then(() => { sock.end(bye); });
    }
    for (const s of this.#streams.values()) s.destroy();
    this.#streams.clear();
    this.#codec.close();
    setTimeout(() => sock.destroy(), 1000).unref();
    for (const fn of this.#closeListeners.splice(0)) fn();
  }

  #fail(e: Error): void {
    this.#log.warn('SPDY session failed', { err: e });
    this.close();
  }

  #write(make: () => Buffer | Promise<Buffer>, cb?: (e?: Error | null) => void): void {
    this.#outgoing = this.#outgoing.then(async () => {
      const frame = await make();
      if (this.#socket.destroyed || !this.#socket.writable) throw new Error('SPDY connection closed');
      await new Promise<void>((resolve, reject) => this.#socket.write(frame, (e) => (e ? reject(e) : resolve())));
    }).then(() => cb?.(), (e: Error) => cb?.(e)).catch(() => {});
  }

  sendReply(id: number): void {
    this.#write(async () => synReplyFrame(id, await this.#codec.deflate(encodeHeaderBlock({})), false));
  }

  sendReset(id: number, status: number): void {
    this.#write(() => rstStreamFrame(id, status));
  }

  sendData(id: number, data: Buffer, fin: boolean, cb: (e?: Error | null) => void): void {
    if (data.length <= MAX_DATA) return this.#write(() => dataFrame(id, data, fin), cb);
    for (let at = 0; at < data.length; at += MAX_DATA) {
      const last = at + MAX_DATA >= data.length;
      const piece = data.subarray(at, at + MAX_DATA);
      this.#write(() => dataFrame(id, piece, fin && last), last ? cb : undefined);
    }
  }

  forget(id: number): void {
    this.#streams.delete(id);
  }

  async #handle(f: Frame): Promise<void> {
    if (this.#closed) return;
    if (f.kind === 'data') {
      const s = this.#streams.get(f.streamId);
      if (!s) {
        this.sendReset(f.streamId, RstStatus.invalidStream);
        return;
      }
      s.received(f.data, (f.flags & Flag.fin) !== 0);
      return;
    }
    switch (f.type) {
      case FrameType.synStream: {
        if (f.body.length < 10) throw new Error('short SYN_STREAM frame');
        const id = f.body.readUInt32BE(0) & 0x7fffffff;
        const headers = decodeHeaderBlock(await this.#codec.inflate(f.body.subarray(10)));
        if (id === 0 || id % 2 === 0 || this.#streams.has(id)) {
          this.sendReset(id, RstStatus.protocolError);
          return;
        }
        this.#lastStreamId = Math.max(this.#lastStreamId, id);
        const s = new SpdyStream(id, headers, this);
        s.on('error', () => { /* the owner sees the stream end */ });
        this.#streams.set(id, s);
        if (f.flags & Flag.fin) s.received(Buffer.alloc(0), true);
        if (this.#onStream) this.#onStream(s);
        else s.reset(RstStatus.refusedStream);
        return;
      }
      case FrameType.headers:
      case FrameType.synReply: {
        // Nothing to act on, but the block must still go through zlib to keep its state in step.
        if (f.body.length >= 4) await this.#codec.inflate(f.body.subarray(4));
        return;
      }
      case FrameType.rstStream: {
        const id = f.body.readUInt32BE(0) & 0x7fffffff;
        const s = this.#streams.get(id);
        this.#streams.delete(id);
        s?.destroy();
        return;
      }
      case FrameType.ping: {
        const id = f.body.readUInt32BE(0);
        // Odd ids are the client's own pings: echo them. Even ones would be answers to ours.
        if (id % 2 === 1) this.#write(() => pingFrame(id));
        return;
      }
      case FrameType.goAway:
        this.close();
        return;
      default:
        return; // SETTINGS, WINDOW_UPDATE and unknown types carry nothing this side needs
    }
  }
}

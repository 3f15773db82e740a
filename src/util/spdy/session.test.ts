import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Duplex } from 'node:stream';
import { Flag, FrameParser, FrameType, RstStatus, controlFrame, dataFrame, decodeHeaderBlock, encodeHeaderBlock, pingFrame, type Frame } from './frames.js';
import { HeaderCodec } from './header-codec.js';
import { SpdySession, type SpdyStream } from './session.js';

/** A client end for the session under test: it writes frames as kubectl's spdystream would and reads the answers. */
class Client {
  readonly toServer = new PassThrough();
  readonly fromServer = new PassThrough();
  readonly socket: Duplex;
  readonly codec = new HeaderCodec();
  readonly parser = new FrameParser();
  readonly frames: Frame[] = [];

  constructor() {
    this.socket = Duplex.from({ readable: this.toServer, writable: this.fromServer });
    this.fromServer.on('data', (d: Buffer) => this.frames.push(...this.parser.push(d)));
  }

  async synStream(id: number, headers: Record<string, string>, fin = false): Promise<Buffer> {
    const head = Buffer.alloc(10);
    head.writeUInt32BE(id, 0);
    return controlFrame(FrameType.synStream, fin ? Flag.fin : 0, Buffer.concat([head, await this.codec.deflate(encodeHeaderBlock(headers))]));
  }

  async next(match: (f: Frame) => boolean, what: string): Promise<Frame> {
    for (let i = 0; i < 200; i++) {
      const at = this.frames.findIndex(match);
      if (at >= 0) return this.frames.splice(at, 1)[0]!;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`no ${what} from the server; got ${JSON.stringify(this.frames.map((f) => (f.kind === 'data' ? `data ${f.streamId}` : `control ${f.type}`)))}`);
  }
}

const isControl = (type: number) => (f: Frame): boolean => f.kind === 'control' && f.type === type;
const isData = (id: number) => (f: Frame): boolean => f.kind === 'data' && f.streamId === id;

describe('SPDY/3.1 server session', () => {
  it('opens streams with their headers, replies, carries data both ways and half-closes with FIN', async () => {
    const c = new Client();
    const streams: SpdyStream[] = [];
    const session = new SpdySession(c.socket);
    session.onStream((s) => { s.reply(); streams.push(s); });
    c.toServer.write(await c.synStream(1, { streamtype: 'data', port: '80', requestid: '0' }));
    // A second block decodes only if the compression context carries over from the first.
    c.toServer.write(await c.synStream(3, { streamtype: 'error', port: '80', requestid: '0' }, true));
    const reply = await c.next(isControl(FrameType.synReply), 'SYN_REPLY');
    assert.equal(reply.kind === 'control' && reply.body.readUInt32BE(0), 1);
    assert.deepEqual(decodeHeaderBlock(await c.codec.inflate(reply.kind === 'control' ? reply.body.subarray(4) : Buffer.alloc(0))), {});
    await c.next(isControl(FrameType.synReply), 'the second SYN_REPLY');
    assert.deepEqual(streams.map((s) => [s.id, s.headers['streamtype'], s.headers['port'], s.headers['requestid']]), [[1, 'data', '80', '0'], [3, 'error', '80', '0']]);

    const got: Buffer[] = [];
    streams[0]!.on('data', (d: Buffer) => got.push(d));
    const ended = new Promise<void>((r) => streams[0]!.once('end', r));
    c.toServer.write(dataFrame(1, Buffer.from('hello '), false));
    c.toServer.write(dataFrame(1, Buffer.from('world'), true));
    await ended;
    assert.equal(Buffer.concat(got).toString(), 'hello world');

    streams[0]!.end('answer');
    const data = await c.next(isData(1), 'data on stream 1');
    assert.equal(data.kind === 'data' && data.data.toString(), 'answer');
    const fin = await c.next(isData(1), 'FIN on stream 1');
    assert.ok(fin.kind === 'data' && (fin.flags & Flag.fin) !== 0 && fin.data.length === 0);
    session.close();
  });

  it('parses frames that arrive a byte at a time', async () => {
    const c = new Client();
    const seen: Record<string, string>[] = [];
    new SpdySession(c.socket).onStream((s) => seen.push({ ...s.headers }));
    const frame = await c.synStream(5, { streamtype: 'stdout' });
    for (const b of frame) c.toServer.write(Buffer.from([b]));
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(seen, [{ streamtype: 'stdout' }]);
  });

  it('answers the client\'s pings and resets data for a stream it does not know', async () => {
    const c = new Client();
    new SpdySession(c.socket).onStream(() => {});
    c.toServer.write(pingFrame(7));
    const pong = await c.next(isControl(FrameType.ping), 'PING');
    assert.equal(pong.kind === 'control' && pong.body.readUInt32BE(0), 7);
    c.toServer.write(dataFrame(9, Buffer.from('x'), false));
    const rst = await c.next(isControl(FrameType.rstStream), 'RST_STREAM');
    assert.ok(rst.kind === 'control');
    assert.equal(rst.body.readUInt32BE(0), 9);
    assert.equal(rst.body.readUInt32BE(4), RstStatus.invalidStream);
  });

  it('splits a large write into frames of at most 32 KiB, in order', async () => {
    const c = new Client();
    const session = new SpdySession(c.socket);
    session.onStream((s) => { s.end(Buffer.alloc(100_000, 7)); });
    c.toServer.write(await c.synStream(1, { streamtype: 'stdout' }));
    const sizes: number[] = [];
    for (;;) {
      const f = await c.next(isData(1), 'data');
      if (f.kind !== 'data') break;
      if (f.data.length > 0) sizes.push(f.data.length);
      if (f.flags & Flag.fin) break;
    }
    assert.ok(sizes.every((n) => n <= 32 * 1024), sizes.join(','));
    assert.equal(sizes.reduce((a, b) => a + b, 0), 100_000);
  });

  it('refuses a frame of another SPDY version by closing the session', async () => {
    const c = new Client();
    const session = new SpdySession(c.socket);
    const closed = new Promise<void>((r) => session.onClose(r));
    const bad = controlFrame(FrameType.ping, 0, Buffer.alloc(4));
    bad.writeUInt16BE(0x8002, 0);
    c.toServer.write(bad);
    await closed;
    assert.equal(session.closed, true);
  });
});

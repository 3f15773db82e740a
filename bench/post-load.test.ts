import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { PostLoad } from './post-load.js';
import { startInProcessServer, type InProcessServer } from '../test/helpers/in-process-server.js';

const access = (server: string) => ({ server, namespace: 'default', insecureSkipTLSVerify: false });

/** A TCP server answering each whole request it reads with `answer(n)`, written `pieceBytes` at a time. */
async function fakeServer(answer: (n: number) => string, pieceBytes: number): Promise<{ url: string; server: Server; bodies: string[] }> {
  const bodies: string[] = [];
  const server = createServer((sock: Socket) => {
    let buf = '';
    sock.on('data', async (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        const length = /content-length: (\d+)/i.exec(buf.slice(0, end));
        if (end < 0 || !length || buf.length < end + 4 + Number(length[1])) return;
        bodies.push(buf.slice(end + 4, end + 4 + Number(length[1])));
        buf = buf.slice(end + 4 + Number(length[1]));
        const out = answer(bodies.length);
        for (let i = 0; i < out.length; i += pieceBytes) {
          sock.write(out.slice(i, i + pieceBytes));
          await new Promise((r) => setImmediate(r));
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, server, bodies };
}

describe('PostLoad, the API benchmark\'s load generator', () => {
  let api: InProcessServer;
  before(async () => { api = await startInProcessServer(); });
  after(async () => { await api?.close(); });

  it('sends every request once and counts each answer by status, against a real API server', async () => {
    const load = await PostLoad.open(access(api.url), 4);
    try {
      const pod = (name: string) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
      const bodies = [...Array.from({ length: 20 }, (_, i) => pod(`load-${i}`)), pod('load-0'), pod('Not_A_Name')];
      const latencies: number[] = [];
      const statuses = await load.run(load.encode('/api/v1/namespaces/default/pods', bodies), latencies);
      assert.deepEqual(Object.fromEntries(statuses), { 201: 20, 409: 1, 422: 1 });
      assert.equal(latencies.length, bodies.length);
      assert.ok(latencies.every((l) => l > 0));
    } finally {
      load.close();
    }
    const list = await api.client().call<{ items: unknown[] }>('GET', '/api/v1/namespaces/default/pods');
    assert.equal(list.items.length, 20);
  });

  it('frames answers that arrive a few bytes at a time by their Content-Length', async () => {
    const fake = await fakeServer((n) => `HTTP/1.1 ${n % 2 ? 201 : 500} X\r\nContent-Length: 11\r\nX-N: ${n}\r\n\r\n{"n":${String(n).padStart(5, '0')}}`, 3);
    const load = await PostLoad.open(access(fake.url), 2);
    try {
      const statuses = await load.run(load.encode('/x', Array.from({ length: 10 }, (_, i) => `{"i":${i}}`)), []);
      assert.deepEqual(Object.fromEntries(statuses), { 201: 5, 500: 5 });
      assert.deepEqual(fake.bodies.map((b) => JSON.parse(b).i).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    } finally {
      load.close();
      fake.server.close();
    }
  });

  it('fails, rather than miscount, on an answer without Content-Length or a connection the server closed', async () => {
    const chunked = await fakeServer(() => 'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 1000);
    const load = await PostLoad.open(access(chunked.url), 1);
    try {
      await assert.rejects(load.run(load.encode('/x', ['{}']), []), /without Content-Length: HTTP\/1.1 201 Created/);
    } finally {
      load.close();
      chunked.server.close();
    }
    const closing = createServer((sock) => sock.once('data', () => sock.end()));
    await new Promise<void>((r) => closing.listen(0, '127.0.0.1', r));
    const load2 = await PostLoad.open(access(`http://127.0.0.1:${(closing.address() as { port: number }).port}`), 1);
    try {
      await assert.rejects(load2.run(load2.encode('/x', ['{}', '{}']), []), /closed a connection/);
    } finally {
      load2.close();
      closing.close();
    }
  });
});

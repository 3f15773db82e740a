// One probe attempt of each kind against real local servers, with kubelet's words for failures.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runProbe, type ProbeTarget } from './probe-runner.js';
import { SimRuntime } from '../runtime/sim/sim-runtime.js';
import { realClock } from '../../util/clock.js';

describe('probe attempts', () => {
  let web: Server;
  let grpc: http2.Http2Server;
  let webPort = 0;
  let grpcPort = 0;
  const sim = new SimRuntime(realClock);
  const target = (): ProbeTarget => ({ runtime: sim, containerId: 'c1', container: { name: 'app', ports: [{ name: 'web', containerPort: webPort }] }, podIP: '127.0.0.1' });

  before(async () => {
    web = createServer((req, res) => { res.statusCode = req.url === '/healthz' ? 200 : 503; res.end(); });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    webPort = (web.address() as AddressInfo).port;
    // A gRPC health service: "" and "api" serve, "db" does not; any other method is unimplemented.
    grpc = http2.createServer();
    grpc.on('stream', (stream, headers) => {
      if (headers[':path'] !== '/grpc.health.v1.Health/Check') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '12', 'grpc-message': 'unknown service' }));
        stream.end();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (d: Buffer) => chunks.push(d));
      stream.on('end', () => {
        const msg = Buffer.concat(chunks).subarray(5);
        const service = msg.length > 2 ? msg.subarray(2, 2 + msg[1]!).toString() : '';
        const status = service === 'db' ? 2 : 1;
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, status]));
      });
    });
    await new Promise<void>((r) => grpc.listen(0, '127.0.0.1', r));
    grpcPort = (grpc.address() as AddressInfo).port;
  });
  after(() => { web.close(); grpc.close(); });

  it('httpGet: 2xx/3xx pass, other codes and refusals fail', async () => {
    assert.deepEqual(await runProbe({ httpGet: { path: '/healthz', port: 'web' } }, target()), { ok: true });
    assert.deepEqual(await runProbe({ httpGet: { path: '/other', port: webPort } }, target()), { ok: false, message: 'HTTP probe failed with statuscode: 503' });
    const closed = await runProbe({ httpGet: { path: '/', port: 1 } }, target());
    assert.ok(!closed.ok && /^Get "http:\/\/127\.0\.0\.1:1\/": .*ECONNREFUSED/.test(closed.message), JSON.stringify(closed));
  });

  it('tcpSocket: an open port passes, a closed one fails as Go words it', async () => {
    assert.deepEqual(await runProbe({ tcpSocket: { port: webPort } }, target()), { ok: true });
    assert.deepEqual(await runProbe({ tcpSocket: { port: 1 } }, target()), { ok: false, message: 'dial tcp 127.0.0.1:1: connect: connection refused' });
  });

  it('grpc: SERVING passes; NOT_SERVING, an unimplemented service and a closed port fail', async () => {
    assert.deepEqual(await runProbe({ grpc: { port: grpcPort } }, target()), { ok: true });
    assert.deepEqual(await runProbe({ grpc: { port: grpcPort, service: 'api' } }, target()), { ok: true });
    assert.deepEqual(await runProbe({ grpc: { port: grpcPort, service: 'db' } }, target()), { ok: false, message: 'service unhealthy (responded with "NOT_SERVING")' });
    assert.deepEqual(await runProbe({ grpc: { port: webPort } }, target()).then((r) => r.ok), false, 'an HTTP/1 server is no gRPC health service');
    assert.deepEqual(await runProbe({ grpc: { port: 1 }, timeoutSeconds: 1 }, target()), { ok: false, message: 'timeout: failed to connect service "127.0.0.1:1" within 1s' });
  });

  it('exec: exit 0 passes; otherwise the output is the message', async () => {
    sim.execResult = (cmd) => (cmd[0] === 'ok' ? { exitCode: 0, output: '' } : { exitCode: 1, output: 'not yet\n' });
    assert.deepEqual(await runProbe({ exec: { command: ['ok'] } }, target()), { ok: true });
    assert.deepEqual(await runProbe({ exec: { command: ['check'] } }, target()), { ok: false, message: 'not yet' });
  });
});

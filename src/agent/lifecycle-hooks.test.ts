// Lifecycle handlers as kubelet runs them: exec through the runtime, httpGet to the pod (named ports,
// headers, status codes), sleep bounded by the grace period; failures worded as upstream's events.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import { runLifecycleHandler, type HookContext } from './lifecycle-hooks.js';
import { SimRuntime } from './runtime/sim/sim-runtime.js';
import { realClock } from '../util/clock.js';

describe('lifecycle handlers', () => {
  let server: Server;
  let port = 0;
  const seen: { path: string; header: string | undefined }[] = [];
  before(async () => {
    server = createServer((req, res) => {
      seen.push({ path: req.url ?? '', header: req.headers['x-reason'] as string | undefined });
      res.statusCode = req.url === '/broken' ? 500 : 200;
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => { server.close(); });

  const pod: Pod = { metadata: { name: 'web', namespace: 'shop', uid: '1234' } };
  const container = (): Container => ({ name: 'main', ports: [{ name: 'admin', containerPort: port }] });
  const ctx = (runtime: SimRuntime, timeoutMs = 5000): HookContext => ({ runtime, clock: realClock, pod, container: container(), containerId: 'c1', podIP: '127.0.0.1', timeoutMs });

  it('exec runs in the container; a non-zero exit is reported with the command and its output', async () => {
    const rt = new SimRuntime(realClock);
    assert.equal(await runLifecycleHandler({ exec: { command: ['nginx', '-s', 'quit'] } }, ctx(rt)), undefined);
    assert.deepEqual(rt.execs, [{ id: 'c1', cmd: ['nginx', '-s', 'quit'] }]);
    rt.execResult = () => ({ exitCode: 2, output: 'no such process\n' });
    const msg = await runLifecycleHandler({ exec: { command: ['sh', '-c', 'false'] } }, ctx(rt));
    assert.equal(msg, 'Exec lifecycle hook ([sh -c false]) for Container "main" in Pod "web_shop(1234)" failed - error: command \'sh -c false\' exited with 2: no such process, message: "no such process"');
  });

  it('httpGet calls the pod on a named port with the headers, and fails on a bad status or no answer', async () => {
    const rt = new SimRuntime(realClock);
    assert.equal(await runLifecycleHandler({ httpGet: { port: 'admin', path: 'drain', httpHeaders: [{ name: 'X-Reason', value: 'shutdown' }] } }, ctx(rt)), undefined);
    assert.deepEqual(seen.at(-1), { path: '/drain', header: 'shutdown' });
    assert.equal(await runLifecycleHandler({ httpGet: { port, path: '/broken' } }, ctx(rt)),
      'HTTP lifecycle hook (/broken) for Container "main" in Pod "web_shop(1234)" failed - error: HTTP status code 500');
    assert.match(await runLifecycleHandler({ httpGet: { port: 'nope', path: '/x' } }, ctx(rt)) ?? '', /couldn't find port: nope in main/);
    server.close();
    assert.match(await runLifecycleHandler({ httpGet: { port, path: '/x' } }, ctx(rt)) ?? '', /^HTTP lifecycle hook \(\/x\) .* failed - error: .*ECONNREFUSED/);
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  });

  it('sleep waits its seconds, but never past the grace period', async () => {
    const rt = new SimRuntime(realClock);
    let t = Date.now();
    assert.equal(await runLifecycleHandler({ sleep: { seconds: 1 } }, ctx(rt)), undefined);
    assert.ok(Date.now() - t >= 990, 'slept a second');
    t = Date.now();
    await runLifecycleHandler({ sleep: { seconds: 30 } }, ctx(rt, 300));
    assert.ok(Date.now() - t < 2000, 'cut short by the grace period');
  });
});

// The pod worker's logic against the SimRuntime and a manual clock, with a real API server: kubelet's
// restart back-off (10 s doubling to 5 min, reset after 10 min), init container ordering, restart
// policies, start failures and image pull back-off, as `kubectl get pods` would show them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerStatus as ApiContainerStatus, Pod } from 'kubernetes-types/core/v1.js';
import { Agent } from './agent.js';
import { SimRuntime } from './runtime/sim/sim-runtime.js';
import { ManualClock } from '../util/manual-clock.js';
import { startInProcessServer, type InProcessServer } from '../../test/helpers/in-process-server.js';
import { StandInImages, StandInNetwork, StandInVolumes } from '../../test/helpers/agent-stand-ins.js';
import type { RestClient } from '../client/rest-client.js';

async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 150));

describe('pod worker (SimRuntime, manual clock)', () => {
  let srv: InProcessServer;
  let client: RestClient;
  let clock: ManualClock;
  let sim: SimRuntime;
  let images: StandInImages;
  let agent: Agent;
  let dir: string;

  before(async () => {
    clock = new ManualClock(Date.now());
    srv = await startInProcessServer();
    client = srv.client();
    sim = new SimRuntime(clock);
    images = new StandInImages();
    dir = mkdtempSync(join(tmpdir(), 'skiff-worker-'));
    agent = new Agent({
      client, nodeName: 'sim-node', address: '192.0.2.10', podCIDR: '10.9.0.0/24', runtime: sim, network: new StandInNetwork(),
      images, volumes: new StandInVolumes(), sources: { configMap: async () => undefined, secret: async () => undefined },
      rootDir: join(dir, 'root'), podLogDir: join(dir, 'logs'), cgroupRoot: '/sim', clock, resyncMs: 3_600_000, heartbeatMs: 3_600_000,
    });
    await agent.start();
  });

  after(async () => {
    await agent?.stop();
    await srv?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const create = async (pod: Pod): Promise<void> => {
    pod.spec!.nodeName = 'sim-node';
    await client.call('POST', '/api/v1/namespaces/default/pods', { body: { apiVersion: 'v1', kind: 'Pod', ...pod } });
  };
  const get = (name: string): Promise<Pod> => client.call<Pod>('GET', `/api/v1/namespaces/default/pods/${name}`);
  const status = async (name: string, c = 'main'): Promise<ApiContainerStatus | undefined> =>
    [...((await get(name)).status?.containerStatuses ?? []), ...((await get(name)).status?.initContainerStatuses ?? [])].find((x) => x.name === c);
  const running = (name: string, attempt: number): Promise<string> => until(() => {
    const l = sim.latest(name);
    return l && l.attempt === attempt && l.state === 'running' ? l.id : undefined;
  }, `${name} attempt ${attempt} running`);
  it('restarts at once, then waits 10 s, 20 s, 40 s … up to 5 min, and starts over after 10 min of running', async () => {
    const name = 'loop';
    await create({ metadata: { name }, spec: { containers: [{ name: 'loop', image: 'busybox:1.35', command: ['false'] }] } });
    sim.exit(await running('loop', 0), 1);
    sim.exit(await running('loop', 1), 1);
    const expected = ['10s', '20s', '40s', '1m20s', '2m40s', '5m0s', '5m0s'];
    for (let i = 0; i < expected.length; i++) {
      const attempt = i + 2;
      const msg = await until(async () => { const s = await status(name, 'loop'); return s?.state?.waiting?.message?.startsWith(`back-off ${expected[i]}`) ? s.state.waiting.message : undefined; }, `back-off ${expected[i]}`);
      assert.match(msg, new RegExp(`^back-off ${expected[i]} restarting failed container=loop pod=loop_default\\(`));
      const wait = { '10s': 10_000, '20s': 20_000, '40s': 40_000, '1m20s': 80_000, '2m40s': 160_000, '5m0s': 300_000 }[expected[i]!]!;
      clock.advance(wait - 500);
      await settle();
      assert.equal(sim.latest('loop')!.attempt, attempt - 1, `no restart before ${expected[i]} have passed`);
      clock.advance(600);
      sim.exit(await running('loop', attempt), 1);
    }
    // It now runs for 11 minutes before failing: the next restart is immediate and the back-off starts over.
    const last = sim.latest('loop')!;
    clock.advance(300_000);
    const longRun = await running('loop', last.attempt + 1);
    clock.advance(11 * 60_000);
    sim.exit(longRun, 1);
    sim.exit(await running('loop', last.attempt + 2), 1);
    const after = await until(async () => { const x = await status(name, 'loop'); return x?.state?.waiting?.reason === 'CrashLoopBackOff' && x.restartCount === last.attempt + 2 ? x : undefined; }, 'CrashLoopBackOff after the long run').catch(async (e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(await status(name, 'loop'))} sim=${JSON.stringify(sim.latest('loop'))}`); });
    assert.match(after.state!.waiting!.message!, /^back-off 10s /);
    const s = await status(name, 'loop');
    assert.equal(s?.restartCount, last.attempt + 2);
    assert.equal(s?.lastState?.terminated?.exitCode, 1);
  });

  it('a container that exits the moment it starts is restarted at once, then backs off (its exit is not lost)', async () => {
    sim.exitOnStart.set('flash', 2);
    await create({ metadata: { name: 'flash' }, spec: { containers: [{ name: 'flash', image: 'busybox:1.35', command: ['flash'] }] } });
    const s = await until(async () => { const x = await status('flash', 'flash'); return x?.state?.waiting?.reason === 'CrashLoopBackOff' ? x : undefined; }, 'CrashLoopBackOff without a resync');
    assert.equal(s.restartCount, 1);
    assert.equal(s.lastState?.terminated?.exitCode, 2);
    assert.match(s.state!.waiting!.message!, /^back-off 10s /);
  });

  it('probes: readiness decides Ready, a failing liveness probe restarts the container, a startup probe holds them back', async () => {
    const verdict = new Map<string, number>([['ready', 1], ['alive', 0], ['started', 1]]);
    sim.execResult = (cmd) => ({ exitCode: verdict.get(cmd[0] ?? '') ?? 0, output: `${cmd[0]} says ${verdict.get(cmd[0] ?? '')}` });
    const probe = (cmd: string, failureThreshold: number) => ({ exec: { command: [cmd] }, periodSeconds: 5, failureThreshold });
    await create({ metadata: { name: 'probed' }, spec: { containers: [{ name: 'web', image: 'busybox:1.35', command: ['serve'],
      startupProbe: probe('started', 10), readinessProbe: probe('ready', 1), livenessProbe: probe('alive', 2) }] } });
    const first = await running('web', 0);
    const web = async (): Promise<ApiContainerStatus | undefined> => status('probed', 'web');
    await until(async () => (await web())?.state?.running, 'running in the status');
    assert.equal((await web())?.started, false, 'not started before the startup probe passes');
    clock.advance(5_000);
    await settle();
    assert.equal((await web())?.started, false, 'the startup probe failed once');
    verdict.set('started', 0);
    clock.advance(5_000);
    await until(async () => (await web())?.started === true, 'started once the startup probe passes');
    assert.equal((await web())?.ready, false, 'readiness has not passed yet');
    clock.advance(1);
    await settle();
    verdict.set('ready', 0);
    clock.advance(5_000);
    await until(async () => (await web())?.ready === true, 'ready after a passing readiness probe');
    assert.equal((await get('probed')).status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    verdict.set('ready', 1);
    clock.advance(5_000);
    await until(async () => (await web())?.ready === false, 'not ready after a failing readiness probe');
    verdict.set('alive', 1);
    clock.advance(5_000);
    await settle();
    assert.equal(sim.latest('web')!.id, first, 'one liveness failure of two allowed');
    clock.advance(5_000);
    await running('web', 1);
    // Events are recorded in the background: wait for the last one.
    const said = await until(async () => {
      const events = await client.call<{ items: { reason?: string; message?: string }[] }>('GET', '/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dprobed');
      const all = events.items.map((e) => `${e.reason}: ${e.message}`);
      return all.includes('Killing: Container web failed liveness probe, will be restarted') ? all : undefined;
    }, 'the Killing event');
    assert.ok(said.includes('Unhealthy: Liveness probe failed: alive says 1'), said.join('\n'));
    assert.ok(said.includes('Killing: Container web failed liveness probe, will be restarted'), said.join('\n'));
    assert.ok(said.some((m) => m.startsWith('Unhealthy: Readiness probe failed: ready says 1')), said.join('\n'));
    sim.execResult = () => ({ exitCode: 0, output: '' });
  });

  it('runs init containers one at a time, in order, before any app container', async () => {
    await create({ metadata: { name: 'inits' }, spec: { initContainers: [{ name: 'one', image: 'busybox:1.35', command: ['a'] }, { name: 'two', image: 'busybox:1.35', command: ['b'] }], containers: [{ name: 'app', image: 'busybox:1.35', command: ['c'] }] } });
    const one = await running('one', 0);
    await settle();
    assert.equal(sim.latest('two'), undefined, 'two waits for one');
    assert.equal(sim.latest('app'), undefined);
    let p = await get('inits');
    assert.equal(p.status?.phase, 'Pending');
    sim.exit(one, 0);
    const two = await running('two', 0);
    assert.equal(sim.latest('app'), undefined, 'app waits for two');
    sim.exit(two, 0);
    await running('app', 0);
    p = await until(async () => { const x = await get('inits'); return x.status?.phase === 'Running' ? x : undefined; }, 'Running');
    assert.deepEqual(p.status?.initContainerStatuses?.map((c) => c.state?.terminated?.reason), ['Completed', 'Completed']);
    assert.equal(p.status?.conditions?.find((c) => c.type === 'Initialized')?.status, 'True');
  });

  it('a failing init container fails the pod under Never and is retried under OnFailure', async () => {
    await create({ metadata: { name: 'init-never' }, spec: { restartPolicy: 'Never', initContainers: [{ name: 'setup', image: 'busybox:1.35', command: ['x'] }], containers: [{ name: 'never-app', image: 'busybox:1.35', command: ['y'] }] } });
    sim.exit(await running('setup', 0), 7);
    const failed = await until(async () => { const x = await get('init-never'); return x.status?.phase === 'Failed' ? x : undefined; }, 'Failed');
    assert.equal(failed.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode, 7);
    assert.equal(failed.status?.containerStatuses?.[0]?.state?.waiting?.reason, 'PodInitializing');
    assert.equal(sim.latest('never-app'), undefined, 'the app container never starts');
    await create({ metadata: { name: 'init-onfailure' }, spec: { restartPolicy: 'OnFailure', initContainers: [{ name: 'prep', image: 'busybox:1.35', command: ['x'] }], containers: [{ name: 'work', image: 'busybox:1.35', command: ['y'] }] } });
    sim.exit(await running('prep', 0), 1);
    sim.exit(await running('prep', 1), 0);
    await running('work', 0);
  });

  it('OnFailure does not restart a container that succeeded; the pod Succeeds', async () => {
    await create({ metadata: { name: 'once' }, spec: { restartPolicy: 'OnFailure', containers: [{ name: 'job', image: 'busybox:1.35', command: ['true'] }] } });
    sim.exit(await running('job', 0), 0);
    const p = await until(async () => { const x = await get('once'); return x.status?.phase === 'Succeeded' ? x : undefined; }, 'Succeeded');
    assert.equal(p.status?.containerStatuses?.[0]?.state?.terminated?.reason, 'Completed');
    assert.equal(p.status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'PodCompleted');
    await settle();
    assert.equal(sim.latest('job')!.attempt, 0);
  });

  it('a start failure shows as StartError with exit code 128 and is retried with back-off', async () => {
    sim.missingCommands.add('/missing');
    await create({ metadata: { name: 'broken' }, spec: { containers: [{ name: 'bad', image: 'busybox:1.35', command: ['/missing'] }] } });
    const s = await until(async () => { const x = await status('broken', 'bad'); return x?.lastState?.terminated?.reason === 'StartError' || x?.state?.terminated?.reason === 'StartError' ? x : undefined; }, 'StartError');
    const t = s.state?.terminated ?? s.lastState?.terminated;
    assert.equal(t?.exitCode, 128);
    assert.match(t?.message ?? '', /executable file not found/);
    await until(async () => (await status('broken', 'bad'))?.state?.waiting?.reason === 'CrashLoopBackOff', 'CrashLoopBackOff after repeated start failures');
  });

  it('an image that cannot be pulled: ErrImagePull, ImagePullBackOff, and the container starts once the image is there', async () => {
    await create({ metadata: { name: 'pull' }, spec: { containers: [{ name: 'main', image: 'late:1', command: ['x'] }] } });
    await until(async () => (await status('pull'))?.state?.waiting?.reason === 'ErrImagePull', 'ErrImagePull');
    const pulls = images.pulls;
    // Any sync inside the back-off (here: a label change) reports ImagePullBackOff without pulling.
    await client.call('PATCH', '/api/v1/namespaces/default/pods/pull', { body: { metadata: { labels: { touched: 'yes' } } }, contentType: 'application/merge-patch+json' });
    await until(async () => (await status('pull'))?.state?.waiting?.reason === 'ImagePullBackOff', 'ImagePullBackOff');
    assert.equal(images.pulls, pulls, 'no pull during the back-off');
    images.present.add('late:1');
    clock.advance(10_100);
    await running('main', 0);
    assert.equal((await status('pull'))?.state?.running !== undefined || sim.latest('main')?.state === 'running', true);
  });
});

/**
 * Entry point of a component: the scheduler or the controller manager in a worker thread (so its CPU
 * work runs beside the API server's rather than in turns with it), the node agent in a process of its own
 * (see Isolation). Either way it reaches the API only over HTTPS with its own identity.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { RestClient } from '../client/rest-client.js';
import { LeaderElector } from '../client/leader-election.js';
import { ControllerManager } from '../controllers/manager.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { createLogger, type Logger } from '../util/log.js';
import { buildAgent, importDroppedImages } from './agent-setup.js';
import type { ComponentSpec, ComponentMessage } from './component-supervisor.js';

/** Messages from the supervising server: a worker thread's port, or a forked process's IPC channel. */
const onMessage = (fn: (m: ComponentMessage) => void): unknown => (parentPort ? parentPort.on('message', fn) : process.on('message', fn));

const spec: ComponentSpec = parentPort ? workerData as ComponentSpec : await new Promise<ComponentSpec>((resolve) => {
  process.once('message', (m: ComponentMessage) => { if (m.type === 'start') resolve(m.spec); });
});
const log: Logger = createLogger(spec.component);
const client = new RestClient(spec.access, { userAgent: spec.userAgent });
const stop = new AbortController();
onMessage((m) => { if (m.type === 'stop') stop.abort(); });
// A component process must not outlive its server (a killed server restarts with a new one): the IPC
// channel closes when the server goes, whatever the way.
if (!parentPort) process.once('disconnect', () => { log.warn('the server is gone; exiting'); process.exit(0); });

async function run(): Promise<void> {
  if (spec.component === 'agent') {
    const settings = spec.agent!;
    const { agent, client: agentClient, images, streaming } = await buildAgent(settings, log);
    if (settings.imagesDropDir) await importDroppedImages(settings.imagesDropDir, images, log);
    await agent.start();
    await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
    await agent.stop();
    await streaming?.close();
    agentClient.close();
    return;
  }
  if (spec.component === 'controller-manager') {
    await new ControllerManager({
      client, controllers: spec.controllers, log,
      ...(spec.nodeLifecycle ? { nodeLifecycle: spec.nodeLifecycle } : {}),
      ...(spec.controllerConfig ? { config: spec.controllerConfig } : {}),
      ...(spec.leaderElection ? { leaderElectionTiming: spec.leaderElection } : {}),
    }).run(stop.signal);
    return;
  }
  await new LeaderElector(client, { name: 'kube-scheduler', identity: `${hostname()}_${randomUUID()}`, log, ...spec.leaderElection }).run(
    (leadership) => new Scheduler({ client, log }).run(leadership), stop.signal);
}

run().then(
  () => {
    client.close();
    if (parentPort) parentPort.postMessage({ type: 'stopped' } satisfies ComponentMessage);
    else if (process.connected) process.send!({ type: 'stopped' } satisfies ComponentMessage, () => process.exit(0));
    else process.exit(0);
  },
  (e: Error) => { log.error('component failed', { err: e }); client.close(); process.exit(1); },
);

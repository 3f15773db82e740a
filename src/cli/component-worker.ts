/**
 * Entry point of a component thread: runs the scheduler or the controller manager in its own worker
 * thread, so its CPU work (decoding watch events, scheduling cycles, syncs) runs beside the API server's
 * rather than in turns with it. It reaches the API only over HTTPS with its own identity, exactly as if it
 * were a separate process.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { RestClient } from '../client/rest-client.js';
import { LeaderElector } from '../client/leader-election.js';
import { ControllerManager } from '../controllers/manager.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { createLogger } from '../util/log.js';
import { buildAgent, importDroppedImages } from './agent-setup.js';
import type { ComponentSpec, ComponentMessage } from './component-thread.js';

const spec = workerData as ComponentSpec;
const log = createLogger(spec.component);
const client = new RestClient(spec.access, { userAgent: spec.userAgent });
const stop = new AbortController();
parentPort!.on('message', (m: ComponentMessage) => { if (m.type === 'stop') stop.abort(); });

async function run(): Promise<void> {
  if (spec.component === 'agent') {
    const settings = spec.agent!;
    const { agent, client: agentClient, images } = await buildAgent(settings, log);
    if (settings.imagesDropDir) await importDroppedImages(settings.imagesDropDir, images, log);
    await agent.start();
    await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
    await agent.stop();
    agentClient.close();
    return;
  }
  if (spec.component === 'controller-manager') {
    await new ControllerManager({ client, controllers: spec.controllers, log }).run(stop.signal);
    return;
  }
  await new LeaderElector(client, { name: 'kube-scheduler', identity: `${hostname()}_${randomUUID()}`, log }).run(
    (leadership) => new Scheduler({ client, log }).run(leadership), stop.signal);
}

run().then(
  () => { client.close(); parentPort!.postMessage({ type: 'stopped' } satisfies ComponentMessage); },
  (e: Error) => { log.error('component failed', { err: e }); client.close(); process.exit(1); },
);

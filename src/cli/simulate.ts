import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { SimulatedNodes, type SimulatedNodeSpec } from '../simulate/simulated-nodes.js';
import { createLogger } from '../util/log.js';
import { clientFor } from './client-config.js';
import { parseDuration } from './server.js';

const help = `Usage: skiff simulate [flags]

SIMULATION: registers nodes that run no containers and drives the pods bound to them through a
believable lifecycle through the API, like kwok. For testing and benchmarking the scheduler and
controllers at scale; never a real node.

Flags:
  --kubeconfig PATH      cluster to join (default: $KUBECONFIG, /var/lib/skiff/kubeconfig.yaml)
  --nodes N              how many nodes (default 1)
  --prefix NAME          node name prefix (default sim-)
  --cpu Q --memory Q --pods N   capacity of each node (default 4, 8Gi, 110)
  --nodes-file PATH      YAML: nodes: [{name, cpu, memory, pods, labels, taints}] (instead of --nodes)
  --start-delay-ms N     how long a simulated container takes to start (default 0)
  --heartbeat-interval DUR  how often each node renews its Lease, e.g. 500ms (default 10s, as kubelet)
  --keep-nodes           leave the nodes registered on exit (default: remove them)
`;

/** `skiff simulate`: simulated nodes until SIGINT/SIGTERM. */
export async function runSimulate(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      nodes: { type: 'string', default: '1' },
      prefix: { type: 'string', default: 'sim-' },
      cpu: { type: 'string', default: '4' },
      memory: { type: 'string', default: '8Gi' },
      pods: { type: 'string', default: '110' },
      'nodes-file': { type: 'string' },
      'start-delay-ms': { type: 'string', default: '0' },
      'heartbeat-interval': { type: 'string', default: '10s' },
      'keep-nodes': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) { process.stdout.write(help); return 0; }
  const log = createLogger('simulate');
  let specs: SimulatedNodeSpec[];
  if (values['nodes-file']) {
    const doc = parse(readFileSync(values['nodes-file'], 'utf8')) as { nodes?: SimulatedNodeSpec[] };
    if (!Array.isArray(doc?.nodes) || doc.nodes.some((n) => !n.name)) throw new Error(`${values['nodes-file']}: expected "nodes:" with a name for each node`);
    specs = doc.nodes;
  } else {
    const n = Number(values.nodes);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--nodes: "${values.nodes}" is not a positive integer`);
    specs = Array.from({ length: n }, (_, i) => ({ name: `${values.prefix}${i + 1}`, cpu: values.cpu, memory: values.memory, pods: Number(values.pods) }));
  }
  const { client } = clientFor(values.kubeconfig, 'skiff-simulate/v1.32.0');
  const heartbeatMs = parseDuration(values['heartbeat-interval']!, '--heartbeat-interval');
  if (!(heartbeatMs > 0)) throw new Error('--heartbeat-interval: must be longer than 0');
  const sim = new SimulatedNodes({ client, nodes: specs, log, startDelayMs: Number(values['start-delay-ms']), heartbeatMs });
  const t0 = Date.now();
  await sim.start();
  process.stdout.write(`skiff simulate: ${specs.length} simulated node(s) ready in ${((Date.now() - t0) / 1000).toFixed(2)}s (SIMULATION: no containers run)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await sim.stop(!values['keep-nodes']);
  client.close();
  return 0;
}

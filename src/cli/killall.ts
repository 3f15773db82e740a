import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { createLogger } from '../util/log.js';
import { killAll } from './agent-setup.js';

const help = `Usage: skiff killall [--data-dir DIR]

Stops every container the node agent of this data dir started and removes its pod networks, bridge,
volume mounts, cgroups and runc state. Pod objects in the API are not touched. Stop the server first.
`;

/** `skiff killall`: the host-side cleanup of one agent. */
export async function runKillAll(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string', default: '/var/lib/skiff' }, help: { type: 'boolean', short: 'h', default: false } } });
  if (values.help) { process.stdout.write(help); return 0; }
  await killAll(join(resolve(values['data-dir']!), 'agent'), createLogger('killall'));
  return 0;
}

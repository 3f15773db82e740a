import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createLogger } from '../util/log.js';
import { killAll } from './agent-setup.js';

const help = `Usage: skiff killall [--data-dir DIR]

DIR is a server's data dir (its agent's state is DIR/agent) or a \`skiff agent\`'s own.

Stops every container the node agent of this data dir started and removes its pod networks, bridge,
volume mounts, cgroups and runc state. Pod objects in the API are not touched. Stop the server first.
`;

/** `skiff killall`: the host-side cleanup of one agent. */
export async function runKillAll(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string', default: '/var/lib/skiff' }, help: { type: 'boolean', short: 'h', default: false } } });
  if (values.help) { process.stdout.write(help); return 0; }
  const dir = resolve(values['data-dir']!);
  // A server keeps its agent's state in <dir>/agent; `skiff agent` keeps its own in <dir>.
  const agentDir = !existsSync(join(dir, 'agent')) && existsSync(join(dir, 'settings.json')) ? dir : join(dir, 'agent');
  await killAll(agentDir, createLogger('killall'));
  return 0;
}

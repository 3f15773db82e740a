import { parseArgs } from 'node:util';
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { loadKubeconfig } from '../client/kubeconfig.js';
import { RestClient } from '../client/rest-client.js';
import { ServerBalancer } from '../client/server-balancer.js';
import { loadKnownServers, ServerDiscovery } from '../client/server-discovery.js';
import { writeKubeconfig } from '../apiserver/kubeconfig.js';
import { createLogger } from '../util/log.js';
import { resolveKubeconfig } from './client-config.js';
import { parseServerList } from './server-urls.js';

const help = `skiff lb — a local load balancer for kubectl in front of several API servers

Listens on 127.0.0.1 and forwards each connection to a healthy server: the kubeconfig's, those given with
--server, and every server the cluster lists (the \`kubernetes\` Endpoints). When the server in use stops
answering its health checks, connections move to another — kubectl through the balancer keeps working.
It writes a copy of the kubeconfig pointing at itself (the same credentials: TLS still ends at the servers).

Usage:
  skiff lb [--kubeconfig FILE] [--server URL[,URL…]] [--port 6444] [--write-kubeconfig FILE]

Flags:
  --kubeconfig FILE         the kubeconfig to balance (default: $KUBECONFIG, the server's, ~/.kube/config)
  --server URL[,URL…]       more servers to start with
  --port N                  the local port (default 6444, beside a local server's 6443; 0 picks one)
  --write-kubeconfig FILE   where the kubeconfig through the balancer goes (default ~/.kube/skiff-lb.yaml)
`;

/** `skiff lb`: runs until interrupted. */
export async function runLoadBalancer(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      kubeconfig: { type: 'string' }, server: { type: 'string', multiple: true, default: [] }, port: { type: 'string', default: '6444' },
      'write-kubeconfig': { type: 'string' }, help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: "${values.port}" is not a port`);
  const source = resolveKubeconfig(values.kubeconfig);
  const access = loadKubeconfig(source);
  if (!access.ca) throw new Error(`kubeconfig ${source}: the balancer needs the cluster's CA (certificate-authority-data) to check the servers' health`);
  const out = resolve(values['write-kubeconfig'] ?? join(homedir(), '.kube', 'skiff-lb.yaml'));
  const knownFile = `${out}.servers.json`;
  mkdirSync(dirname(out), { recursive: true });
  const configured = [...new Set([access.server.replace(/\/+$/, ''), ...parseServerList(values.server ?? [])])];
  const log = createLogger('lb');

  const balancer = new ServerBalancer({ servers: [...new Set([...configured, ...loadKnownServers(knownFile)])], ca: access.ca, listenPort: port, log });
  const url = await balancer.start();
  const client = new RestClient({ ...access, server: url }, { userAgent: 'skiff-lb/v1.32.0' });
  const discovery = new ServerDiscovery({ client, balancer, configured, file: knownFile, log });
  await discovery.start();
  writeKubeconfig(out, throughBalancer(readFileSync(source, 'utf8'), url));
  process.stdout.write(`skiff lb ready — ${url} in front of ${balancer.servers.join(', ')}\nuse: kubectl --kubeconfig ${out} …\n`);
  await new Promise<void>((resolveStop) => {
    process.once('SIGINT', () => resolveStop());
    process.once('SIGTERM', () => resolveStop());
  });
  discovery.stop();
  client.close();
  balancer.close();
  return 0;
}

/** The kubeconfig with its current context's cluster pointed at `url` (comments and everything else kept). */
export function throughBalancer(kubeconfig: string, url: string): string {
  const doc = parseDocument(kubeconfig);
  const current = doc.get('current-context');
  const contexts = (doc.toJS() as { contexts?: { name: string; context?: { cluster?: string } }[] }).contexts ?? [];
  const clusterName = contexts.find((c) => c.name === current)?.context?.cluster;
  const clusters = (doc.toJS() as { clusters?: { name: string }[] }).clusters ?? [];
  const index = clusters.findIndex((c) => c.name === clusterName);
  if (index < 0) throw new Error(`the kubeconfig's current context "${String(current)}" names no cluster it has`);
  doc.setIn(['clusters', index, 'cluster', 'server'], url);
  return doc.toString();
}

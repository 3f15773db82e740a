import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { ClusterView, explainPending, podsOf, whatIf } from '../scheduler/explain.js';
import type { RestClient } from '../client/rest-client.js';
import { clientFor } from './client-config.js';

async function view(client: RestClient): Promise<ClusterView> {
  const [nodes, pods] = await Promise.all([
    client.call<{ items: Node[] }>('GET', '/api/v1/nodes'),
    client.call<{ items: Pod[] }>('GET', '/api/v1/pods'),
  ]);
  return new ClusterView(nodes.items, pods.items);
}

/** `skiff explain-pending POD [-n NS]`: why a pod is (or would be) pending, node by node. */
export async function runExplainPending(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { kubeconfig: { type: 'string' }, namespace: { type: 'string', short: 'n' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || positionals.length !== 1) {
    process.stdout.write('Usage: skiff explain-pending POD [-n NAMESPACE] [--kubeconfig PATH]\n\nShows, node by node, which scheduling filter rejects the pod and by how much.\n');
    return values.help ? 0 : 2;
  }
  const { client, access } = clientFor(values.kubeconfig, 'skiff-explain/v1.32.0');
  try {
    const ns = values.namespace ?? access.namespace;
    const name = positionals[0]!.replace(/^pods?\//, '');
    const r = await client.request<Pod>('GET', `/api/v1/namespaces/${ns}/pods/${name}`);
    if (r.status === 404) {
      process.stderr.write(`Error from server (NotFound): pods "${name}" not found\n`);
      return 1;
    }
    if (r.status !== 200) throw new Error(`GET pod: ${r.status}`);
    process.stdout.write(explainPending(r.body, await view(client)));
    return 0;
  } finally {
    client.close();
  }
}

/** `skiff what-if -f FILE`: where a manifest's pods would land, without creating anything. */
export async function runWhatIf(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { kubeconfig: { type: 'string' }, filename: { type: 'string', short: 'f', multiple: true }, namespace: { type: 'string', short: 'n' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || !values.filename?.length) {
    process.stdout.write('Usage: skiff what-if -f FILE [-f FILE...] [-n NAMESPACE] [--kubeconfig PATH]\n\nShows where the pods of the manifests would be scheduled on the current cluster; creates nothing.\n');
    return values.help ? 0 : 2;
  }
  const { client, access } = clientFor(values.kubeconfig, 'skiff-what-if/v1.32.0');
  try {
    const ns = values.namespace ?? access.namespace;
    const pods: Pod[] = [];
    for (const f of values.filename) {
      for (const doc of parseAllDocuments(readFileSync(f, 'utf8'))) {
        const obj = doc.toJS() as Record<string, unknown> | null;
        if (obj) pods.push(...podsOf(obj, ns));
      }
    }
    process.stdout.write(whatIf(pods, await view(client)));
    return 0;
  } finally {
    client.close();
  }
}

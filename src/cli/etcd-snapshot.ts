import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { datastoreConfig, etcdTLS } from './datastore.js';
import { restoreSnapshot, saveSnapshot, snapshotStatus } from '../store/etcd/snapshot.js';

const help = `skiff etcd-snapshot — back up and restore the etcd datastore (as k3s's etcd-snapshot)

Usage:
  skiff etcd-snapshot save FILE --datastore-endpoint etcd://HOST:PORT[,...] [TLS flags]
      stream a snapshot of the whole keyspace from one member (etcd's maintenance API) into FILE
  skiff etcd-snapshot status FILE
      revision, key count and size of a snapshot (etcdctl snapshot status)
  skiff etcd-snapshot restore FILE --data-dir DIR [--name NAME] [--initial-advertise-peer-urls URL]
                              [--initial-cluster NAME=URL,...] [--initial-cluster-token TOKEN]
      make a new etcd member data dir from FILE with etcd's own restore (etcdctl snapshot restore; Debian's
      etcd-client); then start etcd on DIR with the same --name and peer URL. For a cluster of several members,
      restore the same FILE once per member, each with its own --name and URL and the same --initial-cluster.

Restoring a cluster: stop every skiff server and etcd member; restore; start etcd; start the first server with
--datastore-endpoint and --token-file pointing at the token of the old cluster (a server's <data-dir>/token, kept
with the snapshot: the cluster CA in the snapshot is sealed with it); then the other servers with the same token.

Flags:
  --datastore-endpoint URL   the etcd cluster (as skiff server's; etcd://… or https://…)
  --datastore-cafile FILE    CA of the members' certificates (TLS)
  --datastore-certfile FILE  client certificate (TLS, with --datastore-keyfile)
  --datastore-keyfile FILE   its key
`;

/** `skiff etcd-snapshot save|status|restore`. */
export async function runEtcdSnapshot(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      'datastore-endpoint': { type: 'string' },
      'datastore-cafile': { type: 'string' },
      'datastore-certfile': { type: 'string' },
      'datastore-keyfile': { type: 'string' },
      'data-dir': { type: 'string' },
      name: { type: 'string' },
      'initial-advertise-peer-urls': { type: 'string' },
      'initial-cluster': { type: 'string' },
      'initial-cluster-token': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [sub, file, ...extra] = positionals;
  if (values.help || !sub) {
    process.stdout.write(help);
    return values.help ? 0 : 2;
  }
  if (!file) throw new Error(`skiff etcd-snapshot ${sub}: name the snapshot FILE`);
  if (extra.length > 0) throw new Error(`skiff etcd-snapshot ${sub}: unexpected arguments: ${extra.join(' ')}`);
  const path = resolve(file);
  switch (sub) {
    case 'save': {
      if (!values['datastore-endpoint']) throw new Error('skiff etcd-snapshot save: --datastore-endpoint is required (the etcd cluster to back up)');
      const c = datastoreConfig({
        endpoint: values['datastore-endpoint'], caFile: values['datastore-cafile'], certFile: values['datastore-certfile'], keyFile: values['datastore-keyfile'], dataDir: '.',
      });
      if (c.kind !== 'etcd') throw new Error('skiff etcd-snapshot save: --datastore-endpoint must name an etcd cluster');
      const saved = await saveSnapshot({ endpoints: c.endpoints, tls: etcdTLS(c), file: path });
      const st = saved.status;
      process.stdout.write(`snapshot saved: ${saved.file} (${saved.bytes} bytes${st ? `, revision ${st.revision}, ${st.totalKey} keys` : ''})\n`);
      return 0;
    }
    case 'status': {
      const s = await snapshotStatus(path);
      process.stdout.write(`${path}: revision ${s.revision}, ${s.totalKey} keys, ${s.totalSize} bytes, hash ${s.hash.toString(16)}\n`);
      return 0;
    }
    case 'restore': {
      if (!values['data-dir']) throw new Error('skiff etcd-snapshot restore: --data-dir is required (the new member\'s data dir)');
      const status = await snapshotStatus(path);
      await restoreSnapshot({
        file: path, dataDir: resolve(values['data-dir']), name: values.name, initialAdvertisePeerURLs: values['initial-advertise-peer-urls'],
        initialCluster: values['initial-cluster'], initialClusterToken: values['initial-cluster-token'],
      });
      process.stdout.write(`snapshot restored into ${resolve(values['data-dir'])} (revision ${status.revision}, ${status.totalKey} keys): start etcd on it with --name ${values.name ?? 'default'}\n`);
      return 0;
    }
    default:
      throw new Error(`skiff etcd-snapshot: unknown subcommand "${sub}"\n\n${help}`);
  }
}

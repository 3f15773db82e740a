import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EtcdConnection } from '../store/etcd/connection.js';
import { datastoreConfig, etcdTLS, type DatastoreConfig } from './datastore.js';

const help = `skiff etcd-member — the members of the etcd cluster (managed by skiff servers, or your own)

Usage:
  skiff etcd-member list   [--data-dir DIR] [--etcd-client-port N]
  skiff etcd-member remove NAME|ID [--data-dir DIR] [--etcd-client-port N]

A server that is gone for good leaves its member behind: until it is removed, it counts towards quorum
(three members with one gone survive no further loss). Remove it from another server. To bring that
machine back later, delete its <data-dir>/db/etcd and start it with --server URL --token-file T again.

Flags:
  --data-dir DIR             this server's data dir: its managed member and the etcd certificates (default /var/lib/skiff)
  --etcd-client-port N       its member's client port (default 2379)
  --datastore-endpoint URL   an etcd of your own instead (with --datastore-cafile/--datastore-certfile/--datastore-keyfile)
`;

interface MemberRow { id: string; name: string; started: boolean; learner: boolean; peerURLs: string[]; clientURLs: string[] }

/** `skiff etcd-member list|remove`. */
export async function runEtcdMember(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      'data-dir': { type: 'string', default: '/var/lib/skiff' }, 'etcd-client-port': { type: 'string', default: '2379' },
      'datastore-endpoint': { type: 'string' }, 'datastore-cafile': { type: 'string' }, 'datastore-certfile': { type: 'string' }, 'datastore-keyfile': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [sub, target, ...extra] = positionals;
  if (values.help || !sub) {
    process.stdout.write(help);
    return values.help ? 0 : 2;
  }
  if (extra.length > 0) throw new Error(`skiff etcd-member ${sub}: unexpected arguments: ${extra.join(' ')}`);
  const conn = new EtcdConnection({ ...connectionTarget(values), requestTimeoutMs: 10_000 });
  try {
    const { value: list } = await conn.call('list members', (o) => conn.client.cluster.memberList({}, o));
    const self = String(list.header.member_id);
    const members: MemberRow[] = list.members.map((m) => ({
      id: BigInt(m.ID).toString(16), name: m.name, started: m.name !== '', learner: m.isLearner, peerURLs: m.peerURLs, clientURLs: m.clientURLs,
    }));
    switch (sub) {
      case 'list':
        process.stdout.write(table(members));
        return 0;
      case 'remove': {
        if (!target) throw new Error('skiff etcd-member remove: name the member (NAME or hex ID, see `skiff etcd-member list`)');
        const m = list.members.find((x) => x.name === target || BigInt(x.ID).toString(16) === target.toLowerCase());
        if (!m) throw new Error(`no etcd member named "${target}": the members are ${members.map((x) => `${x.name || '(unstarted)'} (${x.id})`).join(', ')}`);
        if (m.ID === self) throw new Error(`"${target}" is the member this command talks to (its server's own): run the removal on another server`);
        const { value: after } = await conn.call('remove member', (o) => conn.client.cluster.memberRemove({ ID: m.ID }, o));
        const voters = after.members.filter((x) => !x.isLearner).length;
        process.stdout.write(`removed etcd member ${m.name || '(unstarted)'} (${BigInt(m.ID).toString(16)}); ${voters} voting member${voters === 1 ? '' : 's'} left\n`);
        if (voters % 2 === 0) {
          process.stderr.write(`WARNING: ${voters} voting members is an even number: it survives no more failures than ${voters - 1} — add a server (skiff server --server URL --token-file T)\n`);
        }
        return 0;
      }
      default:
        throw new Error(`skiff etcd-member: unknown command "${sub}" (list or remove)`);
    }
  } finally {
    conn.close();
  }
}

/** The managed member of the server in --data-dir, or the etcd the flags name. */
function connectionTarget(values: Record<string, string | boolean | undefined>): { endpoints: readonly string[]; tls?: ReturnType<typeof etcdTLS> } {
  const flag = (k: string): string | undefined => values[k] as string | undefined;
  let c: DatastoreConfig;
  if (flag('datastore-endpoint')) {
    c = datastoreConfig({ endpoint: flag('datastore-endpoint'), caFile: flag('datastore-cafile'), certFile: flag('datastore-certfile'), keyFile: flag('datastore-keyfile'), dataDir: '.' });
  } else {
    const dataDir = resolve(flag('data-dir')!);
    const tls = join(dataDir, 'tls', 'etcd');
    if (!existsSync(join(tls, 'client.crt'))) throw new Error(`${dataDir} holds no managed etcd member's certificates (tls/etcd/): give the data dir of a server started with --cluster-init or --server, or --datastore-endpoint`);
    const port = Number(flag('etcd-client-port'));
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--etcd-client-port: "${flag('etcd-client-port')}" is not a port`);
    c = { kind: 'etcd', endpoints: [`https://127.0.0.1:${port}`], caFile: join(tls, 'ca.crt'), certFile: join(tls, 'client.crt'), keyFile: join(tls, 'client.key') };
  }
  if (c.kind !== 'etcd') throw new Error('--datastore-endpoint: etcd-member needs an etcd endpoint (etcd://… or https://…)');
  return { endpoints: c.endpoints, tls: etcdTLS(c) };
}

function table(rows: MemberRow[]): string {
  const cells = [['NAME', 'ID', 'STATUS', 'LEARNER', 'PEER URLS', 'CLIENT URLS'],
    ...rows.map((r) => [r.name || '(unstarted)', r.id, r.started ? 'started' : 'unstarted', r.learner ? 'true' : 'false', r.peerURLs.join(','), r.clientURLs.join(',') || '<none>'])];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  return cells.map((c) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]! + 3))).join('')).join('\n') + '\n';
}

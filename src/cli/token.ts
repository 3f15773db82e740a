import { parseArgs } from 'node:util';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Secret } from 'kubernetes-types/core/v1.js';
import { RestClient } from '../client/rest-client.js';
import { loadKubeconfig } from '../client/kubeconfig.js';
import {
  BOOTSTRAP_SECRET_TYPE, bootstrapSecret, bootstrapSecretName, formatJoinToken, newBootstrapToken, parseJoinToken, secretField,
} from '../api/bootstrap-token.js';
import { parseDuration } from './server.js';

const SECRETS = '/api/v1/namespaces/kube-system/secrets';

/**
 * The server's own join token (`<data-dir>/token`, as k3s keeps one): made on first start, and its
 * Secret put back if the store lost it. It does not expire; `skiff token create --ttl` makes ones that do.
 */
export async function ensureServerToken(client: RestClient, file: string, caPem: string): Promise<string> {
  let id: string;
  let secret: string;
  if (existsSync(file)) {
    ({ id, secret } = parseJoinToken(readFileSync(file, 'utf8')));
  } else {
    ({ id, secret } = newBootstrapToken());
  }
  const r = await client.request('POST', SECRETS, { body: bootstrapSecret(id, secret, { description: 'the server\'s join token (<data-dir>/token)' }) });
  if (r.status !== 201 && r.status !== 409) throw new Error(`cannot store the join token: HTTP ${r.status}`);
  const token = formatJoinToken(caPem, id, secret);
  if (!existsSync(file)) writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

const help = `skiff token — node join tokens (kubeadm bootstrap tokens in k3s's secure format)

Usage:
  skiff token create [--ttl 24h] [--description TEXT]   print a new token (--ttl 0: never expires)
  skiff token list                                       id, expiry and description of every token
  skiff token delete ID...                               revoke tokens

Flags:
  --kubeconfig FILE   the cluster to talk to (default: /var/lib/skiff/kubeconfig.yaml, or $KUBECONFIG)
`;

/** `skiff token create|list|delete`, through the API with an admin kubeconfig. */
export async function runToken(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      kubeconfig: { type: 'string' }, ttl: { type: 'string', default: '24h' }, description: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [sub, ...ids] = positionals;
  if (values.help || !sub) {
    process.stdout.write(help);
    return values.help ? 0 : 2;
  }
  const access = loadKubeconfig(resolve(values.kubeconfig ?? process.env['KUBECONFIG'] ?? join('/var/lib/skiff', 'kubeconfig.yaml')));
  const client = new RestClient(access, { userAgent: 'skiff-token/v1.32.0' });
  try {
    if (sub === 'create') {
      const ttlMs = parseDuration(values.ttl!, '--ttl');
      const { id, secret } = newBootstrapToken();
      await client.call('POST', SECRETS, {
        body: bootstrapSecret(id, secret, { ...(ttlMs > 0 ? { expiresAt: new Date(Date.now() + ttlMs) } : {}), ...(values.description ? { description: values.description } : {}) }),
      });
      process.stdout.write(`${formatJoinToken(access.ca ?? '', id, secret)}\n`);
      return 0;
    }
    if (sub === 'list') {
      const list = await client.call<{ items: Secret[] }>('GET', SECRETS);
      const rows = list.items.filter((s) => s.type === BOOTSTRAP_SECRET_TYPE)
        .map((s) => [secretField(s, 'token-id') ?? '?', secretField(s, 'expiration') ?? '<forever>', secretField(s, 'description') ?? '']);
      const w0 = Math.max(2, ...rows.map((r) => r[0]!.length));
      const w1 = Math.max(7, ...rows.map((r) => r[1]!.length));
      process.stdout.write(`${'ID'.padEnd(w0)}   ${'EXPIRES'.padEnd(w1)}   DESCRIPTION\n`);
      for (const r of rows) process.stdout.write(`${r[0]!.padEnd(w0)}   ${r[1]!.padEnd(w1)}   ${r[2]}\n`);
      return 0;
    }
    if (sub === 'delete') {
      if (ids.length === 0) throw new Error('skiff token delete: name the token ids to delete');
      for (const id of ids) {
        const r = await client.request('DELETE', `${SECRETS}/${bootstrapSecretName(id)}`);
        if (r.status === 404) throw new Error(`token "${id}" not found`);
        if (r.status >= 300) throw new Error(`cannot delete token "${id}": HTTP ${r.status}`);
        process.stdout.write(`token "${id}" deleted\n`);
      }
      return 0;
    }
    throw new Error(`skiff token: unknown subcommand "${sub}"\n\n${help}`);
  } finally {
    client.close();
  }
}

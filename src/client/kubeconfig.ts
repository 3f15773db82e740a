import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** Where and how to reach an API server, as read from a kubeconfig's current context. */
export interface ClusterAccess {
  readonly server: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly token?: string;
  readonly namespace: string;
  readonly insecureSkipTLSVerify: boolean;
}

interface Named<T> { name: string; [k: string]: unknown; cluster?: T; user?: T; context?: T }

const fromB64 = (s: unknown): string | undefined => (typeof s === 'string' ? Buffer.from(s, 'base64').toString('utf8') : undefined);
const fromFile = (p: unknown): string | undefined => (typeof p === 'string' ? readFileSync(p, 'utf8') : undefined);

/** Reads the current context of a kubeconfig file (inline `*-data` fields or file paths). */
export function loadKubeconfig(path: string, context?: string): ClusterAccess {
  const doc = parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  const ctxName = context ?? (doc['current-context'] as string);
  const ctx = (doc['contexts'] as Named<Record<string, string>>[] | undefined)?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`kubeconfig ${path}: context "${ctxName}" not found`);
  const cluster = (doc['clusters'] as Named<Record<string, unknown>>[] | undefined)?.find((c) => c.name === ctx['cluster'])?.cluster;
  const user = (doc['users'] as Named<Record<string, unknown>>[] | undefined)?.find((u) => u.name === ctx['user'])?.user ?? {};
  if (!cluster || typeof cluster['server'] !== 'string') throw new Error(`kubeconfig ${path}: cluster "${ctx['cluster']}" has no server`);
  return {
    server: cluster['server'],
    ca: fromB64(cluster['certificate-authority-data']) ?? fromFile(cluster['certificate-authority']),
    cert: fromB64(user['client-certificate-data']) ?? fromFile(user['client-certificate']),
    key: fromB64(user['client-key-data']) ?? fromFile(user['client-key']),
    token: typeof user['token'] === 'string' ? user['token'] : undefined,
    namespace: ctx['namespace'] ?? 'default',
    insecureSkipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
  };
}

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Secret } from 'kubernetes-types/core/v1.js';

/**
 * Node join tokens: kubeadm's bootstrap tokens (`<id>.<secret>`, kept as `bootstrap.kubernetes.io/token`
 * Secrets in kube-system, with an optional expiration) wrapped in k3s's secure format
 * `K10<sha256 of the cluster CA>::<id>.<secret>`, so a joining node can check it talks to the right
 * server before it trusts anything the server says.
 */
export interface JoinToken {
  readonly caHash: string;
  readonly id: string;
  readonly secret: string;
}

const TOKEN_ID = /^[a-z0-9]{6}$/;
const TOKEN_SECRET = /^[a-z0-9]{16}$/;

export const bootstrapSecretName = (id: string): string => `bootstrap-token-${id}`;
export const BOOTSTRAP_SECRET_TYPE = 'bootstrap.kubernetes.io/token';

export function caHash(caPem: string): string {
  return createHash('sha256').update(caPem).digest('hex');
}

export function formatJoinToken(caPem: string, id: string, secret: string): string {
  return `K10${caHash(caPem)}::${id}.${secret}`;
}

/** Parses a join token; the message says what is wrong with it. */
export function parseJoinToken(text: string): JoinToken {
  const m = /^K10([0-9a-f]{64})::([^.]+)\.(.+)$/.exec(text.trim());
  if (!m) throw new Error('the join token is malformed: expected K10<CA hash>::<id>.<secret> (as printed by `skiff token create` or found in the server\'s <data-dir>/token)');
  const [, hash, id, secret] = m as unknown as [string, string, string, string];
  if (!TOKEN_ID.test(id) || !TOKEN_SECRET.test(secret)) throw new Error('the join token is malformed: its id must be 6 and its secret 16 characters of [a-z0-9]');
  return { caHash: hash, id, secret };
}

function randomToken(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length * 2);
  let out = '';
  for (let i = 0; out.length < length; i++) {
    const b = bytes[i % bytes.length]!;
    if (b < 252) out += alphabet[b % 36]; // 252 = 7 × 36: no bias
  }
  return out;
}

export function newBootstrapToken(): { id: string; secret: string } {
  return { id: randomToken(6), secret: randomToken(16) };
}

/** The Secret that holds a bootstrap token, as kubeadm writes it. */
export function bootstrapSecret(id: string, secret: string, o: { expiresAt?: Date; description?: string } = {}): Secret {
  const data: Record<string, string> = {
    'token-id': id, 'token-secret': secret, 'usage-bootstrap-authentication': 'true', 'usage-bootstrap-signing': 'true',
    ...(o.expiresAt ? { expiration: o.expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}),
    ...(o.description ? { description: o.description } : {}),
  };
  return {
    apiVersion: 'v1', kind: 'Secret', type: BOOTSTRAP_SECRET_TYPE,
    metadata: { name: bootstrapSecretName(id), namespace: 'kube-system' },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

export function secretField(s: Secret, key: string): string | undefined {
  const v = s.data?.[key];
  return v === undefined ? s.stringData?.[key] : Buffer.from(v, 'base64').toString('utf8');
}

/** Whether a presented token matches its Secret and is still valid; otherwise why not (said to the joining node). */
export function checkBootstrapToken(s: Secret | undefined, token: { id: string; secret: string }, now: Date): string | undefined {
  if (!s || s.type !== BOOTSTRAP_SECRET_TYPE) return 'the join token is not known to this cluster';
  const want = Buffer.from(secretField(s, 'token-secret') ?? '');
  const got = Buffer.from(token.secret);
  if (secretField(s, 'token-id') !== token.id || want.length !== got.length || !timingSafeEqual(want, got)) return 'the join token is not known to this cluster';
  if (secretField(s, 'usage-bootstrap-authentication') !== 'true') return 'the join token may not be used to join nodes';
  const exp = secretField(s, 'expiration');
  if (exp && Date.parse(exp) <= now.getTime()) return `the join token expired at ${exp}`;
  return undefined;
}

// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto, X509Certificate as NodeX509, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const signing = { name: 'ECDSA', hash: 'SHA-256' } as const;
const tenYears = 10 * 365 * 24 * 3600 * 1000;
const oneYear = 365 * 24 * 3600 * 1000;

/** A certificate and its private key, PEM encoded. */
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

/** The identity a client certificate carries: user (CN) and groups (O), as Kubernetes reads them. */
export interface CertIdentity {
  readonly user: string;
  readonly groups: readonly string[];
}

function randomSerial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');
}

function escapeDN(v: string): string {
  return v.replace(/([,+"\\<>;=])/g, '\\$1');
}

async function exportKey(key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key as webcrypto.CryptoKey);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return (await webcrypto.subtle.importKey('pkcs8', der, ecdsa, true, ['sign'])) as unknown as CryptoKey;
}

/**
 * The cluster's certificate authority: signs the API server's serving certificate and client
 * certificates (the admin's, later each node's). Keys are ECDSA P-256: fast to generate, so a first
 * start stays well under a second.
 */
export class ClusterCA {
  private constructor(readonly pair: KeyPair, private readonly signingKey: CryptoKey, private readonly caCert: x509.X509Certificate) {}

  /** Loads `ca.crt`/`ca.key` from `dir`, creating them on first use. */
  static async loadOrCreate(dir: string): Promise<ClusterCA> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const certPath = join(dir, 'ca.crt');
    const keyPath = join(dir, 'ca.key');
    if (existsSync(certPath) && existsSync(keyPath)) {
      const pair = { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
      return new ClusterCA(pair, await importKey(pair.key), new x509.X509Certificate(pair.cert));
    }
    const keys = (await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: `CN=skiff-ca@${Math.floor(now / 1000)}`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + tenYears),
      signingAlgorithm: signing,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pair = { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
    writeFileSync(certPath, pair.cert, { mode: 0o644 });
    writeFileSync(keyPath, pair.key, { mode: 0o600 });
    return new ClusterCA(pair, keys.privateKey, cert);
  }

  /** Issues a certificate: a server certificate when `sans` is given, else a client certificate for `identity`. */
  async issue(identity: CertIdentity, usage: { server?: { dns: string[]; ips: string[] }; client?: boolean }, o: { notBefore?: Date } = {}): Promise<KeyPair> {
    const keys = (await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
    const now = Date.now();
    const subject = [`CN=${escapeDN(identity.user)}`, ...identity.groups.map((g) => `O=${escapeDN(g)}`)].join(', ');
    const eku: string[] = [];
    if (usage.server) eku.push(x509.ExtendedKeyUsage.serverAuth);
    if (usage.client) eku.push(x509.ExtendedKeyUsage.clientAuth);
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(eku, false),
      await x509.AuthorityKeyIdentifierExtension.create(this.caCert, false),
    ];
    if (usage.server) {
      extensions.push(new x509.SubjectAlternativeNameExtension([
        ...usage.server.dns.map((value) => ({ type: 'dns' as const, value })),
        ...usage.server.ips.map((value) => ({ type: 'ip' as const, value })),
      ]));
    }
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject,
      issuer: this.caCert.subject,
      // A minute back for clocks slightly behind, unless the issue time itself matters (revocation).
      notBefore: o.notBefore ?? new Date(now - 60_000),
      notAfter: new Date(now + oneYear),
      signingAlgorithm: signing,
      publicKey: keys.publicKey,
      signingKey: this.signingKey,
      extensions,
    });
    return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
  }
}

/** Reads a stored key pair if its certificate still covers what is needed; else issues and stores a new one. */
export async function loadOrIssue(
  ca: ClusterCA, dir: string, name: string, identity: CertIdentity,
  usage: { server?: { dns: string[]; ips: string[] }; client?: boolean },
): Promise<KeyPair> {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  if (existsSync(certPath) && existsSync(keyPath)) {
    const pair = { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
    if (stillValid(pair, ca, usage.server)) return pair;
  }
  const pair = await ca.issue(identity, usage);
  writeFileSync(certPath, pair.cert, { mode: 0o644 });
  writeFileSync(keyPath, pair.key, { mode: 0o600 });
  return pair;
}

function stillValid(pair: KeyPair, ca: ClusterCA, server?: { dns: string[]; ips: string[] }): boolean {
  try {
    const cert = new NodeX509(pair.cert);
    createPrivateKey(pair.key);
    if (!cert.verify(new NodeX509(ca.pair.cert).publicKey)) return false;
    if (Date.parse(cert.validTo) < Date.now() + 30 * 24 * 3600 * 1000) return false;
    if (server) {
      const sans = cert.subjectAltName ?? '';
      for (const d of server.dns) if (!sans.includes(`DNS:${d}`)) return false;
      for (const ip of server.ips) if (!sans.includes(`IP Address:${ip}`)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** Reads user and groups from a verified client certificate's subject (CN and O). */
export function identityFromSubject(subject: Record<string, string | string[] | undefined>): CertIdentity | undefined {
  const cn = subject['CN'];
  const user = Array.isArray(cn) ? cn[0] : cn;
  if (!user) return undefined;
  const o = subject['O'];
  const groups = o === undefined ? [] : Array.isArray(o) ? o : [o];
  return { user, groups };
}

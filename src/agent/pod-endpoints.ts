import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { Container } from 'kubernetes-types/core/v1.js';

/** A named container port becomes its number; a number (or a numeric string) stays. */
export function resolvePort(port: number | string, container: Container): number | undefined {
  if (typeof port === 'number') return port;
  const named = container.ports?.find((p) => p.name === port)?.containerPort;
  if (named !== undefined) return named;
  const n = Number(port);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** `http://10.0.0.5:8080/path` (IPv6 hosts bracketed, the path given a leading slash). */
export function endpointURL(scheme: string, host: string, port: number, path: string | undefined): URL {
  const p = path ? (path.startsWith('/') ? path : `/${path}`) : '/';
  return new URL(`${scheme.toLowerCase()}://${host.includes(':') ? `[${host}]` : host}:${port}${p}`);
}

/**
 * GETs `url` as kubelet's probes and hooks do (a fresh connection, HTTPS certificates not verified) and
 * resolves with the status code; rejects on connection errors and after `timeoutMs`.
 */
export function httpGetStatus(url: URL, headers: Record<string, string>, userAgent: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      method: 'GET', headers: { 'User-Agent': userAgent, Accept: '*/*', ...headers }, timeout: timeoutMs, agent: false, rejectUnauthorized: false,
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`context deadline exceeded (Client.Timeout exceeded while awaiting headers)`)));
    req.on('error', reject);
    req.end();
  });
}

/** Opens and closes a TCP connection, as a tcpSocket probe; rejects with Go's wording of the failure. */
export function tcpDial(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, timeout: timeoutMs });
    const where = `dial tcp ${host.includes(':') ? `[${host}]` : host}:${port}`;
    s.once('connect', () => { s.destroy(); resolve(); });
    s.once('timeout', () => { s.destroy(); reject(new Error(`${where}: i/o timeout`)); });
    s.once('error', (e: NodeJS.ErrnoException) => {
      reject(new Error(`${where}: connect: ${e.code === 'ECONNREFUSED' ? 'connection refused' : e.code === 'EHOSTUNREACH' ? 'no route to host' : e.message}`));
    });
  });
}

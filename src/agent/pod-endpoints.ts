import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import http2 from 'node:http2';
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

/** grpc.health.v1 ServingStatus names, by number. */
const servingStatus = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

/**
 * Calls `grpc.health.v1.Health/Check` over plaintext HTTP/2 (as kubelet's gRPC probe) and resolves with
 * the serving status name; rejects with kubelet's wording when the call itself fails.
 */
export function grpcHealthCheck(host: string, port: number, service: string, timeoutMs: number): Promise<string> {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${where}`);
    const timer = setTimeout(() => { session.destroy(); reject(new Error(`timeout: health rpc did not complete within ${timeoutMs / 1000}s`)); }, timeoutMs);
    let settled = false;
    const fail = (e: Error & { code?: string; cause?: { code?: string } }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      // Refused shows on the session or, first, on the pending stream (as its cause).
      const refused = e.code === 'ECONNREFUSED' || e.cause?.code === 'ECONNREFUSED';
      reject(refused ? new Error(`timeout: failed to connect service "${where}" within ${timeoutMs / 1000}s`) : e);
    };
    session.once('error', fail);
    // HealthCheckRequest { string service = 1 }, framed as one uncompressed gRPC message.
    const name = Buffer.from(service);
    const body = name.length > 0 ? Buffer.concat([Buffer.from([0x0a, name.length]), name]) : Buffer.alloc(0);
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, body.length]), body]);
    const req = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' });
    const chunks: Buffer[] = [];
    let grpcStatus: string | undefined;
    let grpcMessage = '';
    req.on('response', (h) => { if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']); });
    req.on('trailers', (h) => { grpcStatus = String(h['grpc-status'] ?? grpcStatus); grpcMessage = String(h['grpc-message'] ?? ''); });
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('error', fail);
    req.on('end', () => {
      clearTimeout(timer);
      session.close();
      if (grpcStatus !== undefined && grpcStatus !== '0') {
        const why = grpcStatus === '12' ? 'this server does not implement the grpc health protocol (grpc.health.v1.Health)' : `rpc error: code = ${grpcStatus} desc = ${grpcMessage}`;
        return reject(new Error(`error: ${why}`));
      }
      // HealthCheckResponse { ServingStatus status = 1 } after the 5-byte message header.
      const msg = Buffer.concat(chunks).subarray(5);
      resolve(servingStatus[msg[0] === 0x08 ? msg[1] ?? 0 : 0] ?? 'UNKNOWN');
    });
    req.end(frame);
  });
}

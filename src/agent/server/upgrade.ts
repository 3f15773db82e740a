import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { SpdySession } from '../../util/spdy/session.js';
import type { Logger } from '../../util/log.js';

/** kubectl's port-forward protocol, and its name when tunnelled through a WebSocket (kubectl 1.31+). */
export const PORT_FORWARD_V1 = 'portforward.k8s.io';
export const PORT_FORWARD_TUNNEL = `SPDY/3.1+${PORT_FORWARD_V1}`;

/** Whether a WebSocket handshake offers `protocol`. */
export function offered(req: IncomingMessage, protocol: string): boolean {
  return String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).includes(protocol);
}

/** Every value of a header that may come several times (Node would join them). */
function headerValues(req: IncomingMessage, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === name) out.push(...req.rawHeaders[i + 1]!.split(',').map((v) => v.trim()).filter(Boolean));
  }
  return out;
}

/** The first of the client's `X-Stream-Protocol-Version`s this side supports (the client's order wins, as in kubelet). */
export function spdyUpgradeProtocol(req: IncomingMessage, supported: readonly string[]): string | undefined {
  return headerValues(req, 'x-stream-protocol-version').find((p) => supported.includes(p));
}

/**
 * Completes a SPDY/3.1 upgrade (`101 Switching Protocols` with the chosen stream protocol) and starts the
 * session on the socket; returns the reason instead when the request cannot be upgraded.
 */
export function spdyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, supported: readonly string[], log?: Logger): SpdySession | string {
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'spdy/3.1') return `unable to upgrade: unsupported protocol "${req.headers.upgrade ?? ''}"`;
  const protocol = spdyUpgradeProtocol(req, supported);
  if (!protocol) {
    const asked = headerValues(req, 'x-stream-protocol-version');
    return `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(asked)}, server supports ${JSON.stringify(supported)}`;
  }
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
  return new SpdySession(socket, log, head);
}

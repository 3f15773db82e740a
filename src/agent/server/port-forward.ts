import type { PodConnection } from '../runtime/runtime.js';
import type { SpdySession, SpdyStream } from '../../util/spdy/session.js';
import type { Logger } from '../../util/log.js';

/** How long the second stream of a forwarded connection may keep the first waiting (kubelet's default). */
const PAIR_TIMEOUT_MS = 30_000;

export interface PortForwardTarget {
  /** kubelet names the pod `<name>_<namespace>` in its messages. */
  readonly podFullName: string;
  readonly uid: string;
  readonly dial: (port: number) => Promise<PodConnection>;
}

interface Pair { data?: SpdyStream; error?: SpdyStream; timer: NodeJS.Timeout }

/**
 * The `portforward.k8s.io` protocol on a SPDY session: for each connection kubectl makes to a local port
 * it opens two streams with the same `requestID` — `error` and `data` — naming the pod `port`. Once
 * both are there, the agent connects inside the pod and joins the data stream to that connection; a
 * failure is written, in kubelet's words, on the error stream.
 */
export function servePortForward(session: SpdySession, target: PortForwardTarget, log: Logger): (s: SpdyStream) => void {
  const pairs = new Map<string, Pair>();
  session.onClose(() => {
    for (const p of pairs.values()) clearTimeout(p.timer);
    pairs.clear();
  });
  return (stream) => {
    stream.reply();
    const type = stream.headers['streamtype'];
    const requestId = stream.headers['requestid'];
    if ((type !== 'data' && type !== 'error') || requestId === undefined) {
      log.warn('port-forward stream without streamType data/error and requestID', { headers: stream.headers });
      stream.reset();
      return;
    }
    let pair = pairs.get(requestId);
    if (!pair) {
      const timer = setTimeout(() => {
        pairs.delete(requestId);
        pair?.data?.reset();
        pair?.error?.reset();
      }, PAIR_TIMEOUT_MS);
      timer.unref();
      pair = { timer };
      pairs.set(requestId, pair);
    }
    if (pair[type]) {
      stream.reset();
      return;
    }
    pair[type] = stream;
    if (pair.data && pair.error) {
      clearTimeout(pair.timer);
      pairs.delete(requestId);
      void forward(pair.data, pair.error, target);
    }
  };
}

async function forward(data: SpdyStream, error: SpdyStream, target: PortForwardTarget): Promise<void> {
  const portHeader = data.headers['port'] ?? '';
  const port = Number(portHeader);
  const fail = (message: string): void => {
    error.end(`error forwarding port ${portHeader} to pod ${target.podFullName}, uid ${target.uid}: ${message}`);
    data.end();
  };
  if (!/^\d+$/.test(portHeader) || port < 1 || port > 65535) {
    fail(`unable to parse port "${portHeader}"`);
    return;
  }
  let conn: PodConnection;
  try {
    conn = await target.dial(port);
  } catch (e) {
    fail((e as Error).message);
    return;
  }
  data.pipe(conn.toPod);
  conn.fromPod.pipe(data);
  data.once('close', () => conn.close());
  await conn.closed;
  error.end();
}

import { isRecoverableError } from 'etcd3';
import { isBrokenCircuitError } from 'cockatiel';

/**
 * What a failed etcd call means for the caller:
 * - `compacted` / `future`: a read at a revision etcd no longer has, or does not have yet (OUT_OF_RANGE);
 * - `unsent`: the request certainly did not reach a member that could apply it (no connection, open
 *   circuit, no leader) — safe to retry anything;
 * - `ambiguous`: the member may or may not have applied it (deadline, dropped connection, leader lost
 *   mid-proposal) — reads retry freely; a retried write may find its own earlier success;
 * - `fatal`: retrying cannot help (invalid request, permission, request too large).
 */
export type Failure = 'compacted' | 'future' | 'unsent' | 'ambiguous' | 'fatal';

/** gRPC/etcd messages that say the request never got to be applied. */
const unsentPatterns = [
  /No connection established/i,
  /ECONNREFUSED/,
  /ENOTFOUND|EAI_AGAIN/,
  /etcdserver: no leader/,
  /etcdserver: too many requests/,
  /etcdserver: not capable/,
  /Execution prevented because the circuit breaker is open/,
];

export function classify(e: unknown): Failure {
  const message = e instanceof Error ? e.message : String(e);
  if (/required revision has been compacted/.test(message)) return 'compacted';
  if (/required revision is a future revision/.test(message)) return 'future';
  if (isBrokenCircuitError(e)) return 'unsent';
  if (e instanceof Error && isRecoverableError(e)) {
    return unsentPatterns.some((p) => p.test(message)) ? 'unsent' : 'ambiguous';
  }
  return 'fatal';
}

/** The message of an etcd/gRPC error without the client library's decorations. */
export function describe(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/ Please report this error at \S+/, '').replace(/\. Resolution note: ?$/, '');
}

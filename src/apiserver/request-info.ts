/**
 * What a request addresses, parsed from its path the way upstream's RequestInfoFactory does:
 * `/api/v1/namespaces/{ns}/{resource}/{name}/{subresource}`, `/apis/{group}/{version}/...`, and the
 * legacy `/api/v1/watch/...` form.
 */
export interface ResourceRequest {
  readonly kind: 'resource';
  readonly group: string;
  readonly version: string;
  readonly namespace?: string;
  readonly resource: string;
  readonly name?: string;
  readonly subresource?: string;
  /** The path had the legacy `/watch/` segment. */
  readonly legacyWatch: boolean;
}

export interface OtherRequest {
  readonly kind: 'other';
  readonly path: string;
}

const namespaceSubresources = new Set(['status', 'finalize']);

export function parseRequestPath(pathname: string): ResourceRequest | OtherRequest {
  const parts = pathname.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    group = '';
    version = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else {
    return { kind: 'other', path: pathname };
  }
  let legacyWatch = false;
  if (rest[0] === 'watch') {
    legacyWatch = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1];
    // `/namespaces/x/status` addresses the namespace itself; `/namespaces/x/pods` a resource in it.
    if (rest.length > 2 && !namespaceSubresources.has(rest[2]!)) rest = rest.slice(2);
    else return { kind: 'resource', group, version, resource: 'namespaces', name: rest[1], subresource: rest[2], legacyWatch };
  }
  if (rest.length === 0 || rest.length > 3) return { kind: 'other', path: pathname };
  return { kind: 'resource', group, version, namespace, resource: rest[0]!, name: rest[1], subresource: rest[2], legacyWatch };
}

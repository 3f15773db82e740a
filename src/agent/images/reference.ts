import { ImageError } from './types.js';

/**
 * Docker image references, parsed and normalised the way kubelet and containerd do it (the grammar and the error
 * texts of github.com/distribution/reference and opencontainers/go-digest), so that `busybox`, `docker.io/busybox`
 * and `docker.io/library/busybox:latest` all name one image and a bad name fails with upstream's words.
 */

/** A parsed, normalised image reference. */
export interface ImageReference {
  /** Registry host with optional port: `docker.io`, `127.0.0.1:5000`, `localhost:5000`. */
  readonly domain: string;
  /** Repository path inside the registry: `library/busybox`, `xxx/tomcat`. */
  readonly path: string;
  /** `domain/path`. */
  readonly name: string;
  /** The tag; `latest` when the input had neither tag nor digest. Absent for digest-only references. */
  readonly tag?: string;
  /** `sha256:<hex>` when the input named a digest. */
  readonly digest?: string;
  /**
   * The name the store keys the image by, as containerd's `ParseDockerRef` gives it: `name@digest` when a digest
   * was given (a tag next to it is informational only), otherwise `name:tag`.
   */
  readonly canonical: string;
}

const defaultDomain = 'docker.io';
const legacyDefaultDomain = 'index.docker.io';
const officialRepoPrefix = 'library/';
const defaultTag = 'latest';
const maxPathLength = 255;

// The regular expressions of distribution/reference (regexp.go), rebuilt from the same pieces.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainAndPort = `(?:${domainName}|${ipv6address})(?::[0-9]+)?`;
const tagPattern = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}';
const digestPattern = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const namePattern = `(?:${domainAndPort}/)?${remoteName}`;
const referenceRegexp = new RegExp(`^(${namePattern})(?::(${tagPattern}))?(?:@(${digestPattern}))?$`);
const anchoredNameRegexp = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
const anchoredIdentifierRegexp = /^[a-f0-9]{64}$/;

/** Hex lengths of the digest algorithms go-digest knows; anything else is "unsupported". */
const digestHexLength: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** Splits off the registry host the way `splitDockerDomain` does (docker.io and `library/` for familiar names). */
function splitDockerDomain(name: string): [domain: string, remainder: string] {
  const slash = name.indexOf('/');
  if (slash < 0) return [defaultDomain, officialRepoPrefix + name];
  const maybeDomain = name.slice(0, slash);
  const maybeRemainder = name.slice(slash + 1);
  let domain: string;
  let remainder: string;
  if (maybeDomain === 'localhost' || /[.:]/.test(maybeDomain) || maybeDomain.toLowerCase() !== maybeDomain) {
    [domain, remainder] = [maybeDomain === legacyDefaultDomain ? defaultDomain : maybeDomain, maybeRemainder];
  } else {
    [domain, remainder] = [defaultDomain, name];
  }
  if (domain === defaultDomain && !remainder.includes('/')) remainder = officialRepoPrefix + remainder;
  return [domain, remainder];
}

/** go-digest's `Digest.Validate`, returning its error text or undefined. */
function validateDigest(d: string): string | undefined {
  const colon = d.indexOf(':');
  if (colon <= 0 || colon + 1 === d.length) return 'invalid checksum digest format';
  const algorithm = d.slice(0, colon);
  const encoded = d.slice(colon + 1);
  const want = digestHexLength[algorithm];
  if (want === undefined) return 'unsupported digest algorithm';
  if (encoded.length !== want) return 'invalid checksum digest length';
  if (!/^[a-f0-9]+$/.test(encoded)) return 'invalid checksum digest format';
  return undefined;
}

/** distribution/reference's `ParseNormalizedNamed`: the parsed parts, or the upstream error text. */
function parseNormalizedNamed(s: string): { domain: string; path: string; tag?: string; digest?: string } | string {
  if (anchoredIdentifierRegexp.test(s)) return `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`;
  const [domain, remainder] = splitDockerDomain(s);
  const colon = remainder.indexOf(':');
  const remote = colon >= 0 ? remainder.slice(0, colon) : remainder;
  if (remote.toLowerCase() !== remote) return `invalid reference format: repository name (${remote}) must be lowercase`;
  const full = `${domain}/${remainder}`;
  const m = referenceRegexp.exec(full);
  if (!m) {
    if (full === '') return 'repository name must have at least one component';
    if (referenceRegexp.test(full.toLowerCase())) return 'repository name must be lowercase';
    return 'invalid reference format';
  }
  const nm = anchoredNameRegexp.exec(m[1] ?? '');
  const path = nm?.[2] ?? m[1] ?? '';
  if (path.length > maxPathLength) return `repository name must not be more than ${maxPathLength} characters`;
  const digest = m[3];
  if (digest !== undefined) {
    const bad = validateDigest(digest);
    if (bad) return bad;
  }
  // A first component with a dot that is no valid host (e.g. `a_b.c/x`) is, as upstream, a path with no domain.
  return { domain: nm?.[1] ?? '', path, ...(m[2] !== undefined ? { tag: m[2] } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/**
 * Parses `ref` as kubelet does before a pull, applying the default tag `latest` when there is neither tag nor
 * digest. Throws `ImageError('InvalidImageName')` with kubelet's message, e.g.
 * `Failed to apply default image tag "a b": couldn't parse image name "a b": invalid reference format`.
 */
export function parseReference(ref: string): ImageReference {
  const r = parseNormalizedNamed(ref);
  if (typeof r === 'string') {
    throw new ImageError('InvalidImageName', `Failed to apply default image tag "${ref}": couldn't parse image name "${ref}": ${r}`);
  }
  const name = r.domain ? `${r.domain}/${r.path}` : r.path;
  const tag = r.tag ?? (r.digest === undefined ? defaultTag : undefined);
  const canonical = r.digest !== undefined ? `${name}@${r.digest}` : `${name}:${tag}`;
  return { domain: r.domain, path: r.path, name, ...(tag !== undefined ? { tag } : {}), ...(r.digest !== undefined ? { digest: r.digest } : {}), canonical };
}

/** `parseReference` that returns undefined instead of throwing, for lookups that may also be image ids. */
export function tryParseReference(ref: string): ImageReference | undefined {
  try {
    return parseReference(ref);
  } catch {
    return undefined;
  }
}

/** The short form people type (`busybox:latest`, `xxx/tomcat:7.0`), like distribution's `FamiliarString`. */
export function familiarName(name: string): string {
  if (!name.startsWith(`${defaultDomain}/`)) return name;
  const rest = name.slice(defaultDomain.length + 1);
  if (rest.startsWith(officialRepoPrefix) && !rest.slice(officialRepoPrefix.length).includes('/')) return rest.slice(officialRepoPrefix.length);
  return rest;
}

/** True when `s` is a well-formed `sha256:<64 lowercase hex>` digest. */
export function isSha256Digest(s: string): boolean {
  return /^sha256:[a-f0-9]{64}$/.test(s);
}

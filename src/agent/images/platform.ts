import type { Descriptor, Platform } from './manifest.js';

/**
 * Which entry of a multi-platform index this node runs: the OCI names of Node's `process.arch`, matched like
 * containerd's default platform matcher (os and architecture must match; arm variants are compared when given).
 */

/** OCI architecture names for Node's `process.arch` values. */
const ociArch: Record<string, string> = {
  x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips: 'mips', mipsel: 'mipsle',
};

/** This machine's platform in OCI terms (`linux/amd64` on x86-64). */
export function hostPlatform(): Platform {
  const architecture = ociArch[process.arch] ?? process.arch;
  // Node on 64-bit ARM is always v8; 32-bit ARM in practice v7.
  const variant = architecture === 'arm64' ? 'v8' : architecture === 'arm' ? 'v7' : undefined;
  return { os: 'linux', architecture, ...(variant ? { variant } : {}) };
}

/** `os/arch[/variant]`, as containerd prints platforms in errors. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** True when an index entry's platform can run on `want`. Entries without a platform never match. */
export function platformMatches(p: Platform | undefined, want: Platform): boolean {
  if (!p || p.os !== want.os || p.architecture !== want.architecture) return false;
  if (!p.variant || !want.variant) return true;
  // arm64 images are published both as v8 and without a variant; arm v7 hosts also run v6/v5 images.
  if (want.architecture === 'arm') return Number(p.variant.slice(1)) <= Number(want.variant.slice(1));
  return p.variant === want.variant;
}

/** The entry of `manifests` for `want` (the first match, as the index orders them by preference), or undefined. */
export function pickPlatform(manifests: readonly Descriptor[], want: Platform = hostPlatform()): Descriptor | undefined {
  return manifests.find((d) => platformMatches(d.platform, want));
}

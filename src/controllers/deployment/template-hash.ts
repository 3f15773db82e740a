import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';

export const templateHashLabel = 'pod-template-hash';

/**
 * A template in canonical form: keys sorted, nulls and empty maps/lists dropped, no creation timestamp,
 * no pod-template-hash label. Two templates that differ only in those respects — as one re-submitted
 * by `kubectl rollout undo` (with `creationTimestamp: null`, `resources: {}`) and the original — are
 * the same template.
 */
export function canonicalTemplate(t: PodTemplateSpec | undefined): unknown {
  const copy = JSON.parse(JSON.stringify(t ?? {})) as { metadata?: Record<string, unknown> };
  if (copy.metadata) {
    delete copy.metadata['creationTimestamp'];
    const labels = copy.metadata['labels'] as Record<string, string> | undefined;
    if (labels) delete labels[templateHashLabel];
  }
  const clean = (v: unknown): unknown => {
    if (Array.isArray(v)) {
      const items = v.map(clean).filter((x) => x !== undefined);
      return items.length > 0 ? items : undefined;
    }
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) {
        const c = clean((v as Record<string, unknown>)[k]);
        if (c !== undefined) out[k] = c;
      }
      return Object.keys(out).length > 0 ? out : undefined;
    }
    return v === null ? undefined : v;
  };
  return clean(copy) ?? {};
}

/** Upstream's EqualIgnoreHash: the same template apart from the hash label and serialisation noise. */
export function equalIgnoreHash(a: PodTemplateSpec | undefined, b: PodTemplateSpec | undefined): boolean {
  return JSON.stringify(canonicalTemplate(a)) === JSON.stringify(canonicalTemplate(b));
}

/** 32-bit FNV-1a, the hash family upstream uses for pod-template-hash. */
function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  const bytes = Buffer.from(text, 'utf8');
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const safeAlphabet = 'bcdfghjklmnpqrstvwxz2456789';

/** Maps each character to one of 27 characters without vowels, so a hash never spells a word (as upstream's SafeEncodeString). */
function safeEncode(s: string): string {
  let out = '';
  for (const ch of s) out += safeAlphabet[ch.codePointAt(0)! % safeAlphabet.length];
  return out;
}

/** The pod-template-hash of a template: stable across key order and defaulting noise; `collisionCount` shifts it. */
export function templateHash(t: PodTemplateSpec | undefined, collisionCount?: number): string {
  let text = JSON.stringify(canonicalTemplate(t));
  if (collisionCount !== undefined && collisionCount !== null) text += `#${collisionCount}`;
  return safeEncode(String(fnv1a32(text)));
}

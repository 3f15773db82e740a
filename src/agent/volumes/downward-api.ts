import { posix } from 'node:path';
import type { DownwardAPIVolumeFile, Pod } from 'kubernetes-types/core/v1.js';
import type { FileProjection } from './atomic-writer.js';
import { aggregate } from './errors.js';
import { podMetadataField } from '../downward/field-path.js';
import { podResourceFieldValue, type ResourceAmounts } from '../downward/resource-field.js';

/**
 * downwardAPI volumes (and downwardAPI sources of projected volumes): pod metadata and container
 * resources as files. Labels and annotations are `key="value"` lines sorted, exactly as kubelet
 * writes them, so programs parsing those files work unchanged.
 */

// The lines of a label/annotation file are sorted as a whole (upstream's sortLines); single values
// have no newline so sorting leaves them alone.
const sortLines = (s: string): string => s.split('\n').sort().join('\n');

/**
 * Files for the items. Every item is attempted; failures are reported together the way upstream
 * aggregates them (one message, or `[a, b]`).
 */
export function downwardApiPayload(items: readonly DownwardAPIVolumeFile[] | undefined, pod: Pod, defaultMode: number, allocatable: ResourceAmounts): Map<string, FileProjection> {
  const payload = new Map<string, FileProjection>();
  const errors: unknown[] = [];
  for (const item of items ?? []) {
    const mode = item.mode ?? defaultMode;
    let text = '';
    try {
      if (item.fieldRef) text = sortLines(podMetadataField(pod, item.fieldRef.fieldPath));
      else if (item.resourceFieldRef) text = sortLines(podResourceFieldValue(pod, item.resourceFieldRef, allocatable));
    } catch (e) {
      errors.push(e);
    }
    payload.set(posix.normalize(item.path), { data: Buffer.from(text, 'utf8'), mode });
  }
  const err = aggregate(errors);
  if (err) throw err;
  return payload;
}

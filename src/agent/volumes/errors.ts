import { VolumeError } from './types.js';

/**
 * Renders an error the way Go prints the same failure, so messages read like kubelet's: Node's
 * `ENOENT: no such file or directory, open '/x'` becomes `open /x: no such file or directory`.
 * Anything that is not a Node system error keeps its message.
 */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as NodeJS.ErrnoException;
  if (typeof e.code === 'string' && typeof e.syscall === 'string') {
    // Node's message is "<CODE>: <description>, <syscall> '<path>'"; keep only the description.
    const m = /^[A-Z0-9_]+: (.*?), \w+/.exec(e.message);
    const description = m?.[1] ?? e.message;
    return e.path !== undefined ? `${e.syscall} ${e.path}: ${description}` : `${e.syscall}: ${description}`;
  }
  return e.message;
}

/**
 * The pod-level failure kubelet reports as a `FailedMount` event. The message is the event's text,
 * `MountVolume.SetUp failed for volume "<name>" : <cause>` (operation_executor's GenerateError, with
 * its space before the colon), so callers can record it verbatim.
 */
export function mountFailed(volumeName: string, cause: unknown): VolumeError {
  if (cause instanceof VolumeError) return cause;
  return new VolumeError('FailedMount', `MountVolume.SetUp failed for volume "${volumeName}" : ${describeError(cause)}`);
}

/**
 * A container-level failure (bad subPath, unknown volume): kubelet fails container creation with
 * `CreateContainerConfigError` and the error text as the waiting message.
 */
export function containerConfigError(cause: unknown): VolumeError {
  if (cause instanceof VolumeError) return cause;
  return new VolumeError('CreateContainerConfigError', describeError(cause));
}

/**
 * Joins several errors as upstream's utilerrors.NewAggregate prints them: one error alone is its own
 * message, several are `[a, b]` (duplicates removed). Returns undefined for no errors.
 */
export function aggregate(errors: readonly unknown[]): Error | undefined {
  const msgs = [...new Set(errors.map(describeError))];
  if (msgs.length === 0) return undefined;
  if (msgs.length === 1) return new Error(msgs[0]);
  return new Error(`[${msgs.join(', ')}]`);
}

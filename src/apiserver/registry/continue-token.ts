import { badRequest, expired } from '../../api/status.js';

/** What a list `continue` token carries: the snapshot revision and the key after which to resume. */
export interface ContinueToken {
  readonly rv: number;
  /** Key relative to the resource's storage prefix, after which the next page starts. */
  readonly start: string;
}

export function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: t.rv, start: t.start })).toString('base64url');
}

export function decodeContinue(token: string): ContinueToken {
  try {
    const o = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v?: string; rv?: number; start?: string };
    if (o.v !== 'meta.k8s.io/v1' || typeof o.rv !== 'number' || typeof o.start !== 'string') throw new Error('bad token');
    return { rv: o.rv, start: o.start };
  } catch {
    throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  }
}

export const continueExpired = (): Error =>
  expired('The provided continue parameter is too old to display a consistent list result: the revision it started from has been compacted. Start a new list without the continue parameter.');

import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { KubeObject } from '../api/types.js';

/** The owner reference marked `controller: true`, if any. */
export function controllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

/** An owner reference making `owner` the controller of a dependent, blocking the owner's foreground deletion. */
export function controllerRef(owner: KubeObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion ?? '', kind: owner.kind ?? '', name: owner.metadata.name ?? '', uid: owner.metadata.uid ?? '',
    controller: true, blockOwnerDeletion: true,
  };
}

/**
 * The JSON merge of a dependent's ownerReferences after adopting it (adding the owner as controller)
 * or releasing it (removing the owner), sent as a strategic merge patch with the dependent's uid as
 * precondition so a replaced object is never touched.
 */
export function adoptPatch(dependent: KubeObject, owner: KubeObject): unknown {
  return { metadata: { ownerReferences: [controllerRef(owner)], uid: dependent.metadata.uid } };
}

export function releasePatch(dependent: KubeObject, ownerUid: string): unknown {
  return { metadata: { ownerReferences: [{ $patch: 'delete', uid: ownerUid }], uid: dependent.metadata.uid } };
}

/** What `claim` needs to adopt and release dependents. */
export interface ClaimOptions<T extends KubeObject> {
  readonly owner: KubeObject;
  /** Does the dependent belong to the owner by its labels? */
  readonly matches: (dependent: T) => boolean;
  readonly candidates: readonly T[];
  /** PATCHes a dependent with a strategic merge patch; resolves to the patched object, or undefined if it is gone. */
  readonly patch: (dependent: T, body: unknown) => Promise<T | undefined>;
  /** A fresh (uncached) check that the owner still exists with the same uid and is not being deleted. */
  readonly canAdopt: () => Promise<boolean>;
}

/**
 * Upstream's ControllerRefManager: the dependents an owner controls. Matching orphans are adopted
 * (unless the owner is being deleted), owned dependents whose labels stopped matching are released,
 * and dependents controlled by someone else are left alone.
 */
export async function claim<T extends KubeObject>(o: ClaimOptions<T>): Promise<T[]> {
  const owned: T[] = [];
  let adoptable: boolean | undefined;
  const uid = o.owner.metadata.uid;
  for (const d of o.candidates) {
    const ref = controllerOf(d);
    if (ref) {
      if (ref.uid !== uid) continue;
      if (o.matches(d)) { owned.push(d); continue; }
      if (o.owner.metadata.deletionTimestamp) continue;
      await o.patch(d, releasePatch(d, uid!));
      continue;
    }
    if (o.owner.metadata.deletionTimestamp || d.metadata.deletionTimestamp || !o.matches(d)) continue;
    adoptable ??= await o.canAdopt();
    if (!adoptable) continue;
    const adopted = await o.patch(d, adoptPatch(d, o.owner));
    if (adopted) owned.push(adopted);
  }
  return owned;
}

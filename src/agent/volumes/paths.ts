import { join } from 'node:path';

/**
 * Where pod volumes live on the node, in kubelet's on-disk layout
 * (`<root-dir>/pods/<uid>/volumes/<escaped plugin>/<volume>`), so tools and tutorials written for a
 * real kubelet (`ls /var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~empty-dir`) work unchanged.
 */

/** kubelet's default `--root-dir`. */
export const defaultRootDir = '/var/lib/kubelet';

/** The qualified plugin names kubelet files each volume type under. */
export const pluginNames = {
  emptyDir: 'kubernetes.io/empty-dir',
  hostPath: 'kubernetes.io/host-path',
  configMap: 'kubernetes.io/configmap',
  secret: 'kubernetes.io/secret',
  downwardAPI: 'kubernetes.io/downward-api',
  projected: 'kubernetes.io/projected',
} as const;

/** One of the volume types this manager can set up. */
export type SupportedVolumeType = keyof typeof pluginNames;

/** A qualified plugin name such as `kubernetes.io/empty-dir`. */
export type PluginName = (typeof pluginNames)[SupportedVolumeType];

/**
 * Escapes a qualified name for use as one path element, as upstream's EscapeQualifiedName:
 * `kubernetes.io/empty-dir` becomes `kubernetes.io~empty-dir`.
 */
export function escapeQualifiedName(name: string): string {
  return name.replaceAll('/', '~');
}

/** `<rootDir>/pods/<uid>`: everything the node keeps for one pod. */
export function podDir(rootDir: string, podUid: string): string {
  return join(rootDir, 'pods', podUid);
}

/** `<rootDir>/pods/<uid>/volumes`: the parent of every plugin directory of the pod. */
export function podVolumesDir(rootDir: string, podUid: string): string {
  return join(podDir(rootDir, podUid), 'volumes');
}

/**
 * `<rootDir>/pods/<uid>/volumes/<escaped plugin>/<volume>`, e.g.
 * `/var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~empty-dir/nginx-vol`. The plugin name may be
 * given qualified (`kubernetes.io/empty-dir`) or already escaped.
 */
export function podVolumeDir(rootDir: string, podUid: string, pluginName: string, volumeName: string): string {
  return join(podVolumesDir(rootDir, podUid), escapeQualifiedName(pluginName), volumeName);
}

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { escapeQualifiedName, podDir, podVolumeDir, podVolumesDir, pluginNames } from './paths.js';

test('plugin names escape "/" as "~", as kubelet does on disk', () => {
  assert.equal(escapeQualifiedName(pluginNames.emptyDir), 'kubernetes.io~empty-dir');
  assert.equal(escapeQualifiedName(pluginNames.configMap), 'kubernetes.io~configmap');
  assert.equal(escapeQualifiedName('kubernetes.io~secret'), 'kubernetes.io~secret');
});

test("the tutorial's emptyDir path", () => {
  const uid = '8e4b4a2c-0000-4000-8000-000000000001';
  assert.equal(podDir('/var/lib/kubelet', uid), `/var/lib/kubelet/pods/${uid}`);
  assert.equal(podVolumesDir('/var/lib/kubelet', uid), `/var/lib/kubelet/pods/${uid}/volumes`);
  assert.equal(podVolumeDir('/var/lib/kubelet', uid, 'kubernetes.io/empty-dir', 'nginx-vol'), `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~empty-dir/nginx-vol`);
  assert.equal(podVolumeDir('/r', uid, 'kubernetes.io~empty-dir', 'v'), `/r/pods/${uid}/volumes/kubernetes.io~empty-dir/v`);
});

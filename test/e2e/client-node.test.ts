import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { eventually, startServer, type TestServer } from './harness.js';

describe('the official @kubernetes/client-node against skiff', () => {
  let s: TestServer;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  before(async () => {
    s = await startServer();
    kc = new k8s.KubeConfig();
    kc.loadFromFile(s.kubeconfig);
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
  });
  after(() => s?.dispose());

  it('creates, lists and patches with the generated clients', async () => {
    const created = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'cfg', labels: { team: 'a' } }, data: { k: 'v' } } });
    assert.ok(created.metadata?.uid);
    const list = await core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'team=a' });
    assert.deepEqual(list.items.map((i) => i.metadata?.name), ['cfg']);
    const patched = await core.patchNamespacedConfigMap(
      { name: 'cfg', namespace: 'default', body: { data: { k: 'v2', extra: 'x' } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    assert.deepEqual(patched.data, { k: 'v2', extra: 'x' });
    const json = await core.patchNamespacedConfigMap(
      { name: 'cfg', namespace: 'default', body: [{ op: 'remove', path: '/data/extra' }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    assert.deepEqual(json.data, { k: 'v2' });
    const d = await apps.createNamespacedDeployment({
      namespace: 'default',
      body: {
        metadata: { name: 'web' },
        spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.17.8' }] } } },
      },
    });
    assert.equal(d.spec?.replicas, 1, 'defaulted');
    const scale = await apps.replaceNamespacedDeploymentScale({ name: 'web', namespace: 'default', body: { metadata: { name: 'web', namespace: 'default' }, spec: { replicas: 3 } } });
    assert.equal(scale.spec?.replicas, 3);
    assert.equal(scale.status?.selector, 'app=web');
    const ssa = await apps.patchNamespacedDeployment(
      { name: 'web', namespace: 'default', fieldManager: 'client-node', force: true, body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', labels: { via: 'ssa' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply),
    );
    assert.equal(ssa.metadata?.labels?.['via'], 'ssa');
    assert.equal(ssa.spec?.replicas, 3, 'apply touches only the fields it names');
  });

  it('keeps an informer in sync through add, update and delete', async () => {
    const informer = k8s.makeInformer(kc, '/api/v1/namespaces/default/pods', () => core.listNamespacedPod({ namespace: 'default', labelSelector: 'informer=yes' }), 'informer=yes');
    const seen: string[] = [];
    informer.on('add', (p) => seen.push(`add:${p.metadata?.name}`));
    informer.on('update', (p) => seen.push(`update:${p.metadata?.name}:${p.metadata?.labels?.['v']}`));
    informer.on('delete', (p) => seen.push(`delete:${p.metadata?.name}`));
    await informer.start();
    try {
      await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'p1', labels: { v: '1', informer: 'yes' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } });
      await eventually(() => seen.includes('add:p1'), 10_000, 'add');
      await core.patchNamespacedPod({ name: 'p1', namespace: 'default', body: { metadata: { labels: { v: '2' } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch));
      await eventually(() => seen.includes('update:p1:2'), 10_000, 'update');
      assert.equal(informer.get('p1', 'default')?.metadata?.labels?.['v'], '2', 'the informer cache holds the new state');
      await core.deleteNamespacedPod({ name: 'p1', namespace: 'default' });
      await eventually(() => seen.includes('delete:p1'), 10_000, 'delete');
      assert.equal(informer.list('default').length, 0);
    } finally {
      await informer.stop();
    }
  });

  it('reports API errors with their Status', async () => {
    await assert.rejects(core.readNamespacedPod({ name: 'nosuch', namespace: 'default' }), (e: k8s.ApiException<string>) => {
      assert.equal(e.code, 404);
      assert.match(String(e.body), /pods \\"nosuch\\" not found|pods "nosuch" not found/);
      return true;
    });
  });
});

// `skiff etcd-snapshot save|status|restore` and the documented path back from a lost cluster: snapshot, wipe
// everything (etcd's data and the server's data dir), restore into a new member data dir, start etcd and a new
// server with the old cluster's token: the cluster's objects are back, and the old credentials still work.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubectl, kubectlOk, runSkiff, TestServer, startServer } from './harness.js';
import { startEtcd } from '../helpers/etcd-server.js';
import { freePort } from '../helpers/registry.js';
import { Cleanups } from '../helpers/cleanups.js';

const skiff = runSkiff;

interface Obj { metadata: { name: string; uid: string; resourceVersion: string }; data?: Record<string, string>; spec?: { replicas?: number } }

describe('skiff etcd-snapshot: save, wipe, restore', () => {
  const cleanups = new Cleanups();
  after(async () => {
    await cleanups.run();
  });

  it('brings a wiped cluster\'s objects back from a snapshot, with the old CA and credentials', async () => {
    const keep = mkdtempSync(join(tmpdir(), 'skiff-e2e-snapshot-'));
    cleanups.push(() => rmSync(keep, { recursive: true, force: true }));
    const etcd = await startEtcd();
    cleanups.push(() => etcd.stop());
    const s1 = await startServer(['--datastore-endpoint', etcd.endpoint.replace('http://', 'etcd://')]);
    cleanups.push(() => s1.dispose());

    await kubectlOk(s1, ['create', 'namespace', 'shop']);
    await kubectlOk(s1, ['-n', 'shop', 'create', 'deployment', 'web', '--image=nginx:1.17.8', '--replicas=2']);
    await kubectlOk(s1, ['-n', 'shop', 'create', 'configmap', 'settings', '--from-literal=colour=teal']);
    await kubectlOk(s1, ['-n', 'shop', 'create', 'secret', 'generic', 'pw', '--from-literal=pw=hunter2']);
    const before = {
      deployment: JSON.parse(await kubectlOk(s1, ['-n', 'shop', 'get', 'deployment', 'web', '-o', 'json'])) as Obj,
      configmap: JSON.parse(await kubectlOk(s1, ['-n', 'shop', 'get', 'configmap', 'settings', '-o', 'json'])) as Obj,
    };

    // Save, and check the file with etcd's own tool.
    const file = join(keep, 'cluster.db');
    const saved = await skiff(['etcd-snapshot', 'save', file, '--datastore-endpoint', etcd.endpoint.replace('http://', 'etcd://')]);
    assert.equal(saved.code, 0, saved.stderr);
    assert.match(saved.stdout, /^snapshot saved: .*cluster\.db \(\d+ bytes, revision (\d+), \d+ keys\)$/m);
    const rev = Number(/revision (\d+)/.exec(saved.stdout)![1]);
    assert.ok(rev >= Number(before.configmap.metadata.resourceVersion), 'taken after the last write');
    assert.equal(existsSync(`${file}.part`), false);
    const status = await skiff(['etcd-snapshot', 'status', file]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`revision ${rev}, \\d+ keys, \\d+ bytes, hash [0-9a-f]+`));
    // The documented companion of a snapshot: the cluster's token (it seals the CA stored in etcd).
    copyFileSync(join(s1.dataDir, 'token'), join(keep, 'token'));
    copyFileSync(s1.kubeconfig, join(keep, 'kubeconfig.yaml'));

    // A write after the snapshot is not in it.
    await kubectlOk(s1, ['-n', 'shop', 'create', 'configmap', 'after-snapshot']);

    // Wipe: the server and its data dir, etcd and its data.
    await s1.dispose();
    await etcd.stop();

    // Restore into a new member data dir (refused where data exists), start etcd on it, and a new server.
    const memberDir = join(keep, 'member');
    const peerPort = await freePort();
    const restoreArgs = ['etcd-snapshot', 'restore', file, '--data-dir', memberDir, '--name', 'restored', '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`];
    const restored = await skiff(restoreArgs);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, new RegExp(`snapshot restored into .*member \\(revision ${rev}, \\d+ keys\\)`));
    const again = await skiff(restoreArgs);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /exists and is not empty/);
    const etcd2 = await startEtcd({ memberDataDir: memberDir, name: 'restored', peerPort });
    cleanups.push(() => etcd2.stop());
    const s2 = await startServer(['--datastore-endpoint', etcd2.endpoint.replace('http://', 'etcd://'), '--token-file', join(keep, 'token')]);
    cleanups.push(() => s2.dispose());

    const deployment = JSON.parse(await kubectlOk(s2, ['-n', 'shop', 'get', 'deployment', 'web', '-o', 'json'])) as Obj;
    assert.equal(deployment.metadata.uid, before.deployment.metadata.uid, 'the same Deployment, not a new one');
    assert.equal(deployment.spec?.replicas, 2);
    const configmap = JSON.parse(await kubectlOk(s2, ['-n', 'shop', 'get', 'configmap', 'settings', '-o', 'json'])) as Obj;
    assert.deepEqual([configmap.metadata.uid, configmap.metadata.resourceVersion, configmap.data], [before.configmap.metadata.uid, before.configmap.metadata.resourceVersion, { colour: 'teal' }]);
    assert.equal(await kubectlOk(s2, ['-n', 'shop', 'get', 'secret', 'pw', '-o', 'jsonpath={.data.pw}']), Buffer.from('hunter2').toString('base64'));
    const later = await kubectl(s2, ['-n', 'shop', 'get', 'configmap', 'after-snapshot']);
    assert.match(later.stderr, /NotFound/, 'a write made after the snapshot is not back');
    // The old admin kubeconfig (its client certificate, its CA) works against the new server: the CA came back too.
    const old = new TestServer(keep); // never started: only its kubeconfig (the old one) is used
    assert.match(await kubectlOk(old, ['--server', s2.url, '-n', 'shop', 'get', 'configmap', 'settings', '-o', 'name']), /configmap\/settings/);
    // And the cluster goes on working: the controllers act on the restored Deployment.
    await kubectlOk(s2, ['-n', 'shop', 'scale', 'deployment', 'web', '--replicas=3']);
    assert.equal(await kubectlOk(s2, ['-n', 'shop', 'get', 'deployment', 'web', '-o', 'jsonpath={.spec.replicas}']), '3');
  });
});

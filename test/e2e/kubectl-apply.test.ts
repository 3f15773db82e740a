import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { examplesDir, kubectl, kubectlOk, manifest, startServer, type TestServer } from './harness.js';

const deployYaml = readFileSync(join(examplesDir, 'nginx-deployment.yaml'), 'utf8');

describe('kubectl create / apply / replace / delete against skiff', () => {
  let s: TestServer;
  before(async () => { s = await startServer(); });
  after(() => s?.dispose());

  it('reports its version and serves discovery', async () => {
    const v = await kubectlOk(s, ['version']);
    assert.match(v, /Server Version: v1\.32\.0\+skiff/);
    const res = await kubectlOk(s, ['api-resources']);
    assert.match(res, /^pods\s+po\s+v1\s+true\s+Pod$/m);
    assert.match(res, /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
    assert.match(res, /^namespaces\s+ns\s+v1\s+false\s+Namespace$/m);
    assert.match(res, /^leases\s+coordination\.k8s\.io\/v1\s+true\s+Lease$/m);
    const ns = await kubectlOk(s, ['get', 'ns', '-o', 'name']);
    assert.deepEqual(ns.trim().split('\n').sort(), ['namespace/default', 'namespace/kube-node-lease', 'namespace/kube-public', 'namespace/kube-system']);
  });

  it('creates from a file once, then refuses the duplicate with AlreadyExists', async () => {
    const f = manifest(s, 'create.yaml', deployYaml.replace('name: nginx-deployment', 'name: created'));
    assert.equal((await kubectlOk(s, ['create', '-f', f])).trim(), 'deployment.apps/created created');
    const again = await kubectl(s, ['create', '-f', f]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /Error from server \(AlreadyExists\): error when creating ".*create\.yaml": deployments\.apps "created" already exists/);
    const dry = await kubectlOk(s, ['create', '-f', manifest(s, 'dry.yaml', deployYaml.replace('name: nginx-deployment', 'name: dry')), '--dry-run=server']);
    assert.match(dry, /deployment\.apps\/dry created \(server dry run\)/);
    const missing = await kubectl(s, ['get', 'deployment', 'dry']);
    assert.match(missing.stderr, /Error from server \(NotFound\): deployments\.apps "dry" not found/);
  });

  it('applies twice with a change: generation and last-applied annotation follow', async () => {
    const f = manifest(s, 'apply.yaml', deployYaml);
    assert.equal((await kubectlOk(s, ['apply', '-f', f])).trim(), 'deployment.apps/nginx-deployment created');
    const gen1 = await kubectlOk(s, ['get', 'deployment', 'nginx-deployment', '-o', 'jsonpath={.metadata.generation}']);
    assert.equal(gen1, '1');
    assert.equal((await kubectlOk(s, ['apply', '-f', f])).trim(), 'deployment.apps/nginx-deployment unchanged');
    manifest(s, 'apply.yaml', deployYaml.replace('nginx:1.17.8', 'nginx:1.16.1'));
    assert.equal((await kubectlOk(s, ['apply', '-f', f])).trim(), 'deployment.apps/nginx-deployment configured');
    const obj = JSON.parse(await kubectlOk(s, ['get', 'deployment', 'nginx-deployment', '-o', 'json']));
    assert.equal(obj.metadata.generation, 2);
    assert.equal(obj.spec.template.spec.containers[0].image, 'nginx:1.16.1');
    const last = JSON.parse(obj.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']);
    assert.equal(last.spec.template.spec.containers[0].image, 'nginx:1.16.1');
    // Defaults a Kubernetes user expects to see.
    assert.equal(obj.spec.strategy.type, 'RollingUpdate');
    assert.equal(obj.spec.strategy.rollingUpdate.maxSurge, '25%');
    assert.equal(obj.spec.revisionHistoryLimit, 10);
    assert.equal(obj.spec.progressDeadlineSeconds, 600);
    assert.equal(obj.spec.template.spec.containers[0].ports[0].protocol, 'TCP');
    assert.equal(obj.spec.template.spec.restartPolicy, 'Always');
  });

  it('removes a container port when the manifest drops it (strategic merge patch with $patch: delete)', async () => {
    const two = deployYaml.replace('name: nginx-deployment', 'name: ports').replace('        - containerPort: 80', '        - containerPort: 80\n        - containerPort: 443');
    const f = manifest(s, 'ports.yaml', two);
    await kubectlOk(s, ['apply', '-f', f]);
    manifest(s, 'ports.yaml', deployYaml.replace('name: nginx-deployment', 'name: ports'));
    await kubectlOk(s, ['apply', '-f', f]);
    const ports = await kubectlOk(s, ['get', 'deploy', 'ports', '-o', 'jsonpath={.spec.template.spec.containers[0].ports[*].containerPort}']);
    assert.equal(ports, '80');
  });

  it('applies server-side: creates, records field managers, reports conflicts, forces', async () => {
    const f = manifest(s, 'ssa.yaml', deployYaml.replace('name: nginx-deployment', 'name: ssa'));
    assert.equal((await kubectlOk(s, ['apply', '--server-side', '-f', f])).trim(), 'deployment.apps/ssa serverside-applied');
    const obj = JSON.parse(await kubectlOk(s, ['get', 'deploy', 'ssa', '-o', 'json', '--show-managed-fields']));
    const mf = obj.metadata.managedFields.find((m: { manager: string }) => m.manager === 'kubectl');
    assert.equal(mf.operation, 'Apply');
    assert.ok(mf.fieldsV1['f:spec']['f:replicas'], 'kubectl owns spec.replicas');
    await kubectlOk(s, ['scale', 'deployment', 'ssa', '--replicas=5']);
    const conflict = await kubectl(s, ['apply', '--server-side', '-f', f]);
    assert.equal(conflict.code, 1);
    assert.match(conflict.stderr, /Apply failed with 1 conflict: conflict with "kubectl" using apps\/v1: \.spec\.replicas/);
    assert.equal(await kubectlOk(s, ['get', 'deploy', 'ssa', '-o', 'jsonpath={.spec.replicas}']), '5', 'a refused apply changes nothing');
    await kubectlOk(s, ['apply', '--server-side', '--force-conflicts', '-f', f]);
    assert.equal(await kubectlOk(s, ['get', 'deploy', 'ssa', '-o', 'jsonpath={.spec.replicas}']), '2');
  });

  it('replaces from a file, and refuses a stale resourceVersion with Conflict', async () => {
    const f = manifest(s, 'replace.yaml', deployYaml.replace('name: nginx-deployment', 'name: replaced'));
    await kubectlOk(s, ['create', '-f', f]);
    const rv = await kubectlOk(s, ['get', 'deploy', 'replaced', '-o', 'jsonpath={.metadata.resourceVersion}']);
    manifest(s, 'replace.yaml', deployYaml.replace('name: nginx-deployment', 'name: replaced').replace('replicas: 2', 'replicas: 3'));
    assert.equal((await kubectlOk(s, ['replace', '-f', f])).trim(), 'deployment.apps/replaced replaced');
    assert.equal(await kubectlOk(s, ['get', 'deploy', 'replaced', '-o', 'jsonpath={.spec.replicas}']), '3');
    const stale = manifest(s, 'stale.yaml', deployYaml.replace('name: nginx-deployment', `name: replaced\n  resourceVersion: "${rv}"`));
    const r = await kubectl(s, ['replace', '-f', stale]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error from server \(Conflict\): error when replacing ".*stale\.yaml": Operation cannot be fulfilled on deployments\.apps "replaced": the object has been modified; please apply your changes to the latest version and try again/);
  });

  it('gets with -l, -n, -A and every output format', async () => {
    assert.equal((await kubectlOk(s, ['create', 'namespace', 'other'])).trim(), 'namespace/other created');
    await kubectlOk(s, ['apply', '-n', 'other', '-f', manifest(s, 'o.yaml', deployYaml.replace(/app: nginx/g, 'app: other').replace('name: nginx-deployment', 'name: in-other\n  labels:\n    app: other'))]);
    const table = await kubectlOk(s, ['get', 'deployments', '-n', 'other']);
    assert.match(table, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/m);
    assert.match(table, /^in-other\s+0\/2\s+\d\s+0\s+\d+s$/m);
    const wide = await kubectlOk(s, ['get', 'deployments', '-n', 'other', '-o', 'wide']);
    assert.match(wide, /CONTAINERS\s+IMAGES\s+SELECTOR/);
    assert.match(wide, /nginx\s+nginx:1\.17\.8\s+app=other/);
    const all = await kubectlOk(s, ['get', 'deployments', '-A']);
    assert.match(all, /^NAMESPACE\s+NAME/m);
    assert.match(all, /^other\s+in-other\s/m);
    assert.match(all, /^default\s+nginx-deployment\s/m);
    const labelled = await kubectlOk(s, ['get', 'deployments', '-A', '-l', 'app in (other,x)', '-o', 'name']);
    assert.equal(labelled.trim(), 'deployment.apps/in-other');
    const excluded = await kubectl(s, ['get', 'deployments', '-n', 'other', '-l', 'app!=other']);
    assert.match(excluded.stderr, /No resources found in other namespace\./);
    const uid = await kubectlOk(s, ['get', 'deployment', 'in-other', '-n', 'other', '-o', 'jsonpath={.metadata.uid}']);
    assert.match(uid, /^[0-9a-f-]{36}$/);
    const yaml = await kubectlOk(s, ['get', 'deployment', 'in-other', '-n', 'other', '-o', 'yaml']);
    assert.match(yaml, /^kind: Deployment$/m);
    assert.match(yaml, new RegExp(`uid: ${uid}`));
    const list = JSON.parse(await kubectlOk(s, ['get', 'deployments', '-n', 'other', '-o', 'json']));
    assert.equal(list.kind, 'List');
    assert.equal(list.items.length, 1);
  });

  it('runs the generator commands, whose bodies kubectl sends as protobuf', async () => {
    assert.equal((await kubectlOk(s, ['create', 'deployment', 'gen', '--image=nginx:1.17.8', '--replicas=2', '--port=80'])).trim(), 'deployment.apps/gen created');
    const d = JSON.parse(await kubectlOk(s, ['get', 'deploy', 'gen', '-o', 'json']));
    assert.equal(d.spec.replicas, 2);
    assert.deepEqual(d.spec.selector.matchLabels, { app: 'gen' });
    assert.equal(d.spec.template.spec.containers[0].image, 'nginx:1.17.8');
    assert.equal(d.spec.template.spec.containers[0].ports[0].containerPort, 80);
    assert.equal(d.spec.strategy.type, 'RollingUpdate', 'defaulted after decoding');
    await kubectlOk(s, ['create', 'configmap', 'gen-cm', '--from-literal=color=blue']);
    assert.equal(await kubectlOk(s, ['get', 'cm', 'gen-cm', '-o', 'jsonpath={.data.color}']), 'blue');
    await kubectlOk(s, ['create', 'secret', 'generic', 'gen-secret', '--from-literal=password=s3cret']);
    const sec = JSON.parse(await kubectlOk(s, ['get', 'secret', 'gen-secret', '-o', 'json']));
    assert.equal(Buffer.from(sec.data.password, 'base64').toString(), 's3cret');
    assert.equal(sec.type, 'Opaque');
    await kubectlOk(s, ['create', 'service', 'clusterip', 'gen-svc', '--tcp=80:8080']);
    assert.match(await kubectlOk(s, ['get', 'svc', 'gen-svc']), /^gen-svc\s+ClusterIP\s+10\.43\.\d+\.\d+\s+<none>\s+80\/TCP/m);
    await kubectlOk(s, ['create', 'serviceaccount', 'gen-sa']);
    assert.match(await kubectlOk(s, ['get', 'sa', 'gen-sa']), /^gen-sa\s+0\s+\d+s$/m);
  });

  it('scales, labels and annotates', async () => {
    assert.equal((await kubectlOk(s, ['scale', 'deployment', 'nginx-deployment', '--replicas=4'])).trim(), 'deployment.apps/nginx-deployment scaled');
    const cur = await kubectl(s, ['scale', 'deployment', 'nginx-deployment', '--current-replicas=2', '--replicas=1']);
    assert.match(cur.stderr, /Expected replicas to be 2, was 4/);
    assert.equal((await kubectlOk(s, ['label', 'deployment', 'nginx-deployment', 'tier=web'])).trim(), 'deployment.apps/nginx-deployment labeled');
    assert.equal((await kubectlOk(s, ['annotate', 'deployment', 'nginx-deployment', 'owner=team-a'])).trim(), 'deployment.apps/nginx-deployment annotated');
    const obj = JSON.parse(await kubectlOk(s, ['get', 'deployment', 'nginx-deployment', '-o', 'json']));
    assert.equal(obj.spec.replicas, 4);
    assert.equal(obj.metadata.labels.tier, 'web');
    assert.equal(obj.metadata.annotations.owner, 'team-a');
    assert.equal((await kubectlOk(s, ['get', 'deploy', '-l', 'tier=web', '-o', 'name'])).trim(), 'deployment.apps/nginx-deployment');
    await kubectlOk(s, ['label', 'deployment', 'nginx-deployment', 'tier-']);
    assert.equal((await kubectlOk(s, ['get', 'deploy', '-l', 'tier=web', '-o', 'name'])).trim(), '');
  });

  it('describes a deployment with its strategy and events', async () => {
    const c = s.client();
    try {
      const d = await c.call<{ metadata: { uid: string } }>('GET', '/apis/apps/v1/namespaces/default/deployments/nginx-deployment');
      await c.call('POST', '/api/v1/namespaces/default/events', {
        body: {
          apiVersion: 'v1', kind: 'Event', metadata: { name: 'nginx-deployment.1', namespace: 'default' },
          involvedObject: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'nginx-deployment', namespace: 'default', uid: d.metadata.uid },
          reason: 'ScalingReplicaSet', message: 'Scaled up replica set nginx-deployment-abc to 2', type: 'Normal', source: { component: 'deployment-controller' },
          firstTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), count: 1,
        },
      });
    } finally {
      c.close();
    }
    const out = await kubectlOk(s, ['describe', 'deployment', 'nginx-deployment']);
    assert.match(out, /^Name:\s+nginx-deployment$/m);
    assert.match(out, /^Selector:\s+app=nginx$/m);
    assert.match(out, /^RollingUpdateStrategy:\s+25% max unavailable, 25% max surge$/m);
    assert.match(out, /Port:\s+80\/TCP/);
    assert.match(out, /Normal\s+ScalingReplicaSet\s+\d+s\s+deployment-controller\s+Scaled up replica set nginx-deployment-abc to 2/);
  });

  it('deletes from a file and by name', async () => {
    const f = join(s.dataDir, 'apply.yaml');
    assert.equal((await kubectlOk(s, ['delete', '-f', f])).trim(), 'deployment.apps "nginx-deployment" deleted');
    const gone = await kubectl(s, ['get', 'deployment', 'nginx-deployment']);
    assert.match(gone.stderr, /Error from server \(NotFound\): deployments\.apps "nginx-deployment" not found/);
    assert.equal((await kubectlOk(s, ['delete', 'deployment', 'replaced'])).trim(), 'deployment.apps "replaced" deleted');
  });
});

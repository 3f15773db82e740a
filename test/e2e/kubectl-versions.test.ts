import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { examplesDir, kubectl, kubectlBin, manifest, startServer, type TestServer } from './harness.js';

const deployYaml = readFileSync(join(examplesDir, 'nginx-deployment.yaml'), 'utf8');

const badDeployYaml = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: bad
spec:
  replicass: 2
  selector:
    matchLabels: {app: bad}
  template:
    metadata:
      labels: {app: bad}
    spec:
      containers:
      - name: c
        image: nginx
`;

/** kubectl releases that load OpenAPI v2 (gnostic protobuf) before any create/apply/replace -f or explain. */
const openAPIV2Clients = new Set(['1.27', '1.28']);

/**
 * The oldest and newest kubectl next to the dispatcher, run directly, and 1.28, the last that needs
 * OpenAPI v2. 1.27 and 1.28 fetch /openapi/v2 in protobuf for every manifest they send and for
 * explain; their validation itself is left to the server, which declares `fieldValidation`.
 */
for (const version of ['1.27', '1.28', '1.33']) {
  const bin = kubectlBin(version);
  describe(`kubectl ${version}`, { skip: existsSync(bin) ? false : `${bin} not installed` }, () => {
    let s: TestServer;
    before(async () => { s = await startServer(); });
    after(() => s?.dispose());
    const run = (args: string[]) => kubectl(s, args, { bin });
    const ok = async (args: string[]): Promise<string> => {
      const r = await run(args);
      assert.equal(r.code, 0, `kubectl.${version} ${args.join(' ')}\n${r.stderr}`);
      return r.stdout;
    };

    it('creates, applies, reads, scales, describes and deletes', async () => {
      assert.match(await ok(['version']), /v1\.32\.0\+skiff/);
      const f = manifest(s, 'd.yaml', deployYaml);
      assert.match(await ok(['create', '-f', f]), /deployment\.apps\/nginx-deployment created/);
      manifest(s, 'd.yaml', deployYaml.replace('nginx:1.17.8', 'nginx:1.16.1'));
      assert.match(await ok(['apply', '-f', f]), /deployment\.apps\/nginx-deployment configured/);
      assert.equal(await ok(['get', 'deploy', 'nginx-deployment', '-o', 'jsonpath={.spec.template.spec.containers[0].image}']), 'nginx:1.16.1');
      assert.match(await ok(['get', 'deployments']), /^nginx-deployment\s+0\/2\s+\d\s+0\s+\d+s$/m);
      assert.match(await ok(['scale', 'deployment/nginx-deployment', '--replicas=3']), /scaled/);
      assert.match(await ok(['describe', 'deployment', 'nginx-deployment']), /Replicas:\s+3 desired/);
      await ok(['create', '-f', join(examplesDir, 'two-containers.yaml')]);
      assert.match(await ok(['get', 'pods', '-o', 'wide']), /^two-containers\s+0\/2\s+Pending/m);
      assert.match(await ok(['delete', 'pod', 'two-containers']), /pod "two-containers" deleted/);
      assert.match(await ok(['delete', '-f', f]), /deployment\.apps "nginx-deployment" deleted/);
      const gone = await run(['get', 'deployment', 'nginx-deployment']);
      assert.match(gone.stderr, /deployments\.apps "nginx-deployment" not found/);
    });

    it('explains fields from the server OpenAPI', async () => {
      const out = await ok(['explain', 'deployment.spec.strategy']);
      assert.match(out, /KIND:\s+Deployment/);
      assert.match(out, /rollingUpdate\s+<RollingUpdateDeployment>/);
      if (openAPIV2Clients.has(version)) assert.match(out, /^\s+rollingUpdate\t<RollingUpdateDeployment>\n\s+Rolling update config params\. Present only if DeploymentStrategyType =/m);
    });

    if (openAPIV2Clients.has(version)) {
      it('validates manifests without --validate=false: unknown fields are refused, replace -f works', async () => {
        const bad = manifest(s, 'bad.yaml', badDeployYaml);
        for (const verb of ['create', 'apply']) {
          const r = await run([verb, '-f', bad]);
          assert.notEqual(r.code, 0, `${verb}: ${r.stdout}`);
          assert.match(r.stderr, /error when creating ".*bad\.yaml": Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec\.replicass"/, verb);
        }
        assert.match((await run(['get', 'deployment', 'bad'])).stderr, /deployments\.apps "bad" not found/);
        const good = manifest(s, 'good.yaml', badDeployYaml.replace('replicass', 'replicas'));
        assert.match(await ok(['create', '-f', good]), /deployment\.apps\/bad created/);
        manifest(s, 'good.yaml', badDeployYaml.replace('replicass: 2', 'replicas: 4'));
        assert.match(await ok(['replace', '-f', good]), /deployment\.apps\/bad replaced/);
        assert.equal(await ok(['get', 'deploy', 'bad', '-o', 'jsonpath={.spec.replicas}']), '4');
        await ok(['delete', '-f', good]);
      });

      it('explains fields from OpenAPI v2 (the definitions found by their group-version-kind)', async () => {
        const out = await ok(['explain', 'deployment.spec.strategy', '--output=plaintext-openapiv2']);
        assert.match(out, /^KIND:\s+Deployment$/m);
        assert.match(out, /^VERSION:\s+apps\/v1$/m);
        assert.match(out, /^RESOURCE:\s+strategy <Object>$/m);
        assert.match(out, /The deployment strategy to use to replace existing pods with new ones\./);
        assert.match(out, /^\s+rollingUpdate\t<Object>\n\s+Rolling update config params\. Present only if DeploymentStrategyType =/m);
        const pods = await ok(['explain', 'pods.spec.containers.ports', '--output=plaintext-openapiv2']);
        assert.match(pods, /^VERSION:\s+v1$/m);
        assert.match(pods, /^\s+containerPort\t<integer> -required-$/m);
      });
    }
  });
}

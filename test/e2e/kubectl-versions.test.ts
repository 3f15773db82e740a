import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { examplesDir, kubectl, kubectlBin, manifest, startServer, type TestServer } from './harness.js';

const deployYaml = readFileSync(join(examplesDir, 'nginx-deployment.yaml'), 'utf8');

/**
 * The oldest and newest kubectl next to the dispatcher, run directly. 1.27 validates manifests with
 * OpenAPI v2 in protobuf, which skiff does not serve, so its creates use --validate=false (documented).
 */
for (const version of ['1.27', '1.33']) {
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
    const validate = version === '1.27' ? ['--validate=false'] : [];

    it('creates, applies, reads, scales, describes and deletes', async () => {
      assert.match(await ok(['version']), /v1\.32\.0\+skiff/);
      const f = manifest(s, 'd.yaml', deployYaml);
      assert.match(await ok(['create', ...validate, '-f', f]), /deployment\.apps\/nginx-deployment created/);
      manifest(s, 'd.yaml', deployYaml.replace('nginx:1.17.8', 'nginx:1.16.1'));
      assert.match(await ok(['apply', ...validate, '-f', f]), /deployment\.apps\/nginx-deployment configured/);
      assert.equal(await ok(['get', 'deploy', 'nginx-deployment', '-o', 'jsonpath={.spec.template.spec.containers[0].image}']), 'nginx:1.16.1');
      assert.match(await ok(['get', 'deployments']), /^nginx-deployment\s+0\/2\s+\d\s+0\s+\d+s$/m);
      assert.match(await ok(['scale', 'deployment/nginx-deployment', '--replicas=3']), /scaled/);
      assert.match(await ok(['describe', 'deployment', 'nginx-deployment']), /Replicas:\s+3 desired/);
      await ok(['create', ...validate, '-f', join(examplesDir, 'two-containers.yaml')]);
      assert.match(await ok(['get', 'pods', '-o', 'wide']), /^two-containers\s+0\/2\s+Pending/m);
      assert.match(await ok(['delete', 'pod', 'two-containers']), /pod "two-containers" deleted/);
      assert.match(await ok(['delete', '-f', f]), /deployment\.apps "nginx-deployment" deleted/);
      const gone = await run(['get', 'deployment', 'nginx-deployment']);
      assert.match(gone.stderr, /deployments\.apps "nginx-deployment" not found/);
    });

    if (version !== '1.27') {
      it('explains fields from the server OpenAPI', async () => {
        const out = await ok(['explain', 'deployment.spec.strategy']);
        assert.match(out, /KIND:\s+Deployment/);
        assert.match(out, /rollingUpdate\s+<RollingUpdateDeployment>/);
      });
    }
  });
}

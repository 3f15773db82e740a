import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startRegistry, type TestRegistry } from '../../test/helpers/registry.js';
import { makeArchive, testImages, type TestImages } from '../../test/helpers/test-images.js';
import { formatImageTable, humanSize } from './images.js';

/** `skiff images` run as a process (its own stdout, stderr and exit code), against a data dir and a real registry. */

const entry = new URL('./images.js', import.meta.url).href;

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const script = `import { runImages } from ${JSON.stringify(entry)}; process.exitCode = await runImages(${JSON.stringify(args)});`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('humanSize and the ls table', () => {
  const cases: [number, string][] = [[0, '0B'], [999, '999B'], [1000, '1kB'], [301_000, '301kB'], [1_031_620, '1.03MB'], [5_102_464, '5.1MB'], [56_700_000, '56.7MB'], [2.5e9, '2.5GB']];
  for (const [n, want] of cases) it(`${n} → ${want}`, () => assert.equal(humanSize(n), want));

  it('prints one row per tag and <none> for untagged images', () => {
    const id = `sha256:${'ab'.repeat(32)}`;
    const out = formatImageTable([
      { id, repoTags: ['docker.io/library/nginx:1.17.8', '127.0.0.1:5000/a/b:t'], repoDigests: [], size: 5_102_464, rootfs: '/x', config: {} },
      { id, repoTags: [], repoDigests: [], size: 10, rootfs: '/y', config: {} },
    ]);
    assert.deepEqual(out.split('\n'), [
      'IMAGE                     TAG      IMAGE ID        SIZE',
      'docker.io/library/nginx   1.17.8   ababababababa   5.1MB',
      '127.0.0.1:5000/a/b        t        ababababababa   5.1MB',
      '<none>                    <none>   ababababababa   10B',
      '',
    ]);
  });
});

describe('skiff images', () => {
  let ti: TestImages;
  let reg: TestRegistry;
  let dir: string;
  let dataDir: string;
  before(async () => {
    ti = testImages();
    dir = mkdtempSync(join(tmpdir(), 'skiff-cli-images-'));
    dataDir = join(dir, 'data');
    reg = await startRegistry();
    await reg.push(ti.layouts.busybox, 'latest', 'library/busybox:1.36');
  });
  after(async () => {
    await reg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('import, ls, rm', () => {
    const imp = cli(['import', ti.archive, '--data-dir', dataDir]);
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stdout, /^Imported busybox:latest, debian:latest sha256:[a-f0-9]{64}$/m);
    assert.match(imp.stdout, /^Imported nginx:1\.17\.10, nginx:1\.17\.8, nginx:latest sha256:[a-f0-9]{64}$/m);

    const ls = cli(['ls', '--data-dir', dataDir]);
    assert.equal(ls.code, 0, ls.stderr);
    const lines = ls.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^IMAGE\s+TAG\s+IMAGE ID\s+SIZE$/);
    assert.equal(lines.length, 8);
    assert.match(ls.stdout, /^docker\.io\/library\/nginx\s+1\.17\.8\s+[a-f0-9]{13}\s+5\.1MB$/m);

    const rm = cli(['rm', 'nginx:latest', 'nope:1', '--data-dir', dataDir]);
    assert.equal(rm.code, 1, 'one of two failed');
    assert.equal(rm.stdout, 'Deleted: nginx:latest\n');
    assert.equal(rm.stderr, 'skiff images rm: no such image "nope:1"\n');
    const q = cli(['ls', '-q', '--data-dir', dataDir]);
    assert.equal(q.stdout.trim().split('\n').length, 4);
    assert.doesNotMatch(cli(['ls', '--data-dir', dataDir]).stdout, /nginx\s+latest/);
  });

  it('import explains archives that name images only by tag', async () => {
    const file = join(dir, 'tag-only.tar');
    await makeArchive('oci-archive', ti.layouts.cpwar, 'v2', file, 'v2');
    const r = cli(['import', file, '--data-dir', join(dir, 'other')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Imported <untagged> sha256:/);
    assert.match(r.stderr, /names images only by tag \(v2\), with no repository; they were imported untagged/);
    const bad = cli(['import', join(dir, 'missing.tar'), '--data-dir', join(dir, 'other')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^skiff images import: .*missing\.tar: no such file$/m);
  });

  it('pull through a registries.yaml mirror, and pull failures with their reason', () => {
    const file = join(dir, 'registries.yaml');
    writeFileSync(file, `mirrors:\n  docker.io:\n    endpoint: ["${reg.url}"]\n`);
    const ok = cli(['pull', 'busybox:1.36', '--registries', file, '--data-dir', dataDir]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^Image is up to date for sha256:[a-f0-9]{64}\n$/);
    assert.match(ok.stderr, /^Pulling image "busybox:1\.36"$/m);
    assert.match(cli(['ls', '--data-dir', dataDir]).stdout, /^docker\.io\/library\/busybox\s+1\.36\s/m);

    const bad = cli(['pull', 'busyBOX', '--data-dir', dataDir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^skiff images pull: InvalidImageName: Failed to apply default image tag "busyBOX"/m);
    const missing = cli(['pull', `${reg.host}/library/nope:1`, '--data-dir', dataDir]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ErrImagePull: failed to pull and unpack image ".*\/library\/nope:1": .*not found: manifest unknown/);
    const noFile = cli(['pull', 'busybox', '--registries', join(dir, 'none.yaml'), '--data-dir', dataDir]);
    assert.equal(noFile.code, 1);
    assert.match(noFile.stderr, /--registries: .*none\.yaml: no such file/);
  });

  it('pull from an unreachable registry fails with exit 1', async () => {
    const port = await freePort();
    const r = cli(['pull', `127.0.0.1:${port}/x:1`, '--data-dir', dataDir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ErrImagePull: .*connect: connection refused/);
  });

  it('usage errors exit 2', () => {
    for (const args of [[], ['frobnicate'], ['import'], ['rm'], ['pull'], ['ls', 'extra'], ['ls', '--bogus']]) {
      const r = cli([...args, '--data-dir', dataDir]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
    const h = cli(['--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /^Usage: skiff images COMMAND/);
  });
});

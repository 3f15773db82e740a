// `kubectl exec` and `kubectl cp` through the API server to the node agent (WebSocket v5.channel.k8s.io,
// relayed byte for byte), on real containers: output streams, exit codes, stdin, errors, and a file
// copied into a container and back.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TmuxSession } from '../helpers/tmux.js';
import { eventually, kubectl, kubectlBin, kubectlOk, manifest, startServerWithAgent, type TestServer } from './harness.js';

describe('kubectl exec and cp on real containers', () => {
  let s: TestServer;

  before(async () => {
    s = await startServerWithAgent();
    await kubectlOk(s, ['apply', '-f', manifest(s, 'box.yaml', `apiVersion: v1
kind: Pod
metadata:
  name: box
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: OnFailure
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
  - name: done
    image: busybox
    command: ["true"]
  - name: other
    image: busybox
    command: ["sh", "-c", "echo other > /tmp/who; sleep 3600"]
`)]);
    await eventually(async () => {
      const p = JSON.parse(await kubectlOk(s, ['get', 'pod', 'box', '-o', 'json'])) as { status?: { containerStatuses?: { state?: { running?: object; terminated?: object } }[] } };
      const st = p.status?.containerStatuses ?? [];
      return st.length === 3 && st.filter((c) => c.state?.running).length === 2;
    }, 60_000, 'box running');
  });
  after(async () => { await s?.dispose(); });

  it('runs a command in the container: stdout and stderr apart, exit code 0', async () => {
    const r = await kubectl(s, ['exec', 'box', '-c', 'main', '--', 'sh', '-c', 'echo out; echo err >&2; hostname']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'out\nbox\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal(await kubectlOk(s, ['exec', 'box', '-c', 'other', '--', 'cat', '/tmp/who']), 'other\n', '-c picks the container');
  });

  it('a non-zero exit: "command terminated with exit code 3", and kubectl exits 3', async () => {
    const r = await kubectl(s, ['exec', 'box', '-c', 'main', '--', 'sh', '-c', 'exit 3']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /command terminated with exit code 3/);
  });

  it('-i pipes stdin to the command until its end', async () => {
    const input = Array.from({ length: 20000 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const r = await kubectl(s, ['exec', '-i', 'box', '-c', 'main', '--', 'sh', '-c', 'wc -l; echo done'], { input });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '20000\ndone\n');
  });

  it('kubectl 1.33 speaks the same protocol', async () => {
    const r = await kubectl(s, ['exec', 'box', '-c', 'main', '--', 'echo', 'from 1.33'], { bin: kubectlBin('1.33') });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'from 1.33\n');
  });

  for (const v of ['1.27', '1.29']) {
    it(`kubectl ${v} (SPDY only): output streams apart, stdin, exit code, errors`, async () => {
      const bin = kubectlBin(v);
      let r = await kubectl(s, ['exec', 'box', '-c', 'main', '--', 'sh', '-c', 'echo out; echo err >&2'], { bin });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'out\n');
      assert.equal(r.stderr, 'err\n');
      const input = Array.from({ length: 5000 }, (_, i) => `line ${i}`).join('\n') + '\n';
      r = await kubectl(s, ['exec', '-i', 'box', '-c', 'main', '--', 'sh', '-c', 'wc -l; exit 4'], { bin, input });
      assert.equal(r.code, 4);
      assert.equal(r.stdout, '5000\n');
      assert.match(r.stderr, /command terminated with exit code 4/);
      r = await kubectl(s, ['exec', 'box', '-c', 'main', '--', 'no-such-command'], { bin });
      assert.notEqual(r.code, 0);
      assert.match(r.stdout + r.stderr, /no-such-command/);
    });
  }

  it('a container that is not running: refused before the upgrade, in upstream\'s words for each protocol', async () => {
    let r = await kubectl(s, ['exec', 'box', '-c', 'done', '--', 'true']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: Internal error occurred: unable to upgrade connection: container not found \("done"\)$/m);
    r = await kubectl(s, ['exec', 'box', '-c', 'done', '--', 'true'], { bin: kubectlBin('1.27') });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: unable to upgrade connection: container not found \("done"\)$/m);
  });

  it('errors read as upstream\'s: unknown container, unknown pod', async () => {
    let r = await kubectl(s, ['exec', 'box', '-c', 'nope', '--', 'true']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /container nope is not valid for pod box/);
    r = await kubectl(s, ['exec', 'ghost', '--', 'true']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error from server \(NotFound\): pods "ghost" not found/);
  });

  it('kubectl cp copies a file into the container and back', async () => {
    const src = join(s.dataDir, 'cp-src.txt');
    const back = join(s.dataDir, 'cp-back.txt');
    writeFileSync(src, `copied at ${Date.now()}\n`);
    await kubectlOk(s, ['cp', src, 'box:/tmp/copied.txt', '-c', 'main']);
    assert.equal(await kubectlOk(s, ['exec', 'box', '-c', 'main', '--', 'cat', '/tmp/copied.txt']), readFileSync(src, 'utf8'));
    await kubectlOk(s, ['cp', 'box:/tmp/copied.txt', back, '-c', 'main']);
    assert.equal(readFileSync(back, 'utf8'), readFileSync(src, 'utf8'));
  });

  for (const v of [undefined, '1.27']) it(`-it on a real terminal (kubectl ${v ?? '1.32'}): commands run, a resize reaches the shell, exit ends kubectl with its code`, async () => {
    const tmux = await TmuxSession.start(join(s.dataDir, `tmux-${v ?? 'default'}.sock`),
      [kubectlBin(v), `--kubeconfig=${s.kubeconfig}`, `--cache-dir=${s.cacheDir}`, 'exec', '-it', 'box', '-c', 'main', '--', 'sh'], { width: 100, height: 30 });
    try {
      await tmux.waitFor(/# $/m, 20_000, 'the shell prompt');
      await tmux.type('echo tty=$(tty); stty size');
      await tmux.waitFor(/tty=\/dev\/pts\/\d+\s+30 100/, 10_000, 'a pty of the terminal\'s size');
      await tmux.resize(120, 40);
      await tmux.type('stty size');
      await tmux.waitFor(/^40 120$/m, 10_000, 'the new size inside the container');
      await tmux.type('exit 5');
      const code = await tmux.ended(30_000);
      assert.equal(code, 5, await tmux.screen());
      assert.match(await tmux.screen(), /command terminated with exit code 5/);
    } finally {
      await tmux.kill();
    }
  });
});

// `kubectl attach` and `kubectl run -it` on real containers: a running container's output from the moment
// of attaching, stdin piped to a container that keeps one (stdinOnce closes it at the end of the input),
// and an interactive shell on a terminal conmon holds, driven through tmux.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { TmuxSession } from '../helpers/tmux.js';
import { eventually, kubectl, kubectlBin, kubectlOk, manifest, startServerWithAgent, type TestServer } from './harness.js';

async function running(s: TestServer, name: string): Promise<void> {
  await eventually(async () => {
    const p = JSON.parse(await kubectlOk(s, ['get', 'pod', name, '-o', 'json'])) as { status?: { containerStatuses?: { state?: { running?: object } }[] } };
    return p.status?.containerStatuses?.every((c) => c.state?.running) && p.status.containerStatuses.length > 0;
  }, 60_000, `${name} running`);
}

describe('kubectl attach on real containers', () => {
  let s: TestServer;

  before(async () => {
    s = await startServerWithAgent();
  });
  after(async () => { await s?.dispose(); });

  it('streams the output a running container writes after attaching', async () => {
    await kubectlOk(s, ['apply', '-f', manifest(s, 'ticker.yaml', `apiVersion: v1
kind: Pod
metadata:
  name: ticker
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: tick
    image: busybox
    command: ["sh", "-c", "i=0; while true; do echo tick $i; echo tock $i >&2; i=$((i+1)); sleep 0.2; done"]
`)]);
    await running(s, 'ticker');
    const p = spawn(kubectlBin(), [`--kubeconfig=${s.kubeconfig}`, `--cache-dir=${s.cacheDir}`, 'attach', 'ticker'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    try {
      await eventually(() => (out.match(/^tick \d+$/gm) ?? []).length >= 3, 15_000, `three ticks (stdout: ${out}, stderr: ${err})`);
      assert.match(err, /^tock \d+$/m, 'stderr apart from stdout');
      const ticks = (out.match(/^tick (\d+)$/gm) ?? []).map((l) => Number(l.split(' ')[1]));
      assert.ok(ticks.every((n, i) => i === 0 || n === ticks[i - 1]! + 1), `consecutive ticks: ${ticks.join(',')}`);
    } finally {
      p.kill('SIGKILL');
    }
  });

  it('-i pipes stdin to the container; with stdinOnce its end closes the container\'s stdin', async () => {
    await kubectlOk(s, ['apply', '-f', manifest(s, 'reader.yaml', `apiVersion: v1
kind: Pod
metadata:
  name: reader
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: read
    image: busybox
    stdin: true
    stdinOnce: true
    command: ["sh", "-c", "while read l; do echo got:$l; done; echo bye"]
`)]);
    await running(s, 'reader');
    const r = await kubectl(s, ['attach', '-i', 'reader'], { input: 'one\ntwo\n', timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'got:one\ngot:two\nbye\n');
    await eventually(async () => (await kubectlOk(s, ['get', 'pod', 'reader', '-o', 'jsonpath={.status.phase}'])) === 'Succeeded', 20_000, 'reader Succeeded');
  });

  it('kubectl run -it --rm: a shell on a terminal of the right size, and the pod removed after exit', async () => {
    const tmux = await TmuxSession.start(join(s.dataDir, 'tmux-run.sock'), [kubectlBin(), `--kubeconfig=${s.kubeconfig}`, `--cache-dir=${s.cacheDir}`,
      'run', 'shell', '-it', '--rm', '--restart=Never', '--image=busybox', '--', 'sh'], { width: 90, height: 25 });
    try {
      await tmux.waitFor(/# $/m, 60_000, 'the shell prompt');
      await tmux.type('echo term=$TERM; stty size');
      await tmux.waitFor(/term=xterm\s+\d+ \d+/, 10_000, 'TERM and a terminal size');
      // kubectl sends size+1, then the size; on a loaded machine the last may land a moment after the prompt.
      await eventually(async () => {
        if (/^25 90\s*$/m.test(await tmux.screen())) return true;
        await tmux.type('stty size');
        await new Promise((r) => setTimeout(r, 500));
        return false;
      }, 10_000, 'the terminal size 90x25');
      await tmux.type('exit');
      const code = await tmux.ended(60_000);
      const screen = await tmux.screen();
      assert.equal(code, 0, screen);
      assert.match(screen, /pod "shell" deleted/);
    } finally {
      await tmux.kill();
    }
    const r = await kubectl(s, ['get', 'pod', 'shell']);
    assert.match(r.stderr, /NotFound|not found/);
  });
});

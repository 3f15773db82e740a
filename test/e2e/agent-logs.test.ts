// `kubectl logs` through the API server to the node agent's streaming port, on real containers: the
// tutorial's log-collector sidecar (-c), following new lines (-f), the previous instance after a crash
// (--previous), tail/timestamps, kubelet's errors for containers that have no log, and log rotation by
// size (a follower goes on across rotations).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { eventually, kubectl, kubectlBin, kubectlOk, manifest, startServerWithAgent, type TestServer } from './harness.js';

const pod = (name: string, body: string): string => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n${body}`;

describe('kubectl logs on real containers', () => {
  let s: TestServer;
  const apply = (name: string, yaml: string): Promise<string> => kubectlOk(s, ['apply', '-f', manifest(s, `${name}.yaml`, yaml)]);
  const running = (name: string): Promise<unknown> => eventually(async () => {
    const p = JSON.parse(await kubectlOk(s, ['get', 'pod', name, '-o', 'json'])) as { status?: { containerStatuses?: { state?: { running?: object } }[] } };
    return (p.status?.containerStatuses ?? []).length > 0 && p.status!.containerStatuses!.every((c) => c.state?.running);
  }, 30_000, `${name} running`);

  before(async () => { s = await startServerWithAgent(); });
  after(async () => { await s?.dispose(); });

  it('the log-collector sidecar: the app writes to a shared volume, `logs -c sidecar` shows it; without -c kubectl picks the first container', async () => {
    await apply('collector', pod('collector', `  volumes:
  - name: varlog
    emptyDir: {}
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "i=0; while true; do echo \\"app line $i\\" >> /var/log/app.log; echo stdout-of-app; i=$((i+1)); sleep 0.5; done"]
    volumeMounts:
    - name: varlog
      mountPath: /var/log
  - name: sidecar
    image: busybox
    command: ["sh", "-c", "tail -n+1 -F /var/log/app.log"]
    volumeMounts:
    - name: varlog
      mountPath: /var/log
`));
    await running('collector');
    const side = await eventually(async () => { const out = await kubectlOk(s, ['logs', 'collector', '-c', 'sidecar']); return /app line 1\n/.test(out) ? out : undefined; }, 20_000, 'the sidecar to print the app\'s lines');
    assert.match(side, /^app line 0\napp line 1\n/);
    const r = await kubectl(s, ['logs', 'collector']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^stdout-of-app\n/);
    assert.match(r.stderr, /Defaulted container "app" out of: app, sidecar/);
    assert.equal(await kubectlOk(s, ['logs', 'collector', '-c', 'sidecar', '--tail=1']).then((o) => o.split('\n').length), 2, 'one line and its newline');
    assert.match(await kubectlOk(s, ['logs', 'collector', '-c', 'sidecar', '--tail=1', '--timestamps']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z app line \d+\n$/);
  });

  it('the default-container annotation, --all-containers and -l (kubectl fans out over the pods a selector finds)', async () => {
    const annotated = (name: string): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels: {app: logsel}
  annotations: {kubectl.kubernetes.io/default-container: second}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: first
    image: busybox
    command: ["sh", "-c", "echo first-of-${name}; exec sleep 3600"]
  - name: second
    image: busybox
    command: ["sh", "-c", "echo second-of-${name}; exec sleep 3600"]
`;
    await apply('sel-a', annotated('sel-a'));
    await apply('sel-b', annotated('sel-b'));
    await running('sel-a');
    await running('sel-b');
    await eventually(async () => (await kubectlOk(s, ['logs', 'sel-b', '-c', 'first'])) === 'first-of-sel-b\n', 10_000, 'sel-b logged');
    assert.equal(await kubectlOk(s, ['logs', 'sel-a']), 'second-of-sel-a\n', 'the annotation picks the container');
    // (kubectl goes through the containers' requests in a Go map's order: no order to assert.)
    assert.deepEqual((await kubectlOk(s, ['logs', 'sel-a', '--all-containers'])).split('\n').filter(Boolean).sort(), ['first-of-sel-a', 'second-of-sel-a']);
    const bySelector = (await kubectlOk(s, ['logs', '-l', 'app=logsel', '--prefix'])).split('\n').filter(Boolean).sort();
    assert.deepEqual(bySelector, ['[pod/sel-a/second] second-of-sel-a', '[pod/sel-b/second] second-of-sel-b']);
    const all = (await kubectlOk(s, ['logs', '-l', 'app=logsel', '--all-containers'])).split('\n').filter(Boolean).sort();
    assert.deepEqual(all, ['first-of-sel-a', 'first-of-sel-b', 'second-of-sel-a', 'second-of-sel-b']);
  });

  it('-f streams lines as they are written', async () => {
    const child = spawn(kubectlBin(), [`--kubeconfig=${s.kubeconfig}`, `--cache-dir=${s.cacheDir}`, 'logs', '-f', 'collector', '-c', 'app', '--tail=1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      const t0 = Date.now();
      await eventually(() => out.split('\n').length >= 5, 10_000, 'four lines through -f');
      assert.ok(Date.now() - t0 >= 1000, 'they arrived as written (a line every 0.5 s), not all at once');
      assert.equal(child.exitCode, null, 'still following');
    } finally {
      child.kill();
    }
  });

  it('terminationMessagePolicy FallbackToLogsOnError: a failed container\'s last log lines become its terminated message', async () => {
    await apply('lastwords', pod('lastwords', `  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    terminationMessagePolicy: FallbackToLogsOnError
    command: ["sh", "-c", "echo starting; echo something broke >&2; exit 3"]
`));
    const t = await eventually(async () => {
      const p = JSON.parse(await kubectlOk(s, ['get', 'pod', 'lastwords', '-o', 'json'])) as { status?: { containerStatuses?: { state?: { terminated?: { exitCode: number; reason?: string; message?: string; startedAt?: string; finishedAt?: string } } }[] } };
      return p.status?.containerStatuses?.[0]?.state?.terminated;
    }, 30_000, 'terminated');
    assert.equal(t.exitCode, 3);
    assert.equal(t.reason, 'Error');
    assert.equal(t.message, 'starting\nsomething broke\n', 'the last lines, as kubelet reads them (newlines kept)');
    assert.ok(t.startedAt && t.finishedAt && Date.parse(t.finishedAt) >= Date.parse(t.startedAt));
  });

  it('--previous shows the instance before a crash; errors read as upstream\'s', async () => {
    await apply('crasher', pod('crasher', `  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "echo run $RANDOM$RANDOM; sleep 5; exit 1"]
`));
    // Read both while the second instance runs (during a back-off both would show the last one).
    await eventually(async () => {
      const p = JSON.parse(await kubectlOk(s, ['get', 'pod', 'crasher', '-o', 'json'])) as { status?: { containerStatuses?: { restartCount: number; state?: { running?: object } }[] } };
      const c = p.status?.containerStatuses?.[0];
      return c && c.restartCount >= 1 && c.state?.running;
    }, 40_000, 'the second instance running');
    const prev = await kubectlOk(s, ['logs', 'crasher', '--previous']);
    assert.match(prev, /^run \d+\n$/);
    const now = await kubectlOk(s, ['logs', 'crasher']);
    assert.match(now, /^run \d+\n$/);
    assert.notEqual(now, prev, 'the current instance is another run');

    let r = await kubectl(s, ['logs', 'collector', '-c', 'nope']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /container nope is not valid for pod collector/);
    r = await kubectl(s, ['logs', 'collector', '-c', 'app', '--previous']);
    assert.match(r.stderr, /Error from server \(BadRequest\): previous terminated container "app" in pod "collector" not found/);
    await apply('nopull', pod('nopull', '  containers:\n  - name: main\n    image: 127.0.0.1:1/none:1\n'));
    r = await eventually(async () => { const x = await kubectl(s, ['logs', 'nopull']); return /waiting to start/.test(x.stderr) ? x : undefined; }, 30_000, 'waiting to start');
    assert.match(r.stderr, /Error from server \(BadRequest\): container "main" in pod "nopull" is waiting to start: (image can't be pulled|trying and failing to pull image|ContainerCreating)/);
  });
});

describe('container log rotation on a real container', () => {
  let s: TestServer;
  before(async () => {
    s = await startServerWithAgent(['--container-log-max-size=2Ki', '--container-log-max-files=3', '--container-log-monitor-interval=300ms']);
  });
  after(async () => { await s?.dispose(); });

  it('rotates by size, keeps at most max-files files, `logs` reads the current file and `logs -f` follows across rotations', async () => {
    // The container starts writing when the test says so (a file in a hostPath volume), once -f follows.
    const signal = join(s.dataDir, 'signal');
    mkdirSync(signal);
    await kubectlOk(s, ['apply', '-f', manifest(s, 'rotating.yaml', pod('rotating', `  volumes:
  - name: signal
    hostPath:
      path: ${signal}
  containers:
  - name: main
    image: busybox
    command:
    - sh
    - -c
    - |
      echo ready
      until [ -e /signal/go ]; do usleep 50000; done
      i=0
      while [ $i -lt 1500 ]; do echo "line $i"; i=$((i+1)); if [ $((i % 50)) -eq 0 ]; then usleep 100000; fi; done
      sleep 3
      echo done
      sleep 3600
    volumeMounts:
    - name: signal
      mountPath: /signal
`))]);
    await eventually(async () => {
      const p = JSON.parse(await kubectlOk(s, ['get', 'pod', 'rotating', '-o', 'json'])) as { status?: { containerStatuses?: { state?: { running?: object } }[] } };
      return p.status?.containerStatuses?.[0]?.state?.running;
    }, 30_000, 'rotating running');
    const child = spawn(kubectlBin(), [`--kubeconfig=${s.kubeconfig}`, `--cache-dir=${s.cacheDir}`, 'logs', '-f', 'rotating'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      await eventually(() => out.startsWith('ready\n'), 10_000, '-f to follow');
      writeFileSync(join(signal, 'go'), '');
      await eventually(() => out.includes('done\n'), 30_000, 'every line through -f');
      const expected = Array.from({ length: 1500 }, (_, i) => `line ${i}\n`).join('');
      assert.equal(out, `ready\n${expected}done\n`, '-f saw every line once, in order, across the rotations');
    } finally {
      child.kill();
    }

    const logDir = join(s.dataDir, 'pod-logs', readdirSync(join(s.dataDir, 'pod-logs')).find((d) => d.startsWith('default_rotating_'))!, 'main');
    const files = readdirSync(logDir).sort();
    assert.ok(files.length <= 3, `at most 3 files: ${files.join(' ')}`);
    const rotated = files.filter((f) => f !== '0.log');
    assert.equal(files.length - rotated.length, 1, 'the current file');
    assert.ok(rotated.length >= 1, `rotated files: ${files.join(' ')}`);
    for (const f of rotated) assert.match(f, /^0\.log\.\d{8}-\d{6}(\.gz)?$/);
    assert.ok(!rotated.at(-1)!.endsWith('.gz') && rotated.slice(0, -1).every((f) => f.endsWith('.gz')), `the newest rotated file plain, older ones gzipped: ${files.join(' ')}`);
    // What is left on disk is the end of the output, its beginning gone with the files pruned.
    const kept = [...rotated, '0.log'].map((f) => {
      const data = readFileSync(join(logDir, f));
      return (f.endsWith('.gz') ? gunzipSync(data) : data).toString().split('\n').filter(Boolean).map((l) => l.split(' ').slice(3).join(' ')).join('\n');
    }).join('\n');
    assert.ok(!kept.includes('line 0\n') && kept.endsWith('line 1499\ndone'), 'older files were removed');
    const first = Number(/^line (\d+)/.exec(kept)?.[1]);
    assert.equal(kept, [...Array.from({ length: 1500 - first }, (_, i) => `line ${first + i}`), 'done'].join('\n'));

    const current = await kubectlOk(s, ['logs', 'rotating']);
    assert.match(current, /done\n$/);
    assert.ok(!current.includes('ready') && current.split('\n').length < 60, `without -f only the current file (under 2Ki): ${JSON.stringify(current.slice(0, 200))}`);
  });
});

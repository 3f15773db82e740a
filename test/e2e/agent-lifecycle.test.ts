// Container lifecycle on real runc through the real kubectl: restart policies, OOM kills, start and
// pull failures, configuration errors, graceful and forced deletion, and an agent restart that adopts
// running containers instead of restarting them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, kubectl, kubectlOk, manifest, startServerWithAgent, type TestServer } from './harness.js';
import { agentIdentity } from '../../src/cli/agent-setup.js';

interface Cs {
  name: string; ready: boolean; restartCount: number; containerID?: string;
  state?: { running?: object; waiting?: { reason?: string; message?: string }; terminated?: { reason?: string; exitCode?: number; message?: string } };
  lastState?: { terminated?: { reason?: string; exitCode?: number } };
}
interface PodObj { metadata: { uid: string }; status?: { phase?: string; containerStatuses?: Cs[]; initContainerStatuses?: Cs[] } }

const busyboxPod = (name: string, extra: { restartPolicy?: string; command: string; resources?: string; image?: string; grace?: number; volume?: string; preStop?: string }): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  restartPolicy: ${extra.restartPolicy ?? 'Always'}
${extra.grace !== undefined ? `  terminationGracePeriodSeconds: ${extra.grace}\n` : ''}${extra.volume ? `  volumes:\n  - name: out\n    hostPath:\n      path: ${extra.volume}\n` : ''}  containers:
  - name: main
    image: ${extra.image ?? 'busybox'}
    command: ["sh", "-c", ${JSON.stringify(extra.command)}]
${extra.preStop ? `    lifecycle:\n      preStop:\n        exec:\n          command: ["sh", "-c", ${JSON.stringify(extra.preStop)}]\n` : ''}${extra.resources ?? ''}${extra.volume ? '    volumeMounts:\n    - name: out\n      mountPath: /out\n' : ''}`;

describe('container lifecycle on real runc', () => {
  let s: TestServer;
  const get = async (name: string): Promise<PodObj> => JSON.parse(await kubectlOk(s, ['get', 'pod', name, '-o', 'json'])) as PodObj;
  const main = async (name: string): Promise<Cs | undefined> => (await get(name)).status?.containerStatuses?.[0];
  const apply = (name: string, yaml: string): Promise<string> => kubectlOk(s, ['apply', '-f', manifest(s, `${name}.yaml`, yaml)]);
  const runcList = (): { id: string; status: string; annotations?: Record<string, string> }[] =>
    JSON.parse(execFileSync('runc', ['--root', agentIdentity(join(s.dataDir, 'agent')).runcRoot, 'list', '-f', 'json']).toString() || 'null') ?? [];

  before(async () => { s = await startServerWithAgent(); });
  after(async () => { await s?.dispose(); });

  it('the server says on stdout when its own node is Ready, after its ready line', async () => {
    const line = await eventually(async () => /skiff server: node (\S+) Ready in [\d.]+s/.exec(s.output) ?? undefined, 30_000, 'the node Ready line');
    assert.equal(line[1], s.nodeName);
    assert.ok(s.output.indexOf('skiff server ready in') < line.index, 'the API\'s ready line comes first');
    assert.match(await kubectlOk(s, ['get', 'node', s.nodeName]), new RegExp(`${s.nodeName}\\s+Ready`));
  });

  it('restartPolicy Never: a failing container leaves the pod Failed with the exit code', async () => {
    await apply('never', busyboxPod('never', { restartPolicy: 'Never', command: 'echo bye; exit 3' }));
    const p = await eventually(async () => { const x = await get('never'); return x.status?.phase === 'Failed' ? x : undefined; }, 30_000, 'Failed');
    const cs = p.status!.containerStatuses![0]!;
    assert.equal(cs.state?.terminated?.exitCode, 3);
    assert.equal(cs.state?.terminated?.reason, 'Error');
    assert.equal(cs.restartCount, 0);
    assert.match(await kubectlOk(s, ['get', 'pod', 'never']), /never\s+0\/1\s+Error\s+0/);
  });

  it('restartPolicy OnFailure: a container that succeeds completes the pod; one that fails is restarted', async () => {
    await apply('onfailure-ok', busyboxPod('onfailure-ok', { restartPolicy: 'OnFailure', command: 'exit 0' }));
    await apply('onfailure-bad', busyboxPod('onfailure-bad', { restartPolicy: 'OnFailure', command: 'exit 1' }));
    await eventually(async () => (await get('onfailure-ok')).status?.phase === 'Succeeded', 30_000, 'Succeeded');
    assert.match(await kubectlOk(s, ['get', 'pod', 'onfailure-ok']), /onfailure-ok\s+0\/1\s+Completed\s+0/);
    const bad = await eventually(async () => { const c = await main('onfailure-bad'); return c && c.restartCount >= 1 ? c : undefined; }, 30_000, 'a restart');
    assert.equal(bad.lastState?.terminated?.exitCode, 1);
  });

  it('restartPolicy Always: a container that keeps exiting goes into CrashLoopBackOff with upstream\'s message', async () => {
    await apply('crash', busyboxPod('crash', { command: 'exit 2' }));
    const c = await eventually(async () => { const x = await main('crash'); return x?.state?.waiting?.reason === 'CrashLoopBackOff' ? x : undefined; }, 30_000, 'CrashLoopBackOff');
    assert.match(c.state!.waiting!.message!, /^back-off 10s restarting failed container=main pod=crash_default\(/);
    assert.equal(c.lastState?.terminated?.exitCode, 2);
    assert.match(await kubectlOk(s, ['get', 'pod', 'crash']), /crash\s+0\/1\s+CrashLoopBackOff\s+1 \(\S+ ago\)/);
    const events = await kubectlOk(s, ['get', 'events', '--field-selector', 'involvedObject.name=crash']);
    assert.match(events, /BackOff\s+pod\/crash\s+Back-off restarting failed container main in pod crash_default/);
  });

  it('OOMKilled when a container exceeds its memory limit', async () => {
    await apply('hog', busyboxPod('hog', {
      restartPolicy: 'Never', command: 'exec dd if=/dev/zero of=/dev/null bs=64M count=1',
      resources: '    resources:\n      limits:\n        memory: 16Mi\n',
    }));
    const c = await eventually(async () => { const x = await main('hog'); return x?.state?.terminated ? x : undefined; }, 30_000, 'terminated');
    assert.equal(c.state?.terminated?.reason, 'OOMKilled');
    assert.equal(c.state?.terminated?.exitCode, 137);
  });

  it('a command missing from the image fails to start as upstream reports it', async () => {
    await apply('nocmd', `apiVersion: v1\nkind: Pod\nmetadata:\n  name: nocmd\nspec:\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: busybox\n    command: ["/no/such/binary"]\n`);
    const c = await eventually(async () => { const x = await main('nocmd'); return x?.state?.terminated ? x : undefined; }, 30_000, 'terminated');
    assert.equal(c.state?.terminated?.reason, 'StartError');
    assert.equal(c.state?.terminated?.exitCode, 128);
    assert.match(c.state?.terminated?.message ?? '', /no such file or directory|not found/);
    assert.equal((await get('nocmd')).status?.phase, 'Failed');
  });

  it('an image that cannot be pulled: ErrImagePull, then ImagePullBackOff', async () => {
    await apply('nopull', `apiVersion: v1\nkind: Pod\nmetadata:\n  name: nopull\nspec:\n  containers:\n  - name: main\n    image: 127.0.0.1:1/nothing/here:1\n`);
    const first = await eventually(async () => { const x = await main('nopull'); return x?.state?.waiting?.reason === 'ErrImagePull' || x?.state?.waiting?.reason === 'ImagePullBackOff' ? x : undefined; }, 30_000, 'a pull failure');
    assert.ok(first.state?.waiting?.message, 'the reason is given');
    await eventually(async () => (await main('nopull'))?.state?.waiting?.reason === 'ImagePullBackOff', 30_000, 'ImagePullBackOff');
    const events = await kubectlOk(s, ['get', 'events', '--field-selector', 'involvedObject.name=nopull']);
    assert.match(events, /Failed to pull image "127\.0\.0\.1:1\/nothing\/here:1"/);
    await kubectlOk(s, ['delete', 'pod', 'nopull', '--grace-period=0', '--force']);
  });

  it('a missing configMap: CreateContainerConfigError for env, FailedMount for a volume', async () => {
    await apply('noconfig', `apiVersion: v1\nkind: Pod\nmetadata:\n  name: noconfig\nspec:\n  containers:\n  - name: main\n    image: busybox\n    command: ["sleep", "1000"]\n    env:\n    - name: X\n      valueFrom:\n        configMapKeyRef:\n          name: missing-cm\n          key: x\n`);
    const c = await eventually(async () => { const x = await main('noconfig'); return x?.state?.waiting?.reason === 'CreateContainerConfigError' ? x : undefined; }, 30_000, 'CreateContainerConfigError');
    assert.equal(c.state?.waiting?.message, 'configmap "missing-cm" not found');
    await kubectlOk(s, ['create', 'configmap', 'missing-cm', '--from-literal=x=1']);
    await eventually(async () => (await main('noconfig'))?.state?.running, 30_000, 'running once the configMap exists');
    await apply('novolume', `apiVersion: v1\nkind: Pod\nmetadata:\n  name: novolume\nspec:\n  volumes:\n  - name: cfg\n    configMap:\n      name: absent\n  containers:\n  - name: main\n    image: busybox\n    command: ["sleep", "1000"]\n    volumeMounts:\n    - name: cfg\n      mountPath: /cfg\n`);
    await eventually(async () => /FailedMount.*configmap "absent" not found/.test(await kubectlOk(s, ['get', 'events', '--field-selector', 'involvedObject.name=novolume'])), 30_000, 'a FailedMount event');
    assert.equal((await main('novolume'))?.state?.waiting?.reason, 'ContainerCreating');
    await kubectlOk(s, ['delete', 'pod', 'noconfig', 'novolume', '--grace-period=0', '--force']);
  });

  it('graceful deletion: the preStop hook, then SIGTERM, which the process may finish on; SIGKILL after the grace period', async () => {
    const out = join(s.dataDir, 'term-out');
    mkdirSync(out, { recursive: true });
    await apply('polite', busyboxPod('polite', { command: 'trap "echo got TERM >> /out/polite; exit 0" TERM; while true; do sleep 0.2; done', volume: out, preStop: 'echo prestop >> /out/polite' }));
    await apply('stubborn', busyboxPod('stubborn', { command: 'exec sleep 1000', grace: 2, preStop: 'echo cannot; exit 3' }));
    await eventually(async () => (await main('polite'))?.state?.running && (await main('stubborn'))?.state?.running, 30_000, 'both running');
    let t = Date.now();
    await kubectlOk(s, ['delete', 'pod', 'polite']);
    assert.ok(Date.now() - t < 10_000, 'a process that exits on TERM is not held for the grace period');
    assert.equal(readFileSync(join(out, 'polite'), 'utf8'), 'prestop\ngot TERM\n', 'the hook ran in the container before TERM');
    t = Date.now();
    await kubectlOk(s, ['delete', 'pod', 'stubborn']);
    const took = Date.now() - t;
    assert.ok(took >= 2000 && took < 15_000, `sleep ignores TERM as PID 1: killed after the 2 s grace period (took ${took} ms)`);
    assert.ok(!runcList().some((c) => c.annotations?.['io.kubernetes.pod.name'] === 'stubborn'), 'its containers are gone');
    const events = await kubectlOk(s, ['get', 'events', '--field-selector', 'involvedObject.name=stubborn,reason=FailedPreStopHook', '-o', 'jsonpath={.items[*].message}']);
    assert.match(events, /^Exec lifecycle hook \(\[sh -c echo cannot; exit 3\]\) for Container "main" in Pod "stubborn_default\([0-9a-f-]+\)" failed - error: command .* exited with 3/);
  });

  it('--grace-period=0 --force removes the pod at once and its containers soon after', async () => {
    await apply('forced', busyboxPod('forced', { command: 'exec sleep 1000' }));
    await eventually(async () => (await main('forced'))?.state?.running, 30_000, 'running');
    const r = await kubectl(s, ['delete', 'pod', 'forced', '--grace-period=0', '--force']);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /Immediate deletion does not wait for confirmation/);
    assert.equal((await kubectl(s, ['get', 'pod', 'forced'])).code, 1, 'the object is gone');
    await eventually(() => !runcList().some((c) => c.annotations?.['io.kubernetes.pod.name'] === 'forced'), 15_000, 'its containers stopped and removed');
  });

  it('an agent restart (kill -9 of the server) adopts running containers without restarting them', async () => {
    await apply('survivor', busyboxPod('survivor', { command: 'exec sleep 1000' }));
    const before = await eventually(async () => { const c = await main('survivor'); return c?.state?.running ? c : undefined; }, 30_000, 'running');
    await s.kill();
    const id = before.containerID!.replace('runc://', '');
    assert.equal(runcList().find((c) => c.id === id)?.status, 'running', 'the container outlives the agent');
    await s.start();
    await new Promise((r) => setTimeout(r, 3000));
    const after = await eventually(async () => { const c = await main('survivor'); return c?.state?.running ? c : undefined; }, 30_000, 'still running');
    assert.equal(after.containerID, before.containerID, 'the same container');
    assert.equal(after.restartCount, 0);
    assert.ok(existsSync(join(s.dataDir, 'agent', 'runtime', 'containers', id)));
  });
});

// An agent and several servers: three `skiff server`s, each with its managed etcd member, and one `skiff agent`,
// each in a network namespace of its own on a test switch. The agent is told of one server only; it learns the
// others from the `kubernetes` Endpoints, and when that server's machine drops off the network it carries on
// through another — its node stays Ready, new pods start — and it can even restart while that server is away.
// kubectl through `skiff lb` on that machine fails over the same way.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestNetwork, type Host } from '../helpers/netns-hosts.js';
import { skiffCli, startOnHost, stopProc, type Running } from '../helpers/host-process.js';
import { testImages } from '../helpers/test-images.js';
import { eventually, kubectlBin } from './harness.js';

describe('an agent fails over between three servers', () => {
  let net: TestNetwork;
  let dir: string;
  const servers: { host: Host; run?: Running }[] = [];
  let h1: Host;
  let agent: Running | undefined;
  let lb: Running | undefined;
  const agentDir = (): string => join(dir, 'h1');
  const url = (h: Host): string => `https://${h.ip}:6443`;

  /** The real kubectl with server 1's admin kubeconfig, run in `via`'s namespace against its server. */
  const kubectl = (args: string[], via: Host, input?: string): { code: number; stdout: string; stderr: string } => {
    try {
      const stdout = execFileSync('ip', ['netns', 'exec', via.netns, kubectlBin(), `--kubeconfig=${join(dir, 's1', 'kubeconfig.yaml')}`, `--server=${url(via)}`,
        `--cache-dir=${join(dir, 'kcache')}`, ...args], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000, ...(input !== undefined ? { input } : {}) });
      return { code: 0, stdout, stderr: '' };
    } catch (e) {
      const x = e as { status?: number; stdout?: string; stderr?: string };
      return { code: x.status ?? 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
    }
  };
  /** kubectl on h1 through `skiff lb`'s kubeconfig. */
  const kubectlLB = (args: string[]): { code: number; stdout: string; stderr: string } => {
    try {
      const stdout = execFileSync('ip', ['netns', 'exec', h1.netns, kubectlBin(), `--kubeconfig=${join(dir, 'lb', 'kubeconfig.yaml')}`, `--cache-dir=${join(dir, 'kcache-lb')}`, '--request-timeout=5s', ...args],
        { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
      return { code: 0, stdout, stderr: '' };
    } catch (e) {
      const x = e as { status?: number; stdout?: string; stderr?: string };
      return { code: x.status ?? 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
    }
  };
  const kubectlOk = (args: string[], via: Host, input?: string): string => {
    const r = kubectl(args, via, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} via ${via.name}: ${r.stderr}`);
    return r.stdout;
  };
  const endpointIPs = (via: Host): string[] => kubectl(['get', 'endpoints', 'kubernetes', '-o', 'jsonpath={.subsets[*].addresses[*].ip}'], via).stdout.split(/\s+/).filter(Boolean).sort();
  const nodeReady = (via: Host): string | undefined => kubectl(['get', 'node', 'h1', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'], via).stdout || undefined;
  const podPhase = (name: string, via: Host): string => kubectl(['get', 'pod', name, '-o', 'jsonpath={.status.phase}'], via).stdout;
  const sleeperOn = (name: string, via: Host): void => {
    kubectlOk(['apply', '-f', '-'], via, `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  nodeName: h1
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
`);
  };
  const startAgent = async (): Promise<Running> => {
    agent = await startOnHost(net, h1, ['agent', '--server', url(servers[0]!.host), '--token-file', join(dir, 's1', 'token'), '--node-name', 'h1',
      '--data-dir', agentDir(), '--root-dir', join(agentDir(), 'kubelet'), '--pod-log-dir', join(agentDir(), 'pods'), '--kubelet-port', '10250',
      '--node-status-update-frequency', '1s'], /skiff agent ready/, 'agent h1');
    return agent;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-server-failover-'));
    net = new TestNetwork();
    for (const [name, index] of [['s1', 21], ['s2', 22], ['s3', 23]] as const) servers.push({ host: net.addHost(name, index) });
    h1 = net.addHost('h1', 11);
    const common = ['--https-listen-port', '6443', '--disable-agent', '--cluster-cidr', '10.244.0.0/16', '--node-monitor-grace-period', '20s', '--node-monitor-period', '1s'];
    // Servers join one at a time (each adds its etcd member to the cluster), as with k3s.
    for (const [i, s] of servers.entries()) {
      const join1 = i === 0 ? ['--cluster-init'] : ['--server', url(servers[i - 1]!.host), '--token-file', join(dir, 's1', 'token')];
      s.run = await startOnHost(net, s.host, ['server', '--data-dir', join(dir, s.host.name), '--bind-address', s.host.ip, ...common, ...join1], /skiff server ready/, `server ${s.host.name}`);
    }
    mkdirSync(join(agentDir(), 'images-import'), { recursive: true });
    symlinkSync(testImages().archive, join(agentDir(), 'images-import', 'images.oci.tar'));
    await startAgent();
    lb = await startOnHost(net, h1, ['lb', '--kubeconfig', join(dir, 's1', 'kubeconfig.yaml'), '--server', url(servers[0]!.host), '--port', '16443',
      '--write-kubeconfig', join(dir, 'lb', 'kubeconfig.yaml')], /skiff lb ready/, 'skiff lb on h1');
  });

  after(async () => {
    await stopProc(lb?.proc);
    await stopProc(agent?.proc);
    try {
      execFileSync('nsenter', [`--net=/var/run/netns/${h1.netns}`, process.execPath, skiffCli, 'killall', '--data-dir', agentDir()], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SKIFF_LOG_LEVEL: 'warn' } });
    } catch (e) {
      process.stderr.write(`killall h1: ${(e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message}\n`);
    }
    for (const s of [...servers].reverse()) await stopProc(s.run?.proc);
    net?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('every server lists itself in the kubernetes Endpoints; the agent, told of one, learns all three', async () => {
    const ips = servers.map((s) => s.host.ip).sort();
    await eventually(() => JSON.stringify(endpointIPs(servers[1]!.host)) === JSON.stringify(ips), 20_000, `the kubernetes Endpoints to list ${ips.join(', ')}`);
    const file = join(agentDir(), 'servers.json');
    const remembered = (): string[] => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { url: string }[]).map((s) => s.url).sort() : []);
    await eventually(() => remembered().length === 3, 20_000, 'the agent to remember three servers');
    assert.deepEqual(remembered(), servers.map((s) => url(s.host)).sort());
    await eventually(() => nodeReady(servers[1]!.host) === 'True', 30_000, 'node h1 Ready');
    sleeperOn('before-cut', servers[1]!.host);
    await eventually(() => podPhase('before-cut', servers[1]!.host) === 'Running', 60_000, 'before-cut Running');
    const viaLB = kubectlLB(['get', 'pod', 'before-cut', '-o', 'jsonpath={.status.phase}']);
    assert.equal(viaLB.code, 0, `kubectl through skiff lb: ${viaLB.stderr}`);
    assert.equal(viaLB.stdout, 'Running');
  });

  it('the server it joined through drops off the network: the agent goes on through another, its node stays Ready and starts new pods', async () => {
    const [s1, s2] = [servers[0]!.host, servers[1]!.host];
    net.setLink(s1, false);
    const cutAt = Date.now();
    const outOfRotation = new RegExp(`API server out of rotation.*${url(s1).replace(/\./g, '\\.')}`);
    await eventually(() => outOfRotation.test(agent!.output()), 20_000, `the agent to take ${url(s1)} out of rotation:\n${agent!.output()}`);
    // kubectl on h1 through skiff lb: its connections moved to another server as well.
    await eventually(() => outOfRotation.test(lb!.output()), 20_000, `skiff lb to take ${url(s1)} out of rotation:\n${lb!.output()}`);
    const viaLB = await eventually(() => { const r = kubectlLB(['get', 'pod', 'before-cut', '-o', 'jsonpath={.status.phase}']); return r.code === 0 ? r : undefined; }, 10_000, 'kubectl through skiff lb after the cut');
    assert.equal(viaLB.stdout, 'Running');
    sleeperOn('after-cut', s2);
    await eventually(() => podPhase('after-cut', s2) === 'Running', 60_000, 'after-cut (created after the cut) Running on h1');
    // Past the node monitor's grace period (20 s), the node is still Ready: its heartbeats reach the cluster.
    const wait = 25_000 - (Date.now() - cutAt);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    assert.equal(nodeReady(s2), 'True', `node h1 Ready ${Math.round((Date.now() - cutAt) / 1000)} s after the cut`);
    const renew = kubectlOk(['get', 'lease', 'h1', '-n', 'kube-node-lease', '-o', 'jsonpath={.spec.renewTime}'], s2);
    assert.ok(Date.now() - Date.parse(renew) < 10_000, `h1's Lease renewed recently (${renew})`);
    // The cut server's lease ran out: the Endpoints list the two others.
    await eventually(() => JSON.stringify(endpointIPs(s2)) === JSON.stringify([servers[1]!.host.ip, servers[2]!.host.ip].sort()), 30_000, 'the Endpoints without the cut server');
  });

  it('restarted while that server is still away, the agent starts from the servers it learned', async () => {
    const s2 = servers[1]!.host;
    await stopProc(agent?.proc);
    await startAgent();
    sleeperOn('after-restart', s2);
    await eventually(() => podPhase('after-restart', s2) === 'Running', 60_000, 'after-restart Running on h1');
    assert.equal(podPhase('before-cut', s2), 'Running');
  });

  it('the server comes back and is listed again; a server stopped gracefully leaves the Endpoints at once', async () => {
    const [s1, s2, s3] = servers.map((s) => s.host) as [Host, Host, Host];
    net.setLink(s1, true);
    await eventually(() => endpointIPs(s2).includes(s1.ip), 40_000, 'server 1 back in the Endpoints');
    await stopProc(servers[2]!.run?.proc);
    await eventually(() => !endpointIPs(s2).includes(s3.ip), 5_000, 'server 3 out of the Endpoints once stopped');
  });
});

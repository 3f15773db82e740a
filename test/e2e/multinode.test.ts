// Several machines on one: a `skiff server` and three `skiff agent`s, each in a network namespace of its
// own on a test switch (one of them behind a router), the agents joining with the server's token. With
// the real kubectl: nodes Ready with their own pod CIDRs, pods on different nodes reaching each other by
// pod IP (host-gw routes on one segment, VXLAN across the router),
// node credentials limited to their own node, tokens checked, and a node lost and found again.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestNetwork, type Host } from '../helpers/netns-hosts.js';
import { skiffCli, startOnHost, stopProc, type Running } from '../helpers/host-process.js';
import { testImages } from '../helpers/test-images.js';
import { eventually, kubectlBin } from './harness.js';

const cli = skiffCli;
const start = (net: TestNetwork, host: Host, args: string[], ready: RegExp, what: string): Promise<Running> => startOnHost(net, host, args, ready, what);

describe('several nodes: agents join, pods talk across nodes, node credentials and tokens', () => {
  let net: TestNetwork;
  let dir: string;
  let srv: Host;
  let server: Running | undefined;
  const agents = new Map<string, { host: Host; dataDir: string; run?: Running }>();
  const kubeconfig = (): string => join(dir, 'server', 'kubeconfig.yaml');

  /** The real kubectl, run inside the server's namespace (the API is only reachable there). */
  const kubectl = (args: string[], input?: string): { code: number; stdout: string; stderr: string } => {
    try {
      const stdout = execFileSync('ip', ['netns', 'exec', srv.netns, kubectlBin(), `--kubeconfig=${kubeconfig()}`, `--cache-dir=${join(dir, 'kcache')}`, ...args], {
        encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000, ...(input !== undefined ? { input } : {}),
      });
      return { code: 0, stdout, stderr: '' };
    } catch (e) {
      const x = e as { status?: number; stdout?: string; stderr?: string };
      return { code: x.status ?? 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
    }
  };
  const kubectlOk = (args: string[], input?: string): string => {
    const r = kubectl(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const json = <T>(args: string[]): T => JSON.parse(kubectlOk([...args, '-o', 'json'])) as T;
  const serverURL = (): string => `https://${srv.ip}:6443`;
  /** A busybox pod bound to `node` (no scheduler involved), Running before this resolves. */
  const sleeperOn = async (name: string, node: string, extraSpec = ''): Promise<void> => {
    kubectlOk(['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  nodeName: ${node}
  terminationGracePeriodSeconds: 1
${extraSpec}  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
`);
    await eventually(() => json<{ status: { phase?: string } }>(['get', 'pod', name]).status.phase === 'Running', 60_000, `${name} Running on ${node}`);
  };
  /** What the cluster looks like, for a failure's message. */
  const situation = (): string => `\n${kubectl(['get', 'pods', '-A', '-o', 'wide']).stdout}\n${kubectl(['get', 'events', '-A']).stdout.split('\n').slice(-25).join('\n')}`;
  const waitFor = <T>(check: () => T | undefined | false, ms: number, what: string): Promise<T> =>
    eventually(check, ms, what).catch((e: Error) => { throw new Error(`${e.message}${situation()}`); });

  const startAgent = async (name: string, extra: string[] = []): Promise<Running> => {
    const a = agents.get(name)!;
    a.run = await start(net, a.host, ['agent', '--server', serverURL(), '--token-file', join(dir, 'server', 'token'), '--node-name', name,
      '--data-dir', a.dataDir, '--root-dir', join(a.dataDir, 'kubelet'), '--pod-log-dir', join(a.dataDir, 'pods'), '--kubelet-port', '10250', '--node-status-update-frequency', '1s', ...extra],
    /skiff agent ready/, `agent ${name}`);
    return a.run;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-multinode-'));
    net = new TestNetwork();
    srv = net.addHost('srv', 1);
    server = await start(net, srv, ['server', '--data-dir', join(dir, 'server'), '--bind-address', srv.ip, '--https-listen-port', '6443', '--disable-agent',
      '--cluster-cidr', '10.244.0.0/16', '--node-monitor-grace-period', '6s', '--node-monitor-period', '1s'], /skiff server ready/, 'the server');
    const archive = testImages().archive;
    // h3 is on another L2 segment, behind a router: its pods are reached through VXLAN, h2's by plain routes.
    for (const [name, index, segment] of [['h1', 11, 0], ['h2', 12, 0], ['h3', 13, 1]] as const) {
      const dataDir = join(dir, name);
      mkdirSync(join(dataDir, 'images-import'), { recursive: true });
      // The offline images, imported when the agent starts (there is no registry inside the test network).
      symlinkSync(archive, join(dataDir, 'images-import', 'images.oci.tar'));
      agents.set(name, { host: net.addHost(name, index, segment), dataDir });
    }
    await Promise.all([...agents.keys()].map((n) => startAgent(n)));
  });

  after(async () => {
    await Promise.all([...agents.values()].map((a) => stopProc(a.run?.proc)));
    await stopProc(server?.proc);
    for (const a of agents.values()) {
      try {
        execFileSync('nsenter', [`--net=/var/run/netns/${a.host.netns}`, process.execPath, cli, 'killall', '--data-dir', a.dataDir], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SKIFF_LOG_LEVEL: 'warn' } });
      } catch (e) {
        process.stderr.write(`killall ${a.host.name}: ${(e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message}\n`);
      }
    }
    net?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('three nodes join with the server\'s token and are Ready, each with its own pod CIDR from the cluster CIDR', async () => {
    const nodes = await eventually(() => {
      const list = json<{ items: { metadata: { name: string }; spec: { podCIDR?: string }; status: { conditions?: { type: string; status: string }[]; addresses?: { type: string; address: string }[] } }[] }>(['get', 'nodes']);
      return list.items.length === 3 && list.items.every((n) => n.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ? list.items : undefined;
    }, 60_000, 'three Ready nodes');
    assert.deepEqual(nodes.map((n) => n.metadata.name).sort(), ['h1', 'h2', 'h3']);
    const cidrs = nodes.map((n) => n.spec.podCIDR ?? '');
    assert.equal(new Set(cidrs).size, 3, `distinct pod CIDRs: ${cidrs.join(', ')}`);
    for (const c of cidrs) assert.match(c, /^10\.244\.\d+\.0\/24$/);
    for (const n of nodes) assert.equal(n.status.addresses?.find((a) => a.type === 'InternalIP')?.address, agents.get(n.metadata.name)!.host.ip);
  });

  it('a Deployment spreads over the nodes and a pod on one node fetches a page from a pod on another by pod IP', async () => {
    kubectlOk(['apply', '-f', '-'], `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: kubernetes.io/hostname
        whenUnsatisfiable: DoNotSchedule
        labelSelector:
          matchLabels: {app: web}
      containers:
      - name: nginx
        image: nginx:1.17.8
        ports:
        - containerPort: 80
`);
    type PodList = { items: { metadata: { name: string }; spec: { nodeName?: string }; status: { podIP?: string; phase?: string } }[] };
    const pods = await waitFor(() => {
      const l = json<PodList>(['get', 'pods', '-l', 'app=web']);
      return l.items.length === 3 && l.items.every((p) => p.status.phase === 'Running' && p.status.podIP) ? l.items : undefined;
    }, 90_000, 'three web pods Running');
    assert.deepEqual(pods.map((p) => p.spec.nodeName).sort(), ['h1', 'h2', 'h3'], 'one pod per node');
    await sleeperOn('client', 'h1');
    for (const p of pods.filter((x) => x.spec.nodeName !== 'h1')) {
      const page = await eventually(() => {
        // busybox-static's wget crashes in glibc's static resolver; nc takes the address as it is.
        const r = kubectl(['exec', 'client', '--', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${p.status.podIP} 80`]);
        return r.code === 0 ? r.stdout : undefined;
      }, 20_000, `the page of ${p.metadata.name} on ${p.spec.nodeName} at ${p.status.podIP}`).catch((e: Error) => {
        const inHost = (h: string, cmd: string): string => { try { return execFileSync('nsenter', [`--net=/var/run/netns/${agents.get(h)!.host.netns}`, 'sh', '-c', cmd], { encoding: 'utf8' }); } catch (x) { return String(x); } };
        throw new Error(`${e.message}\nh1 routes:\n${inHost('h1', 'ip route; sysctl net.ipv4.ip_forward; iptables-save -t nat | grep -v "^#"')}\n${p.spec.nodeName} routes:\n${inHost(p.spec.nodeName!, 'ip route; ip addr; sysctl net.ipv4.ip_forward net.ipv4.conf.all.rp_filter')}`);
      });
      assert.match(page, /Welcome to nginx!/);
      // How h1 reaches it: straight over the shared segment to h2, through the VXLAN device to h3.
      const route = execFileSync('nsenter', [`--net=/var/run/netns/${agents.get('h1')!.host.netns}`, 'ip', '-o', 'route', 'get', p.status.podIP!], { encoding: 'utf8' });
      if (p.spec.nodeName === 'h2') assert.match(route, new RegExp(`via ${agents.get('h2')!.host.ip.replace(/\./g, '\\.')} dev eth0`), route);
      else assert.match(route, /dev skv[0-9a-f]{10}/, route);
    }
    assert.match(kubectlOk(['get', 'node', 'h3', '-o', 'jsonpath={.metadata.annotations.skiff\\.io/vtep-mac}']), /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    // Pod to pod across nodes keeps the caller's address (no masquerade inside the cluster): nginx logs the client pod.
    const clientIP = kubectlOk(['get', 'pod', 'client', '-o', 'jsonpath={.status.podIP}']);
    for (const p of pods.filter((x) => x.spec.nodeName !== 'h1')) {
      const log = kubectlOk(['logs', p.metadata.name]);
      assert.match(log, new RegExp(`^${clientIP.replace(/\./g, '\\.')} - - .*"GET / HTTP/1.0" 200`, 'm'), `${p.metadata.name} on ${p.spec.nodeName} saw the client pod ${clientIP}:\n${log}`);
    }
  });

  it('a node\'s credentials reach only its own node\'s pods; bad tokens and taken names are refused with a clear message', async () => {
    type PodList = { items: { metadata: { name: string; namespace: string }; spec: { nodeName?: string } }[] };
    const creds = JSON.parse(readFileSync(join(agents.get('h1')!.dataDir, 'credentials', 'node.json'), 'utf8')) as { ca: string; client: { cert: string; key: string } };
    const pods = json<PodList>(['get', 'pods', '-l', 'app=web']).items;
    const other = pods.find((p) => p.spec.nodeName === 'h2')!;
    const mine = pods.find((p) => p.spec.nodeName === 'h1')!;
    // Requests as node h1, from h1's own namespace (where its address is).
    const asNode = (method: string, path: string, body: unknown, headers: Record<string, string> = {}): { status: number; body: string } => {
      const h = { 'Content-Type': 'application/merge-patch+json', ...headers };
      // An upgrade refused comes back as a plain HTTP answer on the 'upgrade'-less path, or as 'response'.
      const script = `const https=require('https');const r=https.request(${JSON.stringify(`${serverURL()}${path}`)},{method:${JSON.stringify(method)},ca:${JSON.stringify(creds.ca)},cert:${JSON.stringify(creds.client.cert)},key:${JSON.stringify(creds.client.key)},headers:${JSON.stringify(h)}},(res)=>{let b='';res.on('data',d=>b+=d);res.on('end',()=>{process.stdout.write(JSON.stringify({status:res.statusCode,body:b}))})});r.on('upgrade',(res)=>{process.stdout.write(JSON.stringify({status:res.statusCode,body:''}));process.exit(0)});r.end(${method === 'GET' ? "''" : JSON.stringify(JSON.stringify(body))});`;
      return JSON.parse(execFileSync('ip', ['netns', 'exec', agents.get('h1')!.host.netns, process.execPath, '-e', script], { encoding: 'utf8' })) as { status: number; body: string };
    };
    const patch = { metadata: { labels: { touched: 'yes' } } };
    let r = asNode('PATCH', `/api/v1/namespaces/default/pods/${other.metadata.name}/status`, patch);
    assert.equal(r.status, 403, r.body);
    assert.match(JSON.parse(r.body).message, /User "system:node:h1" cannot patch resource "pods\/status".*node "h1" can only update the status of pods with spec.nodeName set to itself/);
    r = asNode('PATCH', `/api/v1/namespaces/default/pods/${mine.metadata.name}/status`, patch);
    assert.equal(r.status, 200, r.body);
    r = asNode('PATCH', '/api/v1/nodes/h2', patch);
    assert.equal(r.status, 403, r.body);
    // Creates name their object in the body: no Node or node Lease of another name.
    r = asNode('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'h9' } }, { 'Content-Type': 'application/json' });
    assert.equal(r.status, 403, r.body);
    assert.match(JSON.parse(r.body).message, /cannot create resource "nodes".*node "h1" can only create its own Node object/);
    r = asNode('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'h2' } }, { 'Content-Type': 'application/json' });
    assert.equal(r.status, 403, r.body);
    assert.match(JSON.parse(r.body).message, /can only create its own Lease/);
    r = asNode('PATCH', '/apis/apps/v1/namespaces/default/deployments/web', { spec: { replicas: 1 } });
    assert.equal(r.status, 403, r.body);
    // Not even into its own pods: a node opens no exec, attach or port-forward sessions.
    r = asNode('GET', `/api/v1/namespaces/default/pods/${mine.metadata.name}/exec?command=true&stdout=true`, undefined,
      { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol': 'v5.channel.k8s.io' });
    assert.equal(r.status, 403, r.body);
    assert.match(JSON.parse(r.body).message, /cannot create resource "pods\/exec".*may not open pods\/exec sessions/);
    // Nor into the cluster's Secrets: the join tokens (or any secret no pod of h1 uses) are not a node's to read.
    const tokenSecret = `bootstrap-token-${readFileSync(join(dir, 'server', 'token'), 'utf8').trim().split('::')[1]!.split('.')[0]}`;
    r = asNode('GET', `/api/v1/namespaces/kube-system/secrets/${tokenSecret}`, undefined);
    assert.equal(r.status, 403, r.body);
    assert.match(JSON.parse(r.body).message, /no relationship found between node 'h1' and this object/);
    r = asNode('GET', '/api/v1/namespaces/kube-system/secrets', undefined);
    assert.equal(r.status, 403, r.body);

    // Joining: a token of another cluster (its CA hash does not match), an unknown token, an expired one, a name in use.
    const fresh = join(dir, 'h4');
    const host4 = net.addHost('h4', 14);
    const join4 = (token: string, name = 'h4'): string => {
      try {
        execFileSync('nsenter', [`--net=/var/run/netns/${host4.netns}`, process.execPath, cli, 'agent', '--server', serverURL(), '--token', token, '--node-name', name, '--data-dir', fresh],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000, env: { ...process.env, SKIFF_LOG_LEVEL: 'error' } });
        return 'joined';
      } catch (e) {
        return (e as { stderr?: string }).stderr ?? '';
      }
    };
    const good = readFileSync(join(dir, 'server', 'token'), 'utf8').trim();
    const [hashPart, secretPart] = good.split('::') as [string, string];
    assert.match(join4(`K10${'0'.repeat(64)}::${secretPart}`), /does not hold the CA this token names/);
    assert.match(join4(`${hashPart}::abcdef.0123456789abcdef`), /the server refused to join this node: the join token is not known to this cluster/);
    const short = execFileSync('ip', ['netns', 'exec', srv.netns, process.execPath, cli, 'token', 'create', '--ttl', '1s', '--kubeconfig', kubeconfig()], { encoding: 'utf8' }).trim();
    assert.match(short, /^K10[0-9a-f]{64}::[a-z0-9]{6}\.[a-z0-9]{16}$/);
    await new Promise((res) => setTimeout(res, 2100));
    assert.match(join4(short), /the join token expired at/);
    assert.match(join4(good, 'h2'), /node "h2" already exists in the cluster: delete it first/);
    assert.match(join4('not-a-token'), /the join token is malformed/);
    const list = execFileSync('ip', ['netns', 'exec', srv.netns, process.execPath, cli, 'token', 'list', '--kubeconfig', kubeconfig()], { encoding: 'utf8' });
    assert.match(list, /^ID\s+EXPIRES\s+DESCRIPTION$/m);
    assert.ok(list.split('\n').length >= 3, list);

    // Deleting a Node revokes its credentials; the name can then join again.
    agents.set('h4', { host: host4, dataDir: fresh });
    mkdirSync(join(fresh, 'images-import'), { recursive: true });
    symlinkSync(testImages().archive, join(fresh, 'images-import', 'images.oci.tar'));
    await startAgent('h4');
    await eventually(() => kubectl(['get', 'node', 'h4']).code === 0, 30_000, 'node h4');
    const h4creds = JSON.parse(readFileSync(join(fresh, 'credentials', 'node.json'), 'utf8')) as { ca: string; client: { cert: string; key: string } };
    const asH4 = (): number => {
      const script = `const https=require('https');https.get(${JSON.stringify(`${serverURL()}/api/v1/nodes/h4`)},{ca:${JSON.stringify(h4creds.ca)},cert:${JSON.stringify(h4creds.client.cert)},key:${JSON.stringify(h4creds.client.key)}},(res)=>{process.stdout.write(String(res.statusCode));res.resume()});`;
      return Number(execFileSync('nsenter', [`--net=/var/run/netns/${host4.netns}`, process.execPath, '-e', script], { encoding: 'utf8' }));
    };
    assert.equal(asH4(), 200);
    await sleeperOn('on-h4', 'h4');
    const h4run = agents.get('h4')!.run!;
    const exited = new Promise<number | null>((res) => h4run.proc.once('exit', (code) => res(code)));
    kubectlOk(['delete', 'node', 'h4']);
    await eventually(() => asH4() === 401, 10_000, 'h4\'s credentials refused once its Node is gone');
    // The running agent finds itself removed: it stops its pods and exits, saying why.
    assert.equal(await exited, 1);
    assert.match(h4run.output(), /node h4 was removed from the cluster \(its credentials are revoked\); its pods are stopped/);
    assert.equal(execFileSync('sh', ['-c', `ls ${join(fresh, 'runtime', 'containers')} 2>/dev/null | wc -l`], { encoding: 'utf8' }).trim(), '0');
    kubectlOk(['delete', 'pod', 'on-h4', '--force', '--grace-period=0']);
    rmSync(join(fresh, 'credentials'), { recursive: true, force: true });
    await startAgent('h4');
    await eventually(() => kubectl(['get', 'node', 'h4']).code === 0, 30_000, 'h4 joined again');
    await stopProc(agents.get('h4')!.run?.proc);
    kubectlOk(['delete', 'node', 'h4']);
  });

  it('a lost node: NotReady with the unreachable taint, its Deployment pod replaced elsewhere, a bare pod not; back again, the taint goes and the stale containers with it', async () => {
    type P = { metadata: { name: string; uid: string; deletionTimestamp?: string }; spec: { nodeName?: string }; status: { phase?: string } };
    const tolerations = `  tolerations:
  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
  - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
`;
    await sleeperOn('lonely', 'h3', tolerations);
    kubectlOk(['patch', 'deployment', 'web', '--type=merge', '-p',
      '{"spec":{"template":{"spec":{"tolerations":[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":2},{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":2}],"topologySpreadConstraints":null}}}}']);
    const onH3 = await waitFor(() => {
      const l = json<{ items: P[] }>(['get', 'pods', '-l', 'app=web']).items.filter((p) => !p.metadata.deletionTimestamp);
      const h3 = l.filter((p) => p.spec.nodeName === 'h3' && p.status.phase === 'Running');
      return l.length === 3 && l.every((p) => p.status.phase === 'Running') && h3.length >= 1 ? h3 : undefined;
    }, 90_000, 'the rolled-out web pods Running, one on h3');

    const lost = agents.get('h3')!;
    await stopProc(lost.run?.proc, 'SIGKILL');
    net.setLink(lost.host, false);
    const started = Date.now();
    await eventually(() => {
      const n = json<{ spec: { taints?: { key: string; effect: string }[] }; status: { conditions?: { type: string; status: string; reason?: string }[] } }>(['get', 'node', 'h3']);
      const ready = n.status.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'Unknown' && n.spec.taints?.some((t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute');
    }, 30_000, 'h3 Unknown with the unreachable taint').catch((e: Error) => {
      throw new Error(`${e.message}\n${kubectl(['get', 'node', 'h3', '-o', 'yaml']).stdout}\n${kubectl(['get', 'lease', '-n', 'kube-node-lease', '-o', 'yaml']).stdout}\n${server!.output().split('\n').filter((l) => /lifecycle|h3|error|warn/i.test(l)).slice(-40).join('\n')}\nagent h3:\n${lost.run?.output().split('\n').filter((l) => /warn|error|lease|heartbeat|status/i.test(l)).slice(-30).join('\n')}`);
    });
    const replaced = await waitFor(() => {
      const l = json<{ items: P[] }>(['get', 'pods', '-l', 'app=web']).items.filter((p) => !p.metadata.deletionTimestamp);
      return l.length === 3 && l.every((p) => p.spec.nodeName !== 'h3' && p.status.phase === 'Running') ? l : undefined;
    }, 60_000, 'three web pods Running on other nodes');
    assert.ok(replaced.every((p) => !onH3.some((o) => o.metadata.uid === p.metadata.uid)));
    const elapsed = (Date.now() - started) / 1000;
    assert.ok(elapsed < 40, `replacement within grace + toleration + a margin (took ${elapsed}s)`);
    // The bare pod is evicted too, but nothing brings it back elsewhere.
    await eventually(() => {
      const r = kubectl(['get', 'pod', 'lonely', '-o', 'json']);
      return r.code !== 0 || (JSON.parse(r.stdout) as P).metadata.deletionTimestamp !== undefined;
    }, 30_000, 'lonely evicted');
    const live = json<{ items: P[] }>(['get', 'pods']).items.filter((p) => !p.metadata.deletionTimestamp && p.spec.nodeName !== 'h3').map((p) => p.metadata.name).sort();
    assert.deepEqual(live, ['client', ...replaced.map((p) => p.metadata.name).sort()], 'the web replacements and the client: nothing stands in for the bare pod');

    // Back: the agent starts again with its stored credentials (no token), the taint goes, evicted pods' containers are removed.
    net.setLink(lost.host, true);
    await startAgent('h3');
    await eventually(() => {
      const n = json<{ spec: { taints?: { key: string }[] }; status: { conditions?: { type: string; status: string }[] } }>(['get', 'node', 'h3']);
      return n.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !(n.spec.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'));
    }, 60_000, 'h3 Ready without taints');
    await eventually(() => {
      const l = json<{ items: P[] }>(['get', 'pods', '-A']).items;
      return !l.some((p) => p.spec.nodeName === 'h3');
    }, 60_000, 'no pods left on h3');
    await eventually(() => {
      const out = execFileSync('ip', ['netns', 'exec', lost.host.netns, 'sh', '-c', `ls ${join(lost.dataDir, 'runtime', 'containers')} 2>/dev/null | wc -l`], { encoding: 'utf8' });
      return out.trim() === '0';
    }, 60_000, 'the stale containers removed on h3');
  });

  it('kubectl drain moves the pods off a node through evictions, never below a PodDisruptionBudget', async () => {
    type P = { metadata: { name: string; deletionTimestamp?: string }; spec: { nodeName?: string }; status: { phase?: string } };
    kubectlOk(['scale', 'deployment', 'web', '--replicas=3']);
    const running = (): P[] => json<{ items: P[] }>(['get', 'pods', '-l', 'app=web']).items.filter((p) => !p.metadata.deletionTimestamp && p.status.phase === 'Running');
    await waitFor(() => running().length === 3 && running().some((p) => p.spec.nodeName === 'h1'), 90_000, 'three web pods Running, one on h1');
    kubectlOk(['apply', '-f', '-'], `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web
spec:
  minAvailable: 3
  selector:
    matchLabels: {app: web}
`);
    await eventually(() => json<{ status?: { currentHealthy?: number; disruptionsAllowed?: number } }>(['get', 'pdb', 'web']).status?.currentHealthy === 3, 30_000, 'the budget counting three healthy pods');
    // With all three needed, drain cannot evict; it keeps retrying until its timeout.
    let r = kubectl(['drain', 'h1', '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=8s']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Cannot evict pod as it would violate the pod's disruption budget/);
    assert.equal(running().length, 3, 'nothing evicted past the budget');
    kubectlOk(['patch', 'pdb', 'web', '--type=merge', '-p', '{"spec":{"minAvailable":2}}']);
    r = kubectl(['drain', 'h1', '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=90s']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /node\/h1 drained/);
    assert.match(kubectlOk(['get', 'node', 'h1']), /SchedulingDisabled/);
    const after = await waitFor(() => { const l = running(); return l.length === 3 ? l : undefined; }, 90_000, 'three web pods Running again');
    assert.ok(after.every((p) => p.spec.nodeName !== 'h1'), after.map((p) => p.spec.nodeName).join(','));
    kubectlOk(['uncordon', 'h1']);
  });
});

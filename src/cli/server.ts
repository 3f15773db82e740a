import { parseArgs } from 'node:util';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { datastoreConfig, openDatastore } from './datastore.js';
import { reconcileBootstrap, serverTokenFlag } from './datastore-bootstrap.js';
import { ManagedEtcd } from './datastore-managed-etcd.js';
import { ApiServer } from '../apiserver/server.js';
import { ClusterCA, loadOrIssue } from '../apiserver/pki.js';
import { kubeconfigYaml, writeKubeconfig } from '../apiserver/kubeconfig.js';
import { createLogger } from '../util/log.js';
import type { ClusterAccess } from '../client/kubeconfig.js';
import { selectControllers } from '../controllers/manager.js';
import type { NodeLifecycleOptions } from '../controllers/nodelifecycle/options.js';
import type { LeaderElectionTiming } from '../client/leader-election.js';
import { parseQuantity } from '../api/quantity.js';
import { ComponentSupervisor } from './component-supervisor.js';
import { ensureServerToken } from './token.js';
import { NodeJoinService, NodeRevocations } from '../apiserver/node-join.js';
import { authorizeNode } from '../apiserver/node-authorizer.js';
import { whenNodeReady } from './node-ready.js';
import { RestClient } from '../client/rest-client.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { agentPreflight, KUBELET_CLIENT_NAME } from './agent-setup.js';

const help = `Usage: skiff server [flags]

Flags:
  --data-dir DIR             where state, certificates and the kubeconfig live (default /var/lib/skiff)
  --https-listen-port N      API server port (default 6443; 0 picks a free port)
  --bind-address ADDR        address to listen on (default 0.0.0.0)
  --write-kubeconfig PATH    where to write the admin kubeconfig (default <data-dir>/kubeconfig.yaml)
  --tls-san NAME             extra host name or IP for the serving certificate (repeatable)
  --advertise-address IP     address other machines reach this server at (default: the first non-loopback IPv4)
  --node-name NAME           this machine's node name (default: the host name)
  --disable-agent            do not run a node agent on this machine
  --root-dir DIR             the agent's pod volumes directory, as kubelet's (default /var/lib/kubelet)
  --kubelet-port N           the agent's port for logs and other streams (default 10250, 0 picks one)
  --pod-log-dir DIR          where container logs go (default /var/log/pods)
  --pod-cidr CIDR            this node's pod subnet (default 10.42.0.0/24)
  --max-pods N               pods this node takes (default 110)
  --node-label K=V           extra label for this node (repeatable)
  --container-log-max-size Q rotate a container's log file once it holds this much (a quantity;
                             default 10Mi; negative disables rotation)
  --container-log-max-files N
                             log files each container keeps, the current one included (default 5, at least 2)
  --container-log-monitor-interval DUR
                             how often container log sizes are checked (default 10s)
  --disable-scheduler        do not run the scheduler
  --controllers LIST         controllers to run: '*' (all), 'name' or '-name', comma-separated
                             (deployment, replicaset, garbagecollector, namespace, nodelifecycle,
                             tainteviction, disruption, nodeipam, podgc; default '*')
  --terminated-pod-gc-threshold N
                             terminated pods kept before the oldest are deleted (default 12500; 0 keeps all)
  --leader-elect-lease-duration DUR
                             how long the controller manager's and scheduler's Leases last without renewal:
                             with several servers, the time another takes over after one dies (default 15s)
  --leader-elect-retry-period DUR
                             how often a holder renews and candidates retry (default 2s)
  --node-monitor-grace-period DUR
                             how long a node may go without a heartbeat before it is NotReady/Unknown (default 40s)
  --node-monitor-period DUR  how often node health is checked (default 5s)
  --node-startup-grace-period DUR
                             how long a node that never reported status gets (default 1m)
  --node-eviction-rate R     nodes per second tainted for eviction in a healthy zone (default 0.1)
  --secondary-node-eviction-rate R
                             the same in a partially disrupted zone of a large cluster (default 0.01)
  --unhealthy-zone-threshold F
                             share of not-Ready nodes that makes a zone partially disrupted (default 0.55)
  --large-cluster-size-threshold N
                             zones larger than this keep evicting when partially disrupted (default 50)
  --compaction-interval DUR  how often history is compacted, e.g. 5m, 30s (default 5m; 0 disables)
  --watch-cache-size N       events each resource's watch cache keeps (at least) for resuming watches (default 10000)
  --datastore-endpoint URL   where state lives: sqlite://PATH (default <data-dir>/db/state.db), or an etcd
                             cluster, etcd://HOST:PORT[,HOST:PORT...] (or https://HOST:PORT,... as k3s)
  --datastore-cafile FILE    CA that signed the etcd members' certificates (TLS)
  --datastore-certfile FILE  client certificate for etcd (TLS, with --datastore-keyfile)
  --datastore-keyfile FILE   its key
  --token TOKEN              the cluster's server token: a further server on a shared etcd datastore needs the
                             first server's (<data-dir>/token); it also becomes this server's node join token
  --token-file FILE          the same, read from a file
  --cluster-init             run an etcd member next to this server and make a new etcd cluster with it (HA)
  --server URL               run an etcd member next to this server and add it to the cluster of the server at
                             URL (with --token-file/--token); servers join one at a time; use an odd count
  --etcd-client-port N       the managed member's client port (default 2379)
  --etcd-peer-port N         the managed member's peer port (default 2380)
`;

/** Parses a duration like "5m", "30s", "1500ms", "1h" to milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`${flag}: "${text}" is not a duration (use e.g. 30s, 5m, 1h)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

/** Parses a byte count in Kubernetes quantity syntax (`10Mi`, `2Ki`, `500k`, `-1`) to a whole number of bytes. */
export function parseByteQuantity(text: string, flag: string): number {
  let milli: bigint;
  try {
    milli = parseQuantity(text);
  } catch (e) {
    throw new Error(`${flag}: "${text}" is not a quantity (use e.g. 10Mi): ${(e as Error).message}`);
  }
  if (milli % 1000n !== 0n) throw new Error(`${flag}: "${text}" is not a whole number of bytes`);
  return Number(milli / 1000n);
}

/** The leader election flags, checked: a retry period must leave time to renew within the lease. */
function leaderElectionFlags(v: Record<string, string | boolean | string[] | undefined>): LeaderElectionTiming {
  const leaseDurationMs = parseDuration(String(v['leader-elect-lease-duration']), '--leader-elect-lease-duration');
  const retryPeriodMs = parseDuration(String(v['leader-elect-retry-period']), '--leader-elect-retry-period');
  if (!(retryPeriodMs > 0)) throw new Error('--leader-elect-retry-period: must be longer than 0');
  if (!(leaseDurationMs >= 3 * retryPeriodMs)) {
    throw new Error(`--leader-elect-lease-duration (${leaseDurationMs / 1000}s) must be at least three retry periods (${3 * retryPeriodMs / 1000}s): a holder renews within two thirds of its lease`);
  }
  return { leaseDurationMs, retryPeriodMs };
}

/** The node lifecycle controller's flags, checked (as kube-controller-manager names them). */
function nodeLifecycleFlags(v: Record<string, string | boolean | string[] | undefined>): NodeLifecycleOptions {
  const duration = (flag: string): number => {
    const ms = parseDuration(String(v[flag]), `--${flag}`);
    if (!(ms > 0)) throw new Error(`--${flag}: must be longer than 0`);
    return ms;
  };
  const number = (flag: string, ok: (n: number) => boolean, what: string): number => {
    const n = Number(v[flag]);
    if (!Number.isFinite(n) || !ok(n)) throw new Error(`--${flag}: "${String(v[flag])}" is not ${what}`);
    return n;
  };
  return {
    monitorGracePeriodMs: duration('node-monitor-grace-period'),
    monitorPeriodMs: duration('node-monitor-period'),
    startupGracePeriodMs: duration('node-startup-grace-period'),
    evictionRate: number('node-eviction-rate', (n) => n >= 0, 'a rate (nodes per second, 0 or more)'),
    secondaryEvictionRate: number('secondary-node-eviction-rate', (n) => n >= 0, 'a rate (nodes per second, 0 or more)'),
    unhealthyZoneThreshold: number('unhealthy-zone-threshold', (n) => n > 0 && n <= 1, 'a fraction between 0 and 1'),
    largeClusterSizeThreshold: number('large-cluster-size-threshold', (n) => Number.isInteger(n) && n >= 0, 'a whole number'),
  };
}

/** The machine's first non-internal IPv4 address, or loopback when it has none. */
function primaryIPv4(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** `skiff server`: opens the store, sets up TLS, serves the API; stops cleanly on SIGINT/SIGTERM. */
export async function runServer(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string', default: '/var/lib/skiff' },
      'https-listen-port': { type: 'string', default: '6443' },
      'bind-address': { type: 'string', default: '0.0.0.0' },
      'write-kubeconfig': { type: 'string' },
      'tls-san': { type: 'string', multiple: true, default: [] },
      'advertise-address': { type: 'string' },
      'node-name': { type: 'string' },
      'disable-agent': { type: 'boolean', default: false },
      'root-dir': { type: 'string', default: '/var/lib/kubelet' },
      'pod-log-dir': { type: 'string', default: '/var/log/pods' },
      'pod-cidr': { type: 'string', default: '10.42.0.0/24' },
      'cluster-cidr': { type: 'string', default: '10.42.0.0/16' },
      'max-pods': { type: 'string', default: '110' },
      'kubelet-port': { type: 'string', default: '10250' },
      'node-label': { type: 'string', multiple: true, default: [] },
      'container-log-max-size': { type: 'string', default: '10Mi' },
      'container-log-max-files': { type: 'string', default: '5' },
      'container-log-monitor-interval': { type: 'string', default: '10s' },
      'disable-scheduler': { type: 'boolean', default: false },
      'compaction-interval': { type: 'string', default: '5m' },
      controllers: { type: 'string', multiple: true, default: ['*'] },
      'watch-cache-size': { type: 'string', default: '10000' },
      'terminated-pod-gc-threshold': { type: 'string', default: '12500' },
      'leader-elect-lease-duration': { type: 'string', default: '15s' },
      'leader-elect-retry-period': { type: 'string', default: '2s' },
      'node-monitor-grace-period': { type: 'string', default: '40s' },
      'node-monitor-period': { type: 'string', default: '5s' },
      'node-startup-grace-period': { type: 'string', default: '1m' },
      'node-eviction-rate': { type: 'string', default: '0.1' },
      'secondary-node-eviction-rate': { type: 'string', default: '0.01' },
      'unhealthy-zone-threshold': { type: 'string', default: '0.55' },
      'large-cluster-size-threshold': { type: 'string', default: '50' },
      'datastore-endpoint': { type: 'string' },
      'datastore-cafile': { type: 'string' },
      'datastore-certfile': { type: 'string' },
      'datastore-keyfile': { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      'cluster-init': { type: 'boolean', default: false },
      server: { type: 'string' },
      'etcd-client-port': { type: 'string', default: '2379' },
      'etcd-peer-port': { type: 'string', default: '2380' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const log = createLogger('server');
  // The agent's log rotation flags (checked before anything starts).
  const containerLogMaxSize = parseByteQuantity(values['container-log-max-size']!, '--container-log-max-size');
  const containerLogMaxFiles = Number(values['container-log-max-files']);
  if (!Number.isInteger(containerLogMaxFiles) || containerLogMaxFiles < 2) throw new Error(`--container-log-max-files: "${values['container-log-max-files']}" is not an integer greater than 1`);
  const containerLogMonitorIntervalMs = parseDuration(values['container-log-monitor-interval']!, '--container-log-monitor-interval');
  if (!(containerLogMonitorIntervalMs > 0)) throw new Error('--container-log-monitor-interval: must be longer than 0');
  const dataDir = resolve(values['data-dir']!);
  const port = Number(values['https-listen-port']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--https-listen-port: "${values['https-listen-port']}" is not a port number`);
  const bind = values['bind-address']!;
  const kubeconfigPath = resolve(values['write-kubeconfig'] ?? join(dataDir, 'kubeconfig.yaml'));

  const token = serverTokenFlag(values.token, values['token-file']);
  if ((values['cluster-init'] || values.server) && values['datastore-endpoint']) throw new Error('--cluster-init/--server run an etcd member of their own: not with --datastore-endpoint');
  const etcdPort = (flag: 'etcd-client-port' | 'etcd-peer-port'): number => {
    const n = Number(values[flag]);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`--${flag}: "${values[flag]}" is not a port number`);
    return n;
  };
  // A managed etcd member (--cluster-init, --server, or one this data dir already has) comes first: the store is on it.
  const managedEtcd = await ManagedEtcd.start({
    clusterInit: values['cluster-init']!, server: values.server, token, dataDir, log,
    advertise: values['advertise-address'] ?? (bind !== '0.0.0.0' && bind !== '::' ? bind : undefined),
    clientPort: etcdPort('etcd-client-port'), peerPort: etcdPort('etcd-peer-port'),
  });
  const datastore = managedEtcd?.datastore ?? datastoreConfig({
    endpoint: values['datastore-endpoint'], caFile: values['datastore-cafile'], certFile: values['datastore-certfile'], keyFile: values['datastore-keyfile'], dataDir,
  });
  const store = await openDatastore(datastore, log.with({ component: 'store' }));
  const tlsDir = join(dataDir, 'tls');
  // Servers sharing etcd share the CA, kept there sealed with the token (see datastore-bootstrap.ts).
  await reconcileBootstrap({ store: datastore.kind === 'etcd' ? store : undefined, tlsDir, tokenFile: join(dataDir, 'token'), token, log })
    .catch(async (e: unknown) => { await store.close(); throw e; });
  const ca = await ClusterCA.loadOrCreate(tlsDir);
  const host = hostname();
  const advertise = values['advertise-address'] ?? (bind !== '0.0.0.0' && bind !== '::' ? bind : primaryIPv4());
  const sans = ['127.0.0.1', 'localhost', host, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', '10.43.0.1', ...(values['tls-san'] ?? [])];
  if (bind !== '0.0.0.0' && bind !== '::') sans.push(bind);
  sans.push(advertise);
  const ips = [...new Set(sans.filter((s) => isIP(s)))];
  const dns = [...new Set(sans.filter((s) => !isIP(s)))];
  const serving = await loadOrIssue(ca, tlsDir, 'serving', { user: 'kube-apiserver', groups: [] }, { server: { dns, ips } });
  const admin = await loadOrIssue(ca, tlsDir, 'admin', { user: 'system:admin', groups: ['system:masters'] }, { client: true });

  const enabled = selectControllers(values.controllers ?? ['*']);
  const nodeLifecycle = nodeLifecycleFlags(values);
  const leaderElection = leaderElectionFlags(values);
  const terminatedPodThreshold = Number(values['terminated-pod-gc-threshold']);
  if (!Number.isInteger(terminatedPodThreshold) || terminatedPodThreshold < 0) throw new Error(`--terminated-pod-gc-threshold: "${values['terminated-pod-gc-threshold']}" is not a whole number`);
  const watchCacheSize = Number(values['watch-cache-size']);
  if (!Number.isInteger(watchCacheSize) || watchCacheSize < 1) throw new Error(`--watch-cache-size: "${values['watch-cache-size']}" is not a positive integer`);
  const kubeletClient = await loadOrIssue(ca, tlsDir, 'apiserver-kubelet-client', { user: KUBELET_CLIENT_NAME, groups: ['system:masters'] }, { client: true });
  // Joining nodes: their routes are filled in once the server runs (the join service talks to it over HTTPS).
  const extraRoutes = new Map<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>>();
  // Revoked node credentials are the cluster's (a Secret every server shares), read before the API serves so a
  // server never lets a revoked node in; a server's old revocation file moves into it.
  const revocations = await NodeRevocations.load({ store, pendingFile: join(tlsDir, 'revoked-nodes.json'), log: log.with({ component: 'node-revocations' }) })
    .catch(async (e: unknown) => { await store.close(); throw e; });
  if (managedEtcd) extraRoutes.set(...managedEtcd.joinRoute(join(dataDir, 'token')));
  const server = new ApiServer({
    extraRoutes, certificateRevoked: (user, groups, notBefore) => revocations.revoked(user, groups, notBefore), authorize: authorizeNode,
    store, log: log.with({ component: 'apiserver' }), tls: { cert: serving.cert, key: serving.key, ca: ca.pair.cert },
    kubeletClient: { ...kubeletClient, ca: ca.pair.cert },
    compactIntervalMs: parseDuration(values['compaction-interval']!, '--compaction-interval'), watchCacheSize, advertiseAddress: advertise,
  });
  await server.start(port, bind);
  const urlHost = bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : isIP(bind) === 6 ? `[${bind}]` : bind;
  const serverURL = `https://${urlHost}:${server.port}`;
  writeKubeconfig(kubeconfigPath, kubeconfigYaml(serverURL, ca.pair.cert, admin));
  const joinClient = new RestClient({ server: serverURL, ca: ca.pair.cert, cert: admin.cert, key: admin.key, namespace: 'default', insecureSkipTLSVerify: false }, { userAgent: 'skiff-node-join/v1.32.0' });
  const joins = new NodeJoinService({ ca, client: joinClient, revocations, log: log.with({ component: 'node-join' }) });
  for (const [path, handler] of joins.routes()) extraRoutes.set(path, handler);
  await joins.start();
  await ensureServerToken(joinClient, join(dataDir, 'token'), ca.pair.cert);
  // The controller manager and the scheduler run in threads of their own and talk to the API over HTTPS
  // like any other client, each with its own identity.
  const components: ComponentSupervisor[] = [];
  const access = (pair: { cert: string; key: string }): ClusterAccess => ({ server: serverURL, ca: ca.pair.cert, cert: pair.cert, key: pair.key, namespace: 'default', insecureSkipTLSVerify: false });
  if (enabled.length > 0) {
    const cert = await loadOrIssue(ca, tlsDir, 'controller-manager', { user: 'system:kube-controller-manager', groups: [] }, { client: true });
    components.push(new ComponentSupervisor({ component: 'controller-manager', access: access(cert), userAgent: 'skiff-controller-manager/v1.32.0', controllers: enabled,
      controllerConfig: { clusterCIDR: values['cluster-cidr']!, podGC: { terminatedPodThreshold } }, nodeLifecycle, leaderElection }, log));
  }
  if (!values['disable-scheduler']) {
    const cert = await loadOrIssue(ca, tlsDir, 'scheduler', { user: 'system:kube-scheduler', groups: [] }, { client: true });
    components.push(new ComponentSupervisor({ component: 'scheduler', access: access(cert), userAgent: 'skiff-scheduler/v1.32.0', leaderElection }, log));
  }
  let localNode: string | undefined;
  if (!values['disable-agent']) {
    const problems = await agentPreflight();
    if (problems.length > 0) {
      await server.close();
      await store.close();
      throw new Error(`the node agent cannot run on this machine:\n${problems.map((p) => `  - ${p}`).join('\n')}\n(or start with --disable-agent for a control plane without a node)`);
    }
    const nodeName = (values['node-name'] ?? host).toLowerCase();
    localNode = nodeName;
    const cert = await loadOrIssue(ca, tlsDir, `node-${nodeName}`, { user: `system:node:${nodeName}`, groups: ['system:nodes'] }, { client: true });
    const kubeletTLS = await loadOrIssue(ca, tlsDir, `kubelet-${nodeName}`, { user: `system:node:${nodeName}`, groups: ['system:nodes'] }, {
      server: { dns: [...new Set([nodeName, host, 'localhost'])], ips: [...new Set([advertise, '127.0.0.1'])] },
    });
    const kubeletPort = Number(values['kubelet-port']);
    if (!Number.isInteger(kubeletPort) || kubeletPort < 0 || kubeletPort > 65535) throw new Error(`--kubelet-port: "${values['kubelet-port']}" is not a port`);
    const maxPods = Number(values['max-pods']);
    if (!Number.isInteger(maxPods) || maxPods < 1) throw new Error(`--max-pods: "${values['max-pods']}" is not a positive integer`);
    const labels: Record<string, string> = { 'node-role.kubernetes.io/control-plane': 'true' };
    for (const l of values['node-label'] ?? []) {
      const i = l.indexOf('=');
      if (i <= 0) throw new Error(`--node-label: "${l}" is not KEY=VALUE`);
      labels[l.slice(0, i)] = l.slice(i + 1);
    }
    components.push(new ComponentSupervisor({
      component: 'agent', access: access(cert), userAgent: `skiff-agent/v1.32.0 (${nodeName})`,
      agent: {
        access: access(cert), nodeName, dataDir: join(dataDir, 'agent'), rootDir: resolve(values['root-dir']!), podLogDir: resolve(values['pod-log-dir']!),
        podCIDR: values['pod-cidr']!, address: advertise, maxPods, labels, registriesFile: join(dataDir, 'registries.yaml'), imagesDropDir: join(dataDir, 'images'),
        kubeletPort, kubeletTLS: { ...kubeletTLS, ca: ca.pair.cert }, containerLogMaxSize, containerLogMaxFiles, containerLogMonitorIntervalMs,
      },
    }, log, 'process'));
  }
  for (const c of components) c.start();
  const readyMs = Math.round(process.uptime() * 1000);
  log.info('ready', { readyMs, server: serverURL, kubeconfig: kubeconfigPath, dataDir, agent: values['disable-agent'] ? 'disabled' : values['node-name'] ?? host });
  log.info('nodes join with', { command: `skiff agent --server ${serverURL.replace('127.0.0.1', advertise)} --token-file ${join(dataDir, 'token')}` });
  process.stdout.write(`skiff server ready in ${(readyMs / 1000).toFixed(2)}s — ${serverURL} — kubeconfig: ${kubeconfigPath}\n`);
  const stopping = new AbortController();
  if (localNode) {
    const name = localNode;
    void whenNodeReady(joinClient, name, { timeoutMs: 120_000, signal: stopping.signal }).then((ready) => {
      if (ready) process.stdout.write(`skiff server: node ${name} Ready in ${process.uptime().toFixed(2)}s\n`);
      else if (!stopping.signal.aborted) log.warn('the local node is not Ready after 120 s', { node: name });
    });
  }

  await new Promise<void>((resolveStop) => {
    const stop = (signal: string): void => {
      log.info('stopping', { signal });
      resolveStop();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  stopping.abort();
  await Promise.all(components.map((c) => c.stop()));
  joins.stop();
  joinClient.close();
  await server.close();
  await store.close();
  await managedEtcd?.stop();
  log.info('stopped');
  return 0;
}

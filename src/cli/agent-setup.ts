/**
 * Wiring of a node agent from its settings: the runtime (runc + conmon), the pod network (CNI), the
 * image store and the volume manager, each with paths derived from the agent's data dir so that
 * several agents on one machine never share state.
 */
import { createHash } from 'node:crypto';
import { access, constants, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { StreamingServer } from '../agent/server/streaming-server.js';
import { Agent } from '../agent/agent.js';
import { ApiVolumeSources } from '../agent/api-volume-sources.js';
import { OciImageStore } from '../agent/images/image-store.js';
import { loadRegistriesConfig } from '../agent/images/registries-config.js';
import { CniPodNetwork } from '../agent/network/pod-network.js';
import { deleteVtep, vtepName } from '../agent/network/vxlan.js';
import { preflight as networkPreflight } from '../agent/network/preflight.js';
import { RuncRuntime } from '../agent/runtime/runc/runc-runtime.js';
import { cgroupMounts, killCgroupProcesses, removeCgroup } from '../agent/runtime/runc/cgroups.js';
import { KubeletVolumeManager } from '../agent/volumes/kubelet-volume-manager.js';
import type { ClusterAccess } from '../client/kubeconfig.js';
import { RestClient } from '../client/rest-client.js';
import type { Logger } from '../util/log.js';

/** Everything an agent is configured with (plain data: it crosses into the agent's thread). */
export interface AgentSettings {
  readonly access: ClusterAccess;
  readonly nodeName: string;
  /** The agent's own state (`<server data dir>/agent`). */
  readonly dataDir: string;
  readonly rootDir: string;
  readonly podLogDir: string;
  readonly podCIDR: string;
  readonly address: string;
  readonly maxPods: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly runcRoot?: string;
  readonly registriesFile?: string;
  readonly heartbeatMs?: number;
  /** The streaming server's port (kubelet's 10250; 0 picks a free one) and its certificate. */
  readonly kubeletPort?: number;
  readonly kubeletTLS?: { readonly cert: string; readonly key: string; readonly ca: string };
  /** Container log rotation (`--container-log-max-size` in bytes, `--container-log-max-files`, the check interval); kubelet's defaults when unset. */
  readonly containerLogMaxSize?: number;
  readonly containerLogMaxFiles?: number;
  readonly containerLogMonitorIntervalMs?: number;
}

/** Names and paths private to one agent, derived from its data dir. */
export function agentIdentity(dataDir: string): { id: string; runcRoot: string; netnsPrefix: string; bridge: string; network: string; cgroupRoot: string } {
  const id = createHash('sha256').update(dataDir).digest('hex').slice(0, 8);
  return { id, runcRoot: `/run/skiff/${id}/runc`, netnsPrefix: `skiff_${id}`, bridge: `skiff${id}`, network: `skiff-${id}`, cgroupRoot: `/skiff/${id}` };
}

const pauseBinary = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'native', 'pause');

function onPath(cmd: string): Promise<boolean> {
  return new Promise((resolve) => execFile('sh', ['-c', `command -v ${cmd}`], (err) => resolve(!err)));
}

/**
 * What the agent needs from the machine, each missing piece with the command that installs it; empty
 * when everything is there.
 */
export async function agentPreflight(): Promise<string[]> {
  const problems: string[] = [];
  if (!(await onPath('runc'))) problems.push('runc is not installed: apt-get install runc');
  if (!(await onPath('conmon'))) problems.push('conmon is not installed: apt-get install conmon');
  if (!(await onPath('umoci'))) problems.push('umoci is not installed (it unpacks images): apt-get install umoci');
  if (!(await onPath('mount'))) problems.push('mount is not installed: apt-get install mount');
  if (!existsSync(pauseBinary)) problems.push(`the pod sandbox binary ${pauseBinary} is missing: run \`npm run build\` (needs gcc and libc6-dev)`);
  const fs = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  if (!/\boverlay\b/.test(fs)) problems.push('the kernel has no overlay filesystem (modprobe overlay)');
  if (!/\bcgroup2?\b/.test(fs)) problems.push('the kernel has no cgroup filesystem');
  await access('/sys/fs/cgroup', constants.R_OK).catch(() => problems.push('/sys/fs/cgroup is not mounted'));
  for (const p of await networkPreflight()) problems.push(p.message);
  return problems;
}

/** The common name of the API server's client certificate towards agents (as kube-apiserver's). */
export const KUBELET_CLIENT_NAME = 'kube-apiserver-kubelet-client';

/** Builds the agent and its parts; `start()` is the caller's. */
export async function buildAgent(s: AgentSettings, log: Logger): Promise<{ agent: Agent; client: RestClient; images: OciImageStore; streaming?: StreamingServer }> {
  const ident = agentIdentity(s.dataDir);
  // `skiff killall` reads where this agent keeps things (without credentials).
  await mkdir(s.dataDir, { recursive: true });
  const { access: _access, ...paths } = s;
  await writeFile(join(s.dataDir, 'settings.json'), JSON.stringify(paths, null, 2));
  const client = new RestClient(s.access, { userAgent: `skiff-agent/v1.32.0 (${s.nodeName})` });
  const runtime = new RuncRuntime({ dataDir: join(s.dataDir, 'runtime'), runcRoot: s.runcRoot ?? ident.runcRoot, pauseBinary, log });
  await runtime.init();
  const network = new CniPodNetwork({
    stateDir: join(s.dataDir, 'network'), netnsPrefix: ident.netnsPrefix, bridgeName: ident.bridge, networkName: ident.network, podCIDR: s.podCIDR, log,
  });
  const registries = s.registriesFile && existsSync(s.registriesFile) ? loadRegistriesConfig(s.registriesFile) : undefined;
  const images = new OciImageStore({ root: join(s.dataDir, 'images'), ...(registries ? { registries } : {}), log });
  const sources = new ApiVolumeSources(client);
  const volumes = new KubeletVolumeManager({ rootDir: s.rootDir, sources, nodeName: s.nodeName, log });
  // The streaming server is up before the Node is registered, so the Node can publish its port.
  let agent: Agent | undefined;
  let streaming: StreamingServer | undefined;
  let kubeletPort: number | undefined;
  if (s.kubeletTLS) {
    const notReady = { kind: 'error', code: 503, message: 'the agent is starting' } as const;
    streaming = new StreamingServer({
      tls: s.kubeletTLS, allowedClients: [KUBELET_CLIENT_NAME], log,
      logTarget: async (ns, pod, container, previous) => (agent ? agent.logTarget(ns, pod, container, previous) : notReady),
      containerRunning: async (id) => (agent ? agent.containerRunning(id) : false),
      execTarget: async (ns, pod, container) => (agent ? agent.execTarget(ns, pod, container) : { kind: 'error', message: 'the agent is starting' }),
      execStream: (id, cmd, o) => runtime.execStream(id, cmd, o),
      attachStream: (id, o) => runtime.attachStream(id, o),
      portForwardTarget: async (ns, pod) => {
        const t = agent ? await agent.portForwardTarget(ns, pod) : { kind: 'error', message: 'the agent is starting' } as const;
        return t.kind === 'error' ? t : { kind: 'ok', podFullName: t.podFullName, uid: t.uid, dial: (port: number) => runtime.portForward(t.sandboxId, port) };
      },
    });
    kubeletPort = await streaming.start(s.kubeletPort ?? 10250, s.address);
  }
  agent = new Agent({
    client, nodeName: s.nodeName, address: s.address, podCIDR: s.podCIDR, runtime, network, images, volumes, sources,
    rootDir: s.rootDir, podLogDir: s.podLogDir, cgroupRoot: ident.cgroupRoot, labels: s.labels, maxPods: s.maxPods, log,
    ...(s.heartbeatMs !== undefined ? { heartbeatMs: s.heartbeatMs } : {}),
    ...(kubeletPort !== undefined ? { kubeletPort } : {}),
    logRotation: {
      ...(s.containerLogMaxSize !== undefined ? { maxSize: s.containerLogMaxSize } : {}),
      ...(s.containerLogMaxFiles !== undefined ? { maxFiles: s.containerLogMaxFiles } : {}),
      ...(s.containerLogMonitorIntervalMs !== undefined ? { intervalMs: s.containerLogMonitorIntervalMs } : {}),
    },
  });
  return { agent, client, images, ...(streaming ? { streaming } : {}) };
}

/**
 * Imports every image tarball dropped into `dir` (k3s's airgap images folder), once per file version:
 * a `.imported` marker beside the store remembers size and mtime.
 */
export async function importDroppedImages(dir: string, images: OciImageStore, log: Logger): Promise<void> {
  const { readdir, stat, writeFile } = await import('node:fs/promises');
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => /\.(tar|tar\.gz|tgz|oci)$/.test(f));
  if (files.length === 0) return;
  const markerPath = join(images.root, '.imported.json');
  const seen = JSON.parse(await readFile(markerPath, 'utf8').catch(() => '{}')) as Record<string, string>;
  for (const f of files) {
    const st = await stat(join(dir, f));
    const version = `${st.size}:${st.mtimeMs}`;
    if (seen[f] === version) continue;
    try {
      const got = await images.importArchive(join(dir, f));
      log.info('imported images', { file: f, images: got.flatMap((i) => i.repoTags) });
      seen[f] = version;
    } catch (e) {
      log.error('cannot import image archive', { file: f, err: e as Error });
    }
  }
  await writeFile(markerPath, JSON.stringify(seen));
}

/**
 * Stops and removes everything an agent started on this host — containers, sandboxes, pod networks and
 * the bridge, volume mounts, cgroups, runc state — as k3s's killall script does. For uninstall and for
 * tests, which must leave the host as they found it.
 */
export async function killAll(agentDataDir: string, log: Logger): Promise<void> {
  const settings = JSON.parse(await readFile(join(agentDataDir, 'settings.json'), 'utf8').catch(() => '{}')) as Partial<AgentSettings>;
  const ident = agentIdentity(agentDataDir);
  const runtime = new RuncRuntime({ dataDir: join(agentDataDir, 'runtime'), runcRoot: settings.runcRoot ?? ident.runcRoot, pauseBinary, log });
  await runtime.init();
  for (const c of await runtime.listContainers()) {
    await runtime.stopContainer(c.id, 0).catch(() => {});
    await runtime.removeContainer(c.id).catch((e: Error) => log.warn('cannot remove container', { id: c.id, err: e }));
  }
  const network = new CniPodNetwork({
    stateDir: join(agentDataDir, 'network'), netnsPrefix: ident.netnsPrefix, bridgeName: ident.bridge, networkName: ident.network,
    podCIDR: settings.podCIDR ?? '10.42.0.0/24', log,
  });
  for (const sb of await runtime.listSandboxes()) {
    await network.tearDown(sb.id).catch(() => {});
    await runtime.stopSandbox(sb.id).catch(() => {});
    await runtime.removeSandbox(sb.id).catch((e: Error) => log.warn('cannot remove sandbox', { id: sb.id, err: e }));
  }
  // Processes whose runtime state is lost (an interrupted cleanup) are still in our cgroups: kill them
  // and go over the containers once more, so their overlays unmount.
  const stray = await killCgroupProcesses(ident.cgroupRoot);
  if (stray > 0) {
    log.warn('killed processes left in the agent\'s cgroups', { count: stray });
    await new Promise((r) => setTimeout(r, 200));
    for (const c of await runtime.listContainers()) await runtime.removeContainer(c.id).catch((e: Error) => log.warn('cannot remove container', { id: c.id, err: e }));
  }
  await runtime.close();
  await network.destroy();
  if (settings.nodeName) await deleteVtep(vtepName(settings.nodeName));
  if (settings.rootDir) {
    const volumes = new KubeletVolumeManager({ rootDir: settings.rootDir, sources: { configMap: async () => undefined, secret: async () => undefined }, log });
    for (const uid of await readdir(join(settings.rootDir, 'pods')).catch(() => [] as string[])) await volumes.tearDown(uid);
  }
  const busy = await removeCgroup(ident.cgroupRoot);
  if (busy.length > 0) log.warn('cgroups still in use', { busy });
  // The shared parent goes too once no agent uses it (rmdir refuses a non-empty cgroup).
  const { rmdir } = await import('node:fs/promises');
  for (const m of await cgroupMounts()) await rmdir(join(m, dirname(ident.cgroupRoot))).catch(() => {});
  const runcRoot = settings.runcRoot ?? ident.runcRoot;
  await rm(runcRoot, { recursive: true, force: true });
  // The default root is /run/skiff/<id>/runc: its per-agent parent goes too.
  if (!settings.runcRoot) await rm(dirname(runcRoot), { recursive: true, force: true });
}

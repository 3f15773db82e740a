import { createHash } from 'node:crypto';
import { runChecked, runCommand } from './command.js';
import { parseIpv4Cidr } from '../../util/ipv4-cidr.js';

/** The VXLAN network id and UDP port (flannel's: VNI 1 on the Linux default port 8472). */
const VNI = '1';
const PORT = '8472';

/** Node annotations a node publishes so that others can reach its VXLAN endpoint (flannel's backend-data). */
export const VTEP_MAC_ANNOTATION = 'skiff.io/vtep-mac';

/** The VXLAN device of a node's agent (interface names have at most 15 characters). */
export function vtepName(nodeName: string): string {
  return `skv${createHash('sha256').update(nodeName).digest('hex').slice(0, 10)}`;
}

/** The address a node's VXLAN device takes: the network address of its pod CIDR (flannel's `.0/32`). */
export function vtepAddress(podCIDR: string): string {
  return parseIpv4Cidr(podCIDR).network;
}

/**
 * Whether `ip` is on one of this host's own L2 segments (the kernel routes it without a gateway): then
 * a plain route to its pods works (host-gw); otherwise pods are reached through VXLAN.
 */
export async function directlyReachable(ip: string): Promise<boolean> {
  const out = await runChecked('ip', ['-o', 'route', 'get', ip], { timeoutMs: 5000 });
  return !/\svia\s/.test(out);
}

/**
 * This node's VXLAN endpoint (flannel's vxlan backend): a device `name` carrying VNI 1 over UDP 8472
 * from `localIP`, holding `vtepAddress(podCIDR)/32`. Created when first needed; returns its MAC.
 */
export async function ensureVtep(name: string, localIP: string, podCIDR: string): Promise<string> {
  const shown = await runCommand('ip', ['-j', 'link', 'show', name], { timeoutMs: 5000 });
  if (shown.code !== 0) {
    await runChecked('ip', ['link', 'add', name, 'type', 'vxlan', 'id', VNI, 'local', localIP, 'dstport', PORT, 'nolearning'], { timeoutMs: 10_000 });
    // 50 bytes of VXLAN, UDP, IP and Ethernet headers inside a 1500-byte path.
    await runChecked('ip', ['link', 'set', name, 'mtu', '1450', 'up'], { timeoutMs: 10_000 });
  }
  await runChecked('ip', ['addr', 'replace', `${vtepAddress(podCIDR)}/32`, 'dev', name], { timeoutMs: 10_000 });
  const link = JSON.parse(await runChecked('ip', ['-j', 'link', 'show', name], { timeoutMs: 5000 })) as { address?: string }[];
  const mac = link[0]?.address;
  if (!mac) throw new Error(`VXLAN device ${name} has no MAC address`);
  return mac;
}

/** Sends `podCIDR` to a remote node through the VXLAN device: ARP entry, forwarding entry, route. */
export async function routeThroughVtep(device: string, podCIDR: string, nodeIP: string, mac: string): Promise<void> {
  const gw = vtepAddress(podCIDR);
  await runChecked('ip', ['neigh', 'replace', gw, 'lladdr', mac, 'dev', device, 'nud', 'permanent'], { timeoutMs: 10_000 });
  await runChecked('bridge', ['fdb', 'replace', mac, 'dev', device, 'dst', nodeIP, 'self', 'permanent'], { timeoutMs: 10_000 });
  await runChecked('ip', ['route', 'replace', podCIDR, 'via', gw, 'dev', device, 'onlink'], { timeoutMs: 10_000 });
}

/** Removes what routeThroughVtep installed (missing entries are fine). */
export async function unrouteThroughVtep(device: string, podCIDR: string, nodeIP: string, mac: string): Promise<void> {
  await runCommand('ip', ['route', 'del', podCIDR, 'dev', device], { timeoutMs: 10_000 });
  await runCommand('bridge', ['fdb', 'del', mac, 'dev', device, 'dst', nodeIP, 'self'], { timeoutMs: 10_000 });
  await runCommand('ip', ['neigh', 'del', vtepAddress(podCIDR), 'dev', device], { timeoutMs: 10_000 });
}

export async function deleteVtep(name: string): Promise<void> {
  await runCommand('ip', ['link', 'del', name], { timeoutMs: 10_000 });
}

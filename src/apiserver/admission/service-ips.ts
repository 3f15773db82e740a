import type { Service } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/types.js';
import { invalid } from '../../api/status.js';
import type { Admission } from '../registry/rest-store.js';
import type { WatchCache } from '../../store/watch-cache.js';

function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return NaN;
  return ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * Assigns Services their ClusterIP (from the service CIDR, default 10.43.0.0/16 as k3s) and NodePorts
 * (30000-32767), refusing addresses already taken, as upstream's service IP and port allocators do.
 * The taken set is read from the services cache, plus reservations for creates still in flight.
 */
export class ServiceAllocator implements Admission {
  readonly #cache: WatchCache<KubeObject>;
  readonly #base: number;
  readonly #size: number;
  readonly #reservedIPs = new Set<string>();
  readonly #reservedPorts = new Set<number>();

  constructor(cache: WatchCache<KubeObject>, cidr = '10.43.0.0/16') {
    this.#cache = cache;
    const [ip, bits] = cidr.split('/');
    this.#base = ipToInt(ip!);
    this.#size = 2 ** (32 - Number(bits));
  }

  /** The first usable address of the range: the `kubernetes` service's. */
  get firstIP(): string {
    return intToIp(this.#base + 1);
  }

  #taken(): { ips: Set<string>; ports: Set<number> } {
    const ips = new Set(this.#reservedIPs);
    const ports = new Set(this.#reservedPorts);
    for (const e of this.#cache.list()) {
      const spec = (e.obj as Service).spec;
      if (spec?.clusterIP && spec.clusterIP !== 'None') ips.add(spec.clusterIP);
      for (const p of spec?.ports ?? []) if (p.nodePort) ports.add(p.nodePort);
    }
    return { ips, ports };
  }

  admit(obj: KubeObject, old: KubeObject | undefined): void {
    const svc = obj as Service & KubeObject;
    const spec = (svc.spec ??= {});
    const name = svc.metadata.name ?? '';
    if (spec.type === 'ExternalName') return;
    const taken = this.#taken();
    const oldSpec = (old as (Service & KubeObject) | undefined)?.spec;
    if (!old || !oldSpec?.clusterIP) {
      if (!spec.clusterIP) {
        let ip: string | undefined;
        // Random probing keeps allocation O(1) on average; the first address is the kubernetes service's.
        for (let i = 0; i < 64 && !ip; i++) {
          const cand = intToIp(this.#base + 2 + Math.floor(Math.random() * (this.#size - 3)));
          if (!taken.ips.has(cand)) ip = cand;
        }
        for (let n = 2; !ip && n < this.#size - 1; n++) if (!taken.ips.has(intToIp(this.#base + n))) ip = intToIp(this.#base + n);
        if (!ip) throw invalid('Service', '', name, [{ type: 'FieldValueInvalid', field: 'spec.clusterIPs', detail: 'Invalid value: []: failed to allocate IP: range is full' }]);
        spec.clusterIP = ip;
      } else if (spec.clusterIP !== 'None') {
        const n = ipToInt(spec.clusterIP);
        if (Number.isNaN(n) || n <= this.#base || n >= this.#base + this.#size - 1) {
          throw invalid('Service', '', name, [{ type: 'FieldValueInvalid', field: 'spec.clusterIPs', detail: `Invalid value: ["${spec.clusterIP}"]: failed to allocate IP ${spec.clusterIP}: the provided IP (${spec.clusterIP}) is not in the valid range` }]);
        }
        if (taken.ips.has(spec.clusterIP)) {
          throw invalid('Service', '', name, [{ type: 'FieldValueInvalid', field: 'spec.clusterIPs', detail: `Invalid value: ["${spec.clusterIP}"]: failed to allocate IP ${spec.clusterIP}: provided IP is already allocated` }]);
        }
      }
      if (spec.clusterIP !== 'None') this.#reserveIP(spec.clusterIP!);
      spec.clusterIPs = [spec.clusterIP!];
      spec.ipFamilies ??= ['IPv4'];
      spec.ipFamilyPolicy ??= 'SingleStack';
    }
    if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') {
      for (const p of spec.ports ?? []) {
        const had = oldSpec?.ports?.find((o) => o.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP'))?.nodePort;
        if (p.nodePort) {
          if (p.nodePort !== had && taken.ports.has(p.nodePort)) {
            throw invalid('Service', '', name, [{ type: 'FieldValueInvalid', field: 'spec.ports[0].nodePort', detail: `Invalid value: ${p.nodePort}: provided port is already allocated` }]);
          }
          continue;
        }
        if (had) { p.nodePort = had; continue; }
        for (let i = 0; i < 2768; i++) {
          const cand = 30000 + Math.floor(Math.random() * 2768);
          if (!taken.ports.has(cand)) { p.nodePort = cand; taken.ports.add(cand); this.#reservePort(cand); break; }
        }
      }
    }
  }

  #reserveIP(ip: string): void {
    this.#reservedIPs.add(ip);
    // The reservation covers the window until the write shows in the cache.
    setTimeout(() => this.#reservedIPs.delete(ip), 10_000).unref();
  }

  #reservePort(port: number): void {
    this.#reservedPorts.add(port);
    setTimeout(() => this.#reservedPorts.delete(port), 10_000).unref();
  }
}

// In-memory stand-ins for the agent's network, images and volumes, so pod-worker tests exercise the
// worker's logic against the SimRuntime without touching the host. Test code only.
import type { ImageService, LocalImage, PullPolicy } from '../../src/agent/images/types.js';
import { ImageError } from '../../src/agent/images/types.js';
import type { PodNetwork, SandboxNetwork, SandboxNetworkRequest } from '../../src/agent/network/types.js';
import type { OciMount, PreparedVolume, VolumeManager } from '../../src/agent/volumes/types.js';

export class StandInNetwork implements PodNetwork {
  readonly up = new Map<string, SandboxNetwork>();
  #next = 2;
  async setUp(req: SandboxNetworkRequest): Promise<SandboxNetwork> {
    const ip = `10.9.0.${this.#next++}`;
    const n = { netnsPath: `/var/run/netns/stand-in-${req.id}`, ip, ips: [ip] };
    this.up.set(req.id, n);
    return n;
  }
  async tearDown(id: string): Promise<void> { this.up.delete(id); }
  status(id: string): SandboxNetwork | undefined { return this.up.get(id); }
  async garbageCollect(): Promise<void> {}
}

export class StandInImages implements ImageService {
  readonly present = new Set<string>(['busybox:1.35']);
  pulls = 0;
  async ensure(ref: string, policy: PullPolicy): Promise<LocalImage> {
    const local = this.get(ref);
    if (local && policy !== 'Always') return local;
    if (policy === 'Never') throw new ImageError('ErrImageNeverPull', `image "${ref}" is not present`);
    this.pulls++;
    if (!local) throw new ImageError('ErrImagePull', `failed to pull and unpack image "${ref}": not found`);
    return local;
  }
  get(ref: string): LocalImage | undefined {
    return this.present.has(ref) ? { id: `sha256:${ref}`, repoTags: [ref], repoDigests: [], size: 1, rootfs: '/nonexistent', config: { Cmd: ['sh'] } } : undefined;
  }
  list(): readonly LocalImage[] { return [...this.present].map((r) => this.get(r)!); }
  async remove(ref: string): Promise<void> { this.present.delete(ref); }
  async importArchive(): Promise<readonly LocalImage[]> { return []; }
}

export class StandInVolumes implements VolumeManager {
  async setUp(): Promise<ReadonlyMap<string, PreparedVolume>> { return new Map(); }
  async mountsFor(): Promise<readonly OciMount[]> { return []; }
  async tearDown(): Promise<void> {}
}

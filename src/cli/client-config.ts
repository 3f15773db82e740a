import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadKubeconfig, type ClusterAccess } from '../client/kubeconfig.js';
import { RestClient } from '../client/rest-client.js';

/** The kubeconfig a command uses: the flag, $KUBECONFIG, the server's default, then ~/.kube/config. */
export function resolveKubeconfig(flag: string | undefined): string {
  const candidates = [flag, process.env['KUBECONFIG']?.split(':')[0], '/var/lib/skiff/kubeconfig.yaml', join(homedir(), '.kube', 'config')];
  for (const c of candidates) if (c && existsSync(c)) return c;
  throw new Error('no kubeconfig found: pass --kubeconfig, set KUBECONFIG, or start `skiff server` first');
}

export function clientFor(kubeconfigFlag: string | undefined, userAgent: string): { client: RestClient; access: ClusterAccess } {
  const access = loadKubeconfig(resolveKubeconfig(kubeconfigFlag));
  return { client: new RestClient(access, { userAgent }), access };
}

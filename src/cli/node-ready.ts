import type { RestClient } from '../client/rest-client.js';

interface NodeStatusView {
  status?: { conditions?: { type: string; status: string }[] };
}

/**
 * Waits until the Node `name` exists and reports Ready (asking the API every `intervalMs`): true then, false
 * after `timeoutMs` or once `signal` aborts. The server's ready line is the API's; a node agent registers and
 * turns Ready a moment later, and `kubectl get nodes` in between answers "No resources found".
 */
export async function whenNodeReady(client: RestClient, name: string, o: { timeoutMs: number; intervalMs?: number; signal?: AbortSignal }): Promise<boolean> {
  const end = Date.now() + o.timeoutMs;
  const path = `/api/v1/nodes/${encodeURIComponent(name)}`;
  while (!o.signal?.aborted && Date.now() < end) {
    const r = await client.request<NodeStatusView>('GET', path).catch(() => undefined);
    if (r?.status === 200 && r.body.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return true;
    await new Promise((resolve) => setTimeout(resolve, o.intervalMs ?? 100));
  }
  return false;
}

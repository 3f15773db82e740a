import type { RestClient } from '../client/rest-client.js';
import type { VolumeSources } from './volumes/types.js';

/** ConfigMaps and Secrets read through the API (absent → undefined; anything else unexpected → an error). */
export class ApiVolumeSources implements VolumeSources {
  constructor(readonly client: RestClient) {}

  async #get<T>(path: string, what: string): Promise<T | undefined> {
    const r = await this.client.request<T>('GET', path);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`reading ${what}: HTTP ${r.status}`);
    return r.body;
  }

  configMap(namespace: string, name: string): Promise<{ data?: Record<string, string>; binaryData?: Record<string, string> } | undefined> {
    return this.#get(`/api/v1/namespaces/${namespace}/configmaps/${encodeURIComponent(name)}`, `configmap ${namespace}/${name}`);
  }

  secret(namespace: string, name: string): Promise<{ data?: Record<string, string> } | undefined> {
    return this.#get(`/api/v1/namespaces/${namespace}/secrets/${encodeURIComponent(name)}`, `secret ${namespace}/${name}`);
  }
}

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { datastoreConfig, type DatastoreFlags } from './datastore.js';

const dataDir = '/var/lib/skiff';

describe('datastoreConfig', () => {
  const ok: [string, Partial<DatastoreFlags>, ReturnType<typeof datastoreConfig>][] = [
    ['no flag: SQLite in the data dir', {}, { kind: 'sqlite', path: '/var/lib/skiff/db/state.db' }],
    ['sqlite://PATH', { endpoint: 'sqlite:///tmp/x/state.db' }, { kind: 'sqlite', path: '/tmp/x/state.db' }],
    ['etcd:// with several hosts, default port', { endpoint: 'etcd://h1:2379,h2,10.0.0.3:2381' },
      { kind: 'etcd', endpoints: ['http://h1:2379', 'http://h2:2379', 'http://10.0.0.3:2381'], caFile: undefined, certFile: undefined, keyFile: undefined }],
    ['etcd:// with TLS files is https', { endpoint: 'etcd://h1:2379', caFile: 'ca.crt', certFile: 'c.crt', keyFile: 'c.key' },
      { kind: 'etcd', endpoints: ['https://h1:2379'], caFile: 'ca.crt', certFile: 'c.crt', keyFile: 'c.key' }],
    ['k3s style https list', { endpoint: 'https://h1:2379,https://[::1]:2379' },
      { kind: 'etcd', endpoints: ['https://h1:2379', 'https://[::1]:2379'], caFile: undefined, certFile: undefined, keyFile: undefined }],
  ];
  for (const [name, flags, want] of ok) {
    it(name, () => assert.deepEqual(datastoreConfig({ dataDir, ...flags }), want));
  }

  const bad: [string, Partial<DatastoreFlags>, RegExp][] = [
    ['an unknown scheme', { endpoint: 'postgres://db' }, /is not sqlite:\/\/PATH, etcd:\/\//],
    ['mixed http and https', { endpoint: 'http://h1:2379,https://h2:2379' }, /mixes http and https/],
    ['a host with a path', { endpoint: 'etcd://h1:2379/x/y' }, /is not HOST\[:PORT\]/],
    ['TLS files with SQLite', { caFile: 'ca.crt' }, /apply to etcd only/],
    ['a certificate without its key', { endpoint: 'etcd://h1', certFile: 'c.crt' }, /go together/],
  ];
  for (const [name, flags, message] of bad) {
    it(`refuses ${name}`, () => assert.throws(() => datastoreConfig({ dataDir, ...flags }), message));
  }
});

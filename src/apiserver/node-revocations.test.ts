import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Secret } from 'kubernetes-types/core/v1.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { RestClient } from '../client/rest-client.js';
import { ApiServer } from './server.js';
import { authorizeNode } from './node-authorizer.js';
import {
  encodeRevocation, JOINED_NODES_GROUP, mergeRevocation, NodeRevocations, parseRevocations,
  REVOKED_NODES_NAMESPACE, REVOKED_NODES_SECRET,
} from './node-revocations.js';

const joined = ['system:nodes', JOINED_NODES_GROUP];
const t0 = Date.parse('2026-12-06T12:00:00.700Z');

async function eventually<T>(fn: () => T | undefined | Promise<T | undefined>, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('node revocation records', () => {
  it('keep the earliest sighting of one deletion and move on to a later deletion', () => {
    assert.deepEqual(mergeRevocation(undefined, { at: t0, uid: 'a' }), { at: t0, uid: 'a' });
    assert.equal(mergeRevocation({ at: t0, uid: 'a' }, { at: t0 + 4000, uid: 'a' }), undefined, 'a server that saw the same deletion late');
    assert.deepEqual(mergeRevocation({ at: t0, uid: 'a' }, { at: t0 - 100, uid: 'a' }), { at: t0 - 100, uid: 'a' }, 'one that saw it earlier');
    assert.deepEqual(mergeRevocation({ at: t0, uid: 'a' }, { at: t0 + 60_000, uid: 'b' }), { at: t0 + 60_000, uid: 'b' }, 'the rejoined node deleted again');
    assert.equal(mergeRevocation({ at: t0, uid: 'b' }, { at: t0 - 60_000, uid: 'a' }), undefined, 'an older deletion does not undo a newer one');
    assert.deepEqual(mergeRevocation({ at: t0 }, { at: t0 + 1 }), { at: t0 + 1 }, 'no uid (the old file): the later time');
    assert.deepEqual(mergeRevocation({ at: Infinity }, { at: t0, uid: 'a' }), { at: t0, uid: 'a' }, 'a new deletion replaces an unreadable entry');
  });

  it('round-trip through the Secret, and an unreadable entry refuses all of that node\'s certificates', () => {
    const { revocations, problems } = parseRevocations({ data: { n1: encodeRevocation({ at: t0, uid: 'a' }), n2: encodeRevocation({ at: t0 }), bad: Buffer.from('nonsense').toString('base64') } });
    assert.deepEqual(revocations.get('n1'), { at: t0, uid: 'a' });
    assert.deepEqual(revocations.get('n2'), { at: t0 });
    assert.equal(revocations.get('bad')?.at, Infinity);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^bad: /);
  });

  it('cannot be read or written by nodes', async () => {
    const user = { name: 'system:node:n1', groups: ['system:nodes', JOINED_NODES_GROUP, 'system:authenticated'] };
    for (const verb of ['get', 'create', 'update', 'patch', 'delete']) {
      const refused = await authorizeNode({ user, verb, info: { kind: 'resource', group: '', version: 'v1', resource: 'secrets', namespace: REVOKED_NODES_NAMESPACE, ...(verb === 'create' ? {} : { name: REVOKED_NODES_SECRET }), legacyWatch: false }, existing: async () => undefined, pods: () => [], body: async () => ({ metadata: { name: REVOKED_NODES_SECRET } }) });
      assert.ok(refused, `a node may not ${verb} the revocations`);
    }
  });
});

describe('node revocations shared through the cluster', () => {
  let dir: string;
  let store: SqliteStore;
  let server: ApiServer;
  const clients: RestClient[] = [];
  const started: NodeRevocations[] = [];
  const client = (): RestClient => {
    const c = new RestClient({ server: `http://127.0.0.1:${server.port}`, namespace: 'default', insecureSkipTLSVerify: false });
    clients.push(c);
    return c;
  };
  const start = async (r: NodeRevocations): Promise<NodeRevocations> => { started.push(r); await r.start(client()); return r; };
  const stored = async (): Promise<Map<string, { at: number; uid?: string }>> => {
    const got = await client().request<Secret>('GET', `/api/v1/namespaces/${REVOKED_NODES_NAMESPACE}/secrets/${REVOKED_NODES_SECRET}`);
    return parseRevocations(got.status === 200 ? got.body : undefined).revocations;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-revocations-'));
    store = new SqliteStore({ path: join(dir, 'state.db') });
    await store.ready();
    server = new ApiServer({ store, compactIntervalMs: 0 });
    await server.start(0, '127.0.0.1');
  });
  after(async () => {
    for (const r of started) r.stop();
    for (const c of clients) c.close();
    await server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a deletion recorded by one server is refused by another, and by a server that starts later, before it serves', async () => {
    const a = await start(new NodeRevocations());
    const b = await start(new NodeRevocations());
    assert.equal(b.revoked('system:node:n1', joined, t0 - 5000), false);
    a.revoke('n1', t0, 'uid-1');
    assert.equal(a.revoked('system:node:n1', joined, t0 - 5000), true, 'at once on the server that saw the deletion');
    await eventually(() => b.revoked('system:node:n1', joined, t0 - 5000), 'server B to refuse n1');
    // A third server reads the Secret from the store, before its API (and informer) runs.
    const c = await NodeRevocations.load({ store });
    assert.equal(c.revoked('system:node:n1', joined, t0 - 5000), true);
  });

  it('a late sighting of the same deletion keeps the earlier time; servers writing at once all land (409 retried)', async () => {
    const a = await start(new NodeRevocations());
    const b = await start(new NodeRevocations());
    const c = await start(new NodeRevocations());
    b.revoke('n1', t0 + 4000, 'uid-1');
    await eventually(() => b.written, 'server B\'s write');
    assert.deepEqual((await stored()).get('n1'), { at: t0, uid: 'uid-1' });
    // A node joined again after the first deletion is not refused by the server that saw it late.
    assert.equal(b.revoked('system:node:n1', joined, t0 + 1000), false);
    assert.equal(b.revoked('system:node:n1', joined, t0 - 1000), true);
    a.revoke('n2', t0, 'uid-2');
    b.revoke('n3', t0, 'uid-3');
    c.revoke('n4', t0, 'uid-4');
    await eventually(() => a.written && b.written && c.written, 'the writes');
    const s = await stored();
    for (const n of ['n2', 'n3', 'n4']) assert.ok(s.has(n), `${n} recorded`);
    await eventually(() => ['n2', 'n3', 'n4'].every((n) => a.revoked(`system:node:${n}`, joined, t0 - 1000)), 'server A to refuse them all');
    // Deleted again (another Node object): the later time.
    a.revoke('n1', t0 + 60_000, 'uid-1b');
    await eventually(() => b.revoked('system:node:n1', joined, t0 + 30_000), 'server B to refuse the rejoined n1');
  });

  it('moves a server\'s old revocation file into the cluster, and removes it', async () => {
    const file = join(dir, 'revoked-nodes.json');
    writeFileSync(file, JSON.stringify({ old1: t0 }));
    const r = await NodeRevocations.load({ store, pendingFile: file });
    assert.equal(r.revoked('system:node:old1', joined, t0 - 5000), true, 'before the API serves');
    await start(r);
    await eventually(() => r.written && !existsSync(file), 'the migration');
    assert.deepEqual((await stored()).get('old1'), { at: t0 });
  });

  it('keeps a revocation on disk until the Secret has it, so a crash before the write loses none', async () => {
    const file = join(dir, 'pending.json');
    // Not started: no API to write to, as during an outage.
    const r = new NodeRevocations({ pendingFile: file });
    r.revoke('crash1', t0, 'uid-c');
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { crash1: t0 });
    // The next start reads it back and writes it to the cluster.
    const next = await NodeRevocations.load({ store, pendingFile: file });
    assert.equal(next.revoked('system:node:crash1', joined, t0 - 5000), true);
    await start(next);
    await eventually(() => next.written && !existsSync(file), 'the pending revocation written');
    assert.equal((await stored()).get('crash1')?.at, t0);
  });

  it('a deleted Secret is written back: revoked credentials stay refused', async () => {
    const a = await start(new NodeRevocations());
    a.revoke('gone1', t0, 'uid-g');
    await eventually(() => a.written, 'the write');
    assert.equal((await client().request('DELETE', `/api/v1/namespaces/${REVOKED_NODES_NAMESPACE}/secrets/${REVOKED_NODES_SECRET}`)).status, 200);
    await eventually(async () => (await stored()).get('gone1')?.at === t0, 'the Secret written back');
    assert.equal(a.revoked('system:node:gone1', joined, t0 - 5000), true);
  });
});

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startServer, type TestServer } from './harness.js';
import type { RestClient, WatchLine } from '../../src/client/rest-client.js';

interface Obj { metadata: { name: string; resourceVersion: string; annotations?: Record<string, string> }; data?: Record<string, string> }
interface List { metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number }; items: Obj[] }

const cm = (name: string, data: Record<string, string> = {}, labels: Record<string, string> = {}): unknown =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data });

/** Collects a watch until aborted. */
function collect(c: RestClient, path: string): { events: WatchLine<Obj>[]; done: Promise<void>; stop(): void } {
  const ac = new AbortController();
  const events: WatchLine<Obj>[] = [];
  const done = c.watch<Obj>(path, (e) => events.push(e), ac.signal);
  return { events, done, stop: () => ac.abort() };
}

describe('resourceVersion semantics: lists, paging, watches, bookmarks, compaction', () => {
  let s: TestServer;
  let c: RestClient;
  before(async () => {
    s = await startServer(['--compaction-interval', '1s', '--watch-cache-size', '200']);
    c = s.client();
    await Promise.all(Array.from({ length: 25 }, (_, i) => c.call('POST', '/api/v1/namespaces/default/configmaps', { body: cm(`cm-${String(i).padStart(2, '0')}`, { i: String(i) }, { parity: i % 2 ? 'odd' : 'even' }) })));
  });
  after(async () => { c?.close(); await s?.dispose(); });

  it('pages a list with limit and continue, reporting the remaining count', async () => {
    const names: string[] = [];
    let token: string | undefined;
    let pages = 0;
    let first: List | undefined;
    do {
      const page = await c.call<List>('GET', `/api/v1/namespaces/default/configmaps?limit=10${token ? `&continue=${encodeURIComponent(token)}` : ''}`);
      first ??= page;
      names.push(...page.items.map((i) => i.metadata.name));
      token = page.metadata.continue;
      pages++;
    } while (token);
    assert.equal(pages, 3);
    assert.equal(first!.metadata.remainingItemCount, 15);
    assert.deepEqual(names, Array.from({ length: 25 }, (_, i) => `cm-${String(i).padStart(2, '0')}`));
    const filtered = await c.call<List>('GET', '/api/v1/namespaces/default/configmaps?labelSelector=parity%3Dodd&limit=5');
    assert.equal(filtered.items.length, 5);
    assert.ok(filtered.items.every((i) => Number(i.data!['i']) % 2 === 1));
    assert.ok(filtered.metadata.continue);
  });

  it('a continued list is a consistent snapshot even when objects change between pages', async () => {
    const p1 = await c.call<List>('GET', '/api/v1/namespaces/default/configmaps?limit=10');
    await c.call('PATCH', '/api/v1/namespaces/default/configmaps/cm-20', { body: { data: { i: 'changed' } }, contentType: 'application/merge-patch+json' });
    await c.call('POST', '/api/v1/namespaces/default/configmaps', { body: cm('cm-99') });
    const p2 = await c.call<List>('GET', `/api/v1/namespaces/default/configmaps?limit=100&continue=${encodeURIComponent(p1.metadata.continue!)}`);
    assert.equal(p2.metadata.resourceVersion, p1.metadata.resourceVersion, 'the snapshot revision of the first page');
    assert.equal(p2.items.find((i) => i.metadata.name === 'cm-20')!.data!['i'], '20', 'the old value, as of the snapshot');
    assert.equal(p2.items.find((i) => i.metadata.name === 'cm-99'), undefined, 'objects created later are not in the snapshot');
    const exact = await c.call<List>('GET', `/api/v1/namespaces/default/configmaps?resourceVersion=${p1.metadata.resourceVersion}&resourceVersionMatch=Exact`);
    assert.equal(exact.items.length, 25);
    const tooNew = await c.request<{ code: number; reason: string }>('GET', `/api/v1/namespaces/default/configmaps/cm-01?resourceVersion=${Number(p1.metadata.resourceVersion) + 100000}`);
    assert.equal(tooNew.status, 504);
    assert.equal(tooNew.body.reason, 'Timeout');
  });

  it('watches from a resourceVersion: replay, live changes, selectors, DELETED with the last state', async () => {
    const start = (await c.call<List>('GET', '/api/v1/namespaces/default/configmaps?limit=1')).metadata.resourceVersion;
    await c.call('PATCH', '/api/v1/namespaces/default/configmaps/cm-01', { body: { data: { i: 'x' } }, contentType: 'application/merge-patch+json' });
    const w = collect(c, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${start}&labelSelector=parity%3Dodd`);
    const named = collect(c, `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${start}&fieldSelector=metadata.name%3Dcm-03`);
    await eventually(() => w.events.length >= 1, 5000, 'the replayed change');
    assert.equal(w.events[0]!.type, 'MODIFIED');
    assert.equal(w.events[0]!.object.metadata.name, 'cm-01');
    await c.call('DELETE', '/api/v1/namespaces/default/configmaps/cm-03');
    await c.call('PATCH', '/api/v1/namespaces/default/configmaps/cm-04', { body: { data: { i: 'even, not watched' } }, contentType: 'application/merge-patch+json' });
    await c.call('PATCH', '/api/v1/namespaces/default/configmaps/cm-05', { body: { metadata: { labels: { parity: 'none' } } }, contentType: 'application/merge-patch+json' });
    await eventually(() => w.events.length >= 3, 5000, 'live events');
    w.stop();
    named.stop();
    await Promise.all([w.done, named.done]);
    assert.deepEqual(w.events.map((e) => `${e.type}:${e.object.metadata.name}`), ['MODIFIED:cm-01', 'DELETED:cm-03', 'DELETED:cm-05']);
    const del = w.events[1]!;
    assert.equal(del.object.data!['i'], '3', 'DELETED carries the last state');
    assert.ok(Number(del.object.metadata.resourceVersion) > Number(start));
    assert.deepEqual(named.events.map((e) => e.type), ['DELETED']);
    const revs = w.events.map((e) => Number(e.object.metadata.resourceVersion));
    assert.deepEqual([...revs].sort((a, b) => a - b), revs, 'in revision order');
  });

  it('a watch without a resourceVersion starts with the current state; bookmarks and initial-events-end', async () => {
    const w = collect(c, '/api/v1/namespaces/default/configmaps?watch=true&labelSelector=parity%3Deven');
    await eventually(() => w.events.length >= 12, 5000, 'synthetic ADDED events');
    w.stop();
    await w.done;
    assert.ok(w.events.every((e) => e.type === 'ADDED'));
    const b = collect(c, '/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1&fieldSelector=metadata.name%3Dcm-02');
    await b.done;
    assert.deepEqual(b.events.map((e) => e.type), ['ADDED', 'BOOKMARK', 'BOOKMARK']);
    assert.equal(b.events[1]!.object.metadata.annotations?.['k8s.io/initial-events-end'], 'true');
    assert.ok(Number(b.events[2]!.object.metadata.resourceVersion) >= Number(b.events[0]!.object.metadata.resourceVersion));
  });

  it('concurrent patches without a resourceVersion all apply; one naming a stale version is a 409', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => c.request('PATCH', '/api/v1/namespaces/default/configmaps/cm-07', {
      body: { metadata: { labels: { [`k${i}`]: 'v' } } }, contentType: 'application/merge-patch+json',
    })));
    assert.deepEqual(results.map((r) => r.status), Array(20).fill(200));
    const obj = await c.call<{ metadata: { labels: Record<string, string>; resourceVersion: string } }>('GET', '/api/v1/namespaces/default/configmaps/cm-07');
    assert.equal(Object.keys(obj.metadata.labels).filter((k) => /^k\d+$/.test(k)).length, 20);
    const stale = await c.request<{ reason: string }>('PATCH', '/api/v1/namespaces/default/configmaps/cm-07', {
      body: { metadata: { resourceVersion: '1', labels: { late: 'x' } } }, contentType: 'application/merge-patch+json',
    });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.reason, 'Conflict');
    const jsonStale = await c.request('PATCH', '/api/v1/namespaces/default/configmaps/cm-07', {
      body: [{ op: 'test', path: '/metadata/resourceVersion', value: '1' }, { op: 'add', path: '/metadata/labels/late', value: 'x' }], contentType: 'application/json-patch+json',
    });
    assert.equal(jsonStale.status, 409);
  });

  it('history gone: a watch too far back gets 410 Expired, so does a stale continue token after compaction', async () => {
    const old = (await c.call<List>('GET', '/api/v1/namespaces/default/configmaps?limit=5'));
    // More changes than the watch cache keeps (200) and than compaction spares (1000).
    for (let round = 0; round < 6; round++) {
      await Promise.all(Array.from({ length: 25 }, (_, i) => c.call('PUT', `/api/v1/namespaces/default/configmaps/cm-${String(i).padStart(2, '0')}`, {
        body: cm(`cm-${String(i).padStart(2, '0')}`, { round: String(round) }),
      }).catch(() => undefined)));
    }
    for (let i = 0; i < 1100; i++) await c.call('PUT', '/api/v1/namespaces/default/configmaps/cm-00', { body: cm('cm-00', { n: String(i) }) });
    const w = collect(c, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${old.metadata.resourceVersion}`);
    await w.done;
    assert.equal(w.events.length, 1);
    assert.equal(w.events[0]!.type, 'ERROR');
    const st = w.events[0]!.object as unknown as { code: number; reason: string; message: string };
    assert.equal(st.code, 410);
    assert.equal(st.reason, 'Expired');
    assert.match(st.message, /too old resource version/);
    await eventually(async () => {
      const r = await c.request<{ code: number; reason: string }>('GET', `/api/v1/namespaces/default/configmaps?limit=5&continue=${encodeURIComponent(old.metadata.continue!)}`);
      return r.status === 410 && r.body.reason === 'Expired';
    }, 10_000, 'compaction to reach the snapshot of the continue token');
  });
});

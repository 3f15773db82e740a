import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { silentLogger } from '../util/log.js';
import { caHash, parseJoinToken } from '../api/bootstrap-token.js';
import { bootstrapKey, openBootstrap, reconcileBootstrap, sealBootstrap } from './datastore-bootstrap.js';

// Any Store shows the protocol; SQLite stands in for the shared etcd here (the e2e tests use a real etcd cluster).
describe('reconcileBootstrap (servers sharing a datastore share the CA, sealed with the token)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bootstrap-'));
  let store: SqliteStore;
  before(async () => {
    store = new SqliteStore({ path: join(dir, 'state.db'), log: silentLogger });
    await store.ready();
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const server = (name: string): { tlsDir: string; tokenFile: string } => ({ tlsDir: join(dir, name, 'tls'), tokenFile: join(dir, name, 'token') });
  const ca = (s: { tlsDir: string }): string => readFileSync(join(s.tlsDir, 'ca.crt'), 'utf8');

  it('seals and opens; a wrong secret opens nothing', async () => {
    const sealed = await sealBootstrap({ 'ca.crt': 'C', 'ca.key': 'K' }, 'abcdefghijklmnop');
    assert.ok(!sealed.toString().includes('"K"'), 'the key is not stored in the clear');
    assert.deepEqual(await openBootstrap(sealed, 'abcdefghijklmnop'), { 'ca.crt': 'C', 'ca.key': 'K' });
    assert.equal(await openBootstrap(sealed, 'abcdefghijklmnoq'), undefined);
  });

  const first = server('first');
  it('the first server stores its CA and makes a token naming it', async () => {
    require_dirs(first);
    assert.equal(await reconcileBootstrap({ store, ...first, log: silentLogger }), 'created');
    const token = parseJoinToken(readFileSync(first.tokenFile, 'utf8'));
    assert.equal(token.caHash, caHash(ca(first)));
    const { kv } = await store.get(bootstrapKey);
    assert.ok(kv, 'the bootstrap data is in the store');
  });

  it('a second server without the token refuses to start (no second CA)', async () => {
    const second = server('no-token');
    require_dirs(second);
    await assert.rejects(reconcileBootstrap({ store, ...second, log: silentLogger }), /already holds a cluster made by another server: start this one with that server's token/);
    assert.equal(existsSync(join(second.tlsDir, 'ca.key')), false, 'no CA was made');
  });

  it('a second server with another token refuses to start', async () => {
    const other = server('other-token');
    require_dirs(other);
    await assert.rejects(reconcileBootstrap({ store, ...other, token: 'abcdef.0123456789abcdef', log: silentLogger }), /sealed with a different token/);
  });

  it('a second server with the first one\'s token takes its CA and token; restarts are quiet', async () => {
    const second = server('second');
    require_dirs(second);
    const token = readFileSync(first.tokenFile, 'utf8');
    assert.equal(await reconcileBootstrap({ store, ...second, token, log: silentLogger }), 'joined');
    assert.equal(ca(second), ca(first));
    assert.equal(readFileSync(join(second.tlsDir, 'ca.key'), 'utf8'), readFileSync(join(first.tlsDir, 'ca.key'), 'utf8'));
    assert.equal(readFileSync(second.tokenFile, 'utf8').trim(), token.trim());
    // A restart finds its token file.
    assert.equal(await reconcileBootstrap({ store, ...second, log: silentLogger }), 'joined');
    assert.equal(await reconcileBootstrap({ store, ...first, log: silentLogger }), 'joined');
    assert.equal(ca(second), ca(first));
  });

  it('the short id.secret form works too, and a K10 token naming another CA is refused', async () => {
    const { id, secret } = parseJoinToken(readFileSync(first.tokenFile, 'utf8'));
    const third = server('third');
    require_dirs(third);
    assert.equal(await reconcileBootstrap({ store, ...third, token: `${id}.${secret}`, log: silentLogger }), 'joined');
    assert.equal(ca(third), ca(first));
    const fourth = server('fourth');
    require_dirs(fourth);
    await assert.rejects(reconcileBootstrap({ store, ...fourth, token: `K10${'0'.repeat(64)}::${id}.${secret}`, log: silentLogger }), /CA hash does not match/);
  });
});

/** Makes the server's data dir (its token file's directory). */
function require_dirs(s: { tokenFile: string }): void {
  mkdirSync(dirname(s.tokenFile), { recursive: true });
}

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapSecret, caHash, checkBootstrapToken, formatJoinToken, newBootstrapToken, parseJoinToken, secretField } from './bootstrap-token.js';

const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('join tokens', () => {
  it('formats and parses the secure form, pinning the CA by its hash', () => {
    const { id, secret } = newBootstrapToken();
    assert.match(id, /^[a-z0-9]{6}$/);
    assert.match(secret, /^[a-z0-9]{16}$/);
    const t = formatJoinToken(ca, id, secret);
    assert.deepEqual(parseJoinToken(`${t}\n`), { caHash: caHash(ca), id, secret });
    assert.notEqual(caHash(ca), caHash(ca.replace('MIIB', 'MIIC')));
  });

  it('refuses malformed tokens with a message that says what a token looks like', () => {
    for (const bad of ['', 'abcdef.0123456789abcdef', `K10${'0'.repeat(63)}::abcdef.0123456789abcdef`, `K10${'0'.repeat(64)}::abcde.0123456789abcdef`, `K10${'0'.repeat(64)}::ABCDEF.0123456789abcdef`]) {
      assert.throws(() => parseJoinToken(bad), /malformed/, bad);
    }
  });

  it('checks a presented token against its Secret: secret, usage, expiry', () => {
    const now = new Date('2026-12-06T12:00:00Z');
    const s = bootstrapSecret('abcdef', '0123456789abcdef', { expiresAt: new Date('2026-12-06T13:00:00Z'), description: 'test' });
    assert.equal(s.metadata?.name, 'bootstrap-token-abcdef');
    assert.equal(secretField(s, 'expiration'), '2026-12-06T13:00:00Z');
    assert.equal(checkBootstrapToken(s, { id: 'abcdef', secret: '0123456789abcdef' }, now), undefined);
    assert.match(checkBootstrapToken(s, { id: 'abcdef', secret: '0123456789abcdeX' }, now)!, /not known/);
    assert.match(checkBootstrapToken(undefined, { id: 'abcdef', secret: '0123456789abcdef' }, now)!, /not known/);
    assert.match(checkBootstrapToken(s, { id: 'abcdef', secret: '0123456789abcdef' }, new Date('2026-12-06T13:00:00Z'))!, /expired at 2026-12-06T13:00:00Z/);
    const noAuth = bootstrapSecret('abcdef', '0123456789abcdef');
    noAuth.data!['usage-bootstrap-authentication'] = Buffer.from('false').toString('base64');
    assert.match(checkBootstrapToken(noAuth, { id: 'abcdef', secret: '0123456789abcdef' }, now)!, /may not be used to join/);
    assert.equal(checkBootstrapToken(bootstrapSecret('abcdef', '0123456789abcdef'), { id: 'abcdef', secret: '0123456789abcdef' }, now), undefined, 'no expiration: forever');
  });
});

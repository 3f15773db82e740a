import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JOINED_NODES_GROUP, NodeRevocations } from './node-join.js';

const joined = ['system:nodes', JOINED_NODES_GROUP];

describe('node credential revocation', () => {
  it('revokes joined certificates issued before a node\'s deletion, and only those', () => {
    const r = new NodeRevocations();
    const deletedAt = Date.parse('2026-12-06T12:00:00.700Z');
    assert.equal(r.revoked('system:node:n1', joined, deletedAt - 5000), false);
    r.revoke('n1', deletedAt, 'uid-1');
    assert.equal(r.revoked('system:node:n1', joined, deletedAt - 5000), true);
    assert.equal(r.revoked('system:node:n1', joined, Date.parse('2026-12-06T12:00:00Z')), false, 'issued in the same second (certificates carry whole seconds)');
    assert.equal(r.revoked('system:node:n1', joined, deletedAt + 1000), false, 'a rejoin');
    assert.equal(r.revoked('system:node:n2', joined, deletedAt - 5000), false);
    assert.equal(r.revoked('system:admin', ['system:masters'], deletedAt - 5000), false);
    assert.equal(r.revoked('system:node:n1', ['system:nodes'], deletedAt - 5000), false, 'the server\'s own agent re-registers instead');
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIpv4Cidr, subnetAt } from './ipv4-cidr.js';

test('parseIpv4Cidr canonicalises and finds the .1 gateway', () => {
  const cases: Array<[string, string, string]> = [
    ['10.88.0.0/16', '10.88.0.0/16', '10.88.0.1'],
    ['10.88.7.9/16', '10.88.0.0/16', '10.88.0.1'],
    ['192.168.5.0/24', '192.168.5.0/24', '192.168.5.1'],
    ['10.1.2.4/30', '10.1.2.4/30', '10.1.2.5'],
    [' 172.16.0.0/12 ', '172.16.0.0/12', '172.16.0.1'],
  ];
  for (const [input, cidr, gw] of cases) {
    const c = parseIpv4Cidr(input);
    assert.equal(c.cidr, cidr, input);
    assert.equal(c.gateway, gw, input);
  }
});

test('parseIpv4Cidr rejects what host-local could not use', () => {
  for (const bad of ['10.88.0.0', '10.88.0.0/31', '10.88.0.0/32', '10.88.0.0/0', '10.256.0.0/16', 'fd00::/64', '10.88.0/16', '']) {
    assert.throws(() => parseIpv4Cidr(bad), /IPv4 CIDR/, bad);
  }
});

test('contains tells addresses inside the network from outside ones', () => {
  const c = parseIpv4Cidr('10.88.0.0/16');
  const cases: Array<[string, boolean]> = [['10.88.0.2', true], ['10.88.255.255', true], ['10.89.0.1', false], ['1.2.3.4', false], ['junk', false]];
  for (const [ip, inside] of cases) assert.equal(c.contains(ip), inside, ip);
});

test('subnetAt counts the /24s (or any size) of a cluster CIDR in order, and ends at its end', () => {
  const cluster = parseIpv4Cidr('10.244.0.0/16');
  assert.equal(subnetAt(cluster, 24, 0), '10.244.0.0/24');
  assert.equal(subnetAt(cluster, 24, 1), '10.244.1.0/24');
  assert.equal(subnetAt(cluster, 24, 255), '10.244.255.0/24');
  assert.equal(subnetAt(cluster, 24, 256), undefined);
  assert.equal(subnetAt(cluster, 26, 5), '10.244.1.64/26');
  assert.throws(() => subnetAt(cluster, 8, 0), /does not fit/);
});

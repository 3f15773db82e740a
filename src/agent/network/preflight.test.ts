import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { preflight, formatPreflight } from './preflight.js';

test('preflight finds nothing wrong on a host with the packages installed', async () => {
  assert.deepEqual(await preflight(), []);
});

test('preflight names the Debian package for each missing piece', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-preflight-'));
  try {
    await writeFile(join(dir, 'bridge'), '#!/bin/sh\n', { mode: 0o755 });
    const problems = await preflight({ cniBinDir: dir, path: dir });
    const pkgs = problems.map((p) => p.debianPackage).sort();
    assert.deepEqual(pkgs, ['containernetworking-plugins', 'iproute2', 'iptables']);
    const text = formatPreflight(problems);
    assert.match(text, /host-local, loopback, portmap missing in/);
    assert.doesNotMatch(text, /bridge/);
    assert.match(text, /ip not found in PATH: apt-get install iproute2/);
    assert.match(text, /iptables, iptables-save, iptables-restore not found/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

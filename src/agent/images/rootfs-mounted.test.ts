import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootfsMounted } from './rootfs-mounted.js';

describe('rootfsMounted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-mounts-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const img = '/var/lib/skiff/agent/images/rootfs/abc/rootfs';
  const table = (line: string): string => {
    const f = join(dir, `mi-${Math.random()}`);
    writeFileSync(f, `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n${line}\n`);
    return f;
  };

  it('sees an overlay using the rootfs as lowerdir', () => {
    assert.equal(rootfsMounted(img, table(`99 22 0:50 / /run/c1/rootfs rw,relatime - overlay overlay rw,lowerdir=${img},upperdir=/x/u,workdir=/x/w`)), true);
    assert.equal(rootfsMounted(img, table(`99 22 0:50 / /run/c1/rootfs rw - overlay overlay rw,lowerdir=/other:${img},upperdir=/x/u,workdir=/x/w`)), true);
  });

  it('sees a mount inside the rootfs', () => {
    assert.equal(rootfsMounted(img, table(`99 22 0:50 / ${img}/proc rw - proc proc rw`)), true);
  });

  it('ignores other images, including ones whose path starts the same', () => {
    assert.equal(rootfsMounted(img, table(`99 22 0:50 / /run/c1/rootfs rw - overlay overlay rw,lowerdir=${img}2,upperdir=/x/u,workdir=/x/w`)), false);
    assert.equal(rootfsMounted(img, table('99 22 0:50 / /mnt rw - tmpfs tmpfs rw')), false);
  });
});

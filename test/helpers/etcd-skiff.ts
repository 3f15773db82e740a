import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestServer } from '../e2e/harness.js';

/**
 * `startServer` (a `skiff server --disable-agent` in a new temporary data dir) that cleans up after itself when the
 * server does not come up — the etcd tests start servers while members are down and must not leave a process or a
 * directory behind when one fails.
 */
export async function startSkiffServer(extraArgs: string[]): Promise<TestServer> {
  const s = new TestServer(mkdtempSync(join(tmpdir(), 'skiff-e2e-')), ['--disable-agent', ...extraArgs]);
  try {
    await s.start();
  } catch (e) {
    await s.dispose();
    throw e;
  }
  return s;
}

// Log rotation on temp files: kubelet's naming (UTC), the newest rotated file plain and older ones
// gzipped, pruning to maxFiles, leftovers of an interrupted rotation, and the rename back when the
// writer cannot reopen.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { removeContainerLogs, rotateLog, rotatedLogs, rotationSuffix } from './log-rotation.js';

describe('container log rotation', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-logrot-'));
    path = join(dir, '0.log');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const files = (): string[] => readdirSync(dir).sort();
  /** What conmon does on a reopen: a new, empty file at the path. */
  const reopen = async (): Promise<void> => { writeFileSync(path, ''); };
  const t0 = Date.parse('2026-03-04T05:06:07.890Z');

  it('names rotated files with Go\'s 20060102-150405 layout in UTC', () => {
    assert.equal(rotationSuffix(t0), '20260304-050607');
    assert.equal(rotationSuffix(Date.parse('2026-12-31T23:59:59.999+02:00')), '20261231-215959', 'an offset is turned into UTC');
  });

  it('renames the current file, has the writer reopen it, and keeps the newest rotated file plain and gzips the older ones', async () => {
    writeFileSync(path, 'first\n');
    assert.equal(await rotateLog(path, { maxSize: 1, maxFiles: 5 }, reopen, t0), `${path}.20260304-050607`);
    assert.deepEqual(files(), ['0.log', '0.log.20260304-050607']);
    assert.equal(readFileSync(path, 'utf8'), '', 'the current file is new');
    assert.equal(readFileSync(`${path}.20260304-050607`, 'utf8'), 'first\n');

    writeFileSync(path, 'second\n');
    await rotateLog(path, { maxSize: 1, maxFiles: 5 }, reopen, t0 + 1000);
    assert.deepEqual(files(), ['0.log', '0.log.20260304-050607.gz', '0.log.20260304-050608']);
    assert.equal(gunzipSync(readFileSync(`${path}.20260304-050607.gz`)).toString(), 'first\n', 'the older one is gzipped whole');
    assert.equal(readFileSync(`${path}.20260304-050608`, 'utf8'), 'second\n', 'the newest rotated one stays plain');
    assert.deepEqual(await rotatedLogs(path), [`${path}.20260304-050607.gz`, `${path}.20260304-050608`]);
  });

  it('removes the oldest files so that at most maxFiles remain, the current one included', async () => {
    for (let i = 0; i < 6; i++) {
      writeFileSync(path, `round ${i}\n`);
      await rotateLog(path, { maxSize: 1, maxFiles: 3 }, reopen, t0 + i * 1000);
      assert.ok(files().length <= 3, `at most 3 files after round ${i}: ${files().join(' ')}`);
    }
    assert.deepEqual(files(), ['0.log', '0.log.20260304-050611.gz', '0.log.20260304-050612']);
    assert.equal(gunzipSync(readFileSync(`${path}.20260304-050611.gz`)).toString(), 'round 4\n', 'the ones kept are the newest');
    assert.equal(readFileSync(`${path}.20260304-050612`, 'utf8'), 'round 5\n');

    writeFileSync(path, 'two files\n');
    await rotateLog(path, { maxSize: 1, maxFiles: 2 }, reopen, t0 + 10_000);
    assert.deepEqual(files(), ['0.log', '0.log.20260304-050617'], 'maxFiles 2: only the file just rotated besides the current one');
  });

  it('clears what an interrupted rotation left (temporary files, a plain file whose gzip exists) and leaves other logs alone', async () => {
    writeFileSync(join(dir, '0.log.20260101-000000'), 'half compressed\n');
    writeFileSync(join(dir, '0.log.20260101-000000.gz'), 'x');
    writeFileSync(join(dir, '0.log.20260101-000001.gz.tmp'), 'x');
    writeFileSync(join(dir, '1.log'), 'another instance\n');
    writeFileSync(path, 'now\n');
    await rotateLog(path, { maxSize: 1, maxFiles: 5 }, reopen, t0);
    assert.deepEqual(files(), ['0.log', '0.log.20260101-000000.gz', '0.log.20260304-050607', '1.log']);
  });

  it('puts the file back when the writer cannot reopen, and does not overwrite a file rotated in the same second', async () => {
    writeFileSync(path, 'kept\n');
    await assert.rejects(rotateLog(path, { maxSize: 1, maxFiles: 5 }, async () => { throw new Error('conmon is gone'); }, t0), /conmon is gone/);
    assert.deepEqual(files(), ['0.log']);
    assert.equal(readFileSync(path, 'utf8'), 'kept\n');

    await rotateLog(path, { maxSize: 1, maxFiles: 5 }, reopen, t0);
    writeFileSync(path, 'same second\n');
    let reopened = false;
    assert.equal(await rotateLog(path, { maxSize: 1, maxFiles: 5 }, async () => { reopened = true; }, t0 + 100), undefined);
    assert.equal(reopened, false);
    assert.deepEqual(files(), ['0.log', '0.log.20260304-050607']);
    assert.equal(readFileSync(`${path}.20260304-050607`, 'utf8'), 'kept\n', 'the earlier rotated file is intact');
    assert.equal(readFileSync(path, 'utf8'), 'same second\n');
  });

  it('removes a container\'s current and rotated files, and only those', async () => {
    writeFileSync(path, 'a\n');
    await rotateLog(path, { maxSize: 1, maxFiles: 5 }, reopen, t0);
    writeFileSync(join(dir, '1.log'), 'b\n');
    await removeContainerLogs(path);
    assert.deepEqual(files(), ['1.log']);
    assert.ok(!existsSync(path));
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlPacingMs, writeControl } from './conmon.js';

describe('writeControl', () => {
  it('sends messages to one fifo one at a time, paced, so conmon never reads two together', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-ctl-'));
    const fifo = join(dir, 'ctl');
    execFileSync('mkfifo', [fifo]);
    // A reader as conmon keeps one: open before any write, polled here.
    const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const reads: { at: number; text: string }[] = [];
      const start = Date.now();
      const writes = Promise.all([writeControl(fifo, '1 26 91\n'), writeControl(fifo, '1 25 90\n'), writeControl(fifo, '2 0 0\n')]);
      const buf = Buffer.alloc(200);
      while (reads.length < 3 && Date.now() - start < 5000) {
        try {
          const n = readSync(fd, buf, 0, buf.length, null);
          if (n > 0) reads.push({ at: Date.now(), text: buf.subarray(0, n).toString() });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      await writes;
      assert.deepEqual(reads.map((r) => r.text), ['1 26 91\n', '1 25 90\n', '2 0 0\n'], 'each message alone, in order');
      for (let i = 1; i < reads.length; i++) assert.ok(reads[i]!.at - reads[i - 1]!.at >= controlPacingMs - 10, `message ${i} came ${reads[i]!.at - reads[i - 1]!.at} ms after the one before`);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails at once when nobody reads the fifo (conmon gone)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-ctl-'));
    const fifo = join(dir, 'ctl');
    execFileSync('mkfifo', [fifo]);
    try {
      await assert.rejects(writeControl(fifo, '1 25 90\n'), /ENXIO/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

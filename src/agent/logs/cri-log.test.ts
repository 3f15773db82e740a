// CRI log files as `kubectl logs` reads them: partial lines joined, since/tail/timestamps/limit-bytes,
// and following new lines until the container ends, across log rotations.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseCriLog, rfc3339NanoUTC, streamCriLog, type LogOptions } from './cri-log.js';

describe('CRI log files', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'skiff-crilog-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, body: string): string => {
    const p = join(dir, name);
    writeFileSync(p, body);
    return p;
  };
  const read = async (path: string, o: LogOptions = {}): Promise<string> => {
    let out = '';
    await streamCriLog(path, o, (s) => { out += s; });
    return out;
  };
  const log = [
    '2026-01-01T10:00:00.100000000+00:00 stdout F first',
    '2026-01-01T10:00:01.000000000+00:00 stderr F oops',
    '2026-01-01T10:00:02.250000000Z stdout P half ',
    '2026-01-01T10:00:02.260000000Z stdout P and ',
    '2026-01-01T10:00:02.270000000Z stdout F whole',
    'not a cri line',
    '2026-01-01T10:00:03.000000001+00:00 stdout F last',
    '',
  ].join('\n');

  it('joins partial pieces into one line and skips what does not parse', () => {
    const lines = parseCriLog(log);
    assert.deepEqual(lines.map((l) => [l.stream, l.content]), [['stdout', 'first\n'], ['stderr', 'oops\n'], ['stdout', 'half and whole\n'], ['stdout', 'last\n']]);
    assert.equal(lines[2]!.timestamp, '2026-01-01T10:00:02.250000000Z', 'a joined line carries its first piece\'s time');
  });

  it('prints every line, the last N, those since a time, with timestamps, and up to a byte limit', async () => {
    const p = file('a.log', log);
    assert.equal(await read(p), 'first\noops\nhalf and whole\nlast\n');
    assert.equal(await read(p, { tailLines: 2 }), 'half and whole\nlast\n');
    assert.equal(await read(p, { tailLines: 0 }), '');
    assert.equal(await read(p, { since: Date.parse('2026-01-01T10:00:01Z') }), 'oops\nhalf and whole\nlast\n');
    assert.equal(await read(p, { tailLines: 1, timestamps: true }), '2026-01-01T10:00:03.000000001Z last\n');
    assert.equal(await read(p, { limitBytes: 8 }), 'first\noo');
    assert.equal(await read(join(dir, 'missing.log')), '', 'no file yet: nothing');
  });

  it('formats timestamps as Go\'s RFC3339Nano in UTC', () => {
    assert.equal(rfc3339NanoUTC('2026-01-01T12:00:00.120000000+02:00', Date.parse('2026-01-01T12:00:00.12+02:00')), '2026-01-01T10:00:00.12Z');
    assert.equal(rfc3339NanoUTC('2026-01-01T10:00:00+00:00', Date.parse('2026-01-01T10:00:00Z')), '2026-01-01T10:00:00Z');
  });

  it('follows new lines (a partial one only once complete) until the container ends, and stops when the reader leaves', async () => {
    const p = file('f.log', '2026-01-01T10:00:00Z stdout F one\n');
    let running = true;
    let out = '';
    const ac = new AbortController();
    const done = streamCriLog(p, { follow: true }, (s) => { out += s; }, { running: async () => running, signal: ac.signal, pollMs: 20 });
    const until = async (what: string): Promise<void> => {
      for (let i = 0; i < 200 && !out.includes(what); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(out.includes(what), `saw ${what} in ${JSON.stringify(out)}`);
    };
    await until('one\n');
    appendFileSync(p, '2026-01-01T10:00:01Z stdout F two\n2026-01-01T10:00:02Z stdout P thr');
    await until('two\n');
    assert.ok(!out.includes('thr'), 'an unfinished line waits');
    appendFileSync(p, 'ee\n2026-01-01T10:00:02.5Z stdout F !\n');
    await until('three!\n');
    running = false;
    await done;
    assert.equal(out, 'one\ntwo\nthree!\n');

    out = '';
    const left = new AbortController();
    const stopped = streamCriLog(p, { follow: true, tailLines: 1 }, (s) => { out += s; }, { running: async () => true, signal: left.signal, pollMs: 20 });
    await until('three!\n');
    left.abort();
    await stopped;
    assert.equal(out, 'three!\n');
  });

  /**
   * Follows `path` until told to stop; `until` waits for some text to have come out (and on a timeout
   * stops the follower, so a failing test ends).
   */
  const follower = (path: string): { out: () => string; until: (what: string) => Promise<void>; end: () => Promise<void> } => {
    let out = '';
    let running = true;
    const ac = new AbortController();
    const done = streamCriLog(path, { follow: true }, (s) => { out += s; }, { running: async () => running, signal: ac.signal, pollMs: 20 });
    return {
      out: () => out,
      until: async (what) => {
        for (let i = 0; i < 300 && !out.includes(what); i++) await new Promise((r) => setTimeout(r, 10));
        if (!out.includes(what)) ac.abort();
        assert.ok(out.includes(what), `saw ${what} in ${JSON.stringify(out)}`);
      },
      end: async () => { running = false; await done; },
    };
  };
  const line = (n: number, tag = 'F', text = `line ${n}`): string => `2026-01-01T10:00:${String(n).padStart(2, '0')}Z stdout ${tag} ${text}\n`;
  const lines = (from: number, to: number): string => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}\n`).join('');
  const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  it('follows across a rotation: the rest of the renamed file, then the new one, every line once; without -f only the current file', async () => {
    const p = file('rot.log', line(1) + line(2));
    const f = follower(p);
    await f.until('line 2\n');
    appendFileSync(p, line(3));
    renameSync(p, `${p}.20260101-100000`);
    await pause(60);
    // Until the writer reopens, it still writes to the renamed file (and the path names nothing).
    appendFileSync(`${p}.20260101-100000`, line(4) + line(5, 'P', 'half '));
    await f.until('line 4\n');
    writeFileSync(p, line(6, 'F', 'and half') + line(7));
    await f.until('line 7\n');
    appendFileSync(p, line(8));
    await f.until('line 8\n');
    await f.end();
    assert.equal(f.out(), `${lines(1, 4)}half and half\n${lines(7, 8)}`, 'a partial piece is joined across the files too');
    assert.equal(await read(p), 'and half\nline 7\nline 8\n', 'without -f: the current file only');
  });

  it('catches up with rotations it slept through, gzipped ones included, in order', async () => {
    const p = file('behind.log', line(1));
    const f = follower(p);
    await f.until('line 1\n');
    // Three rotations in one turn of the event loop: the follower sees them only afterwards.
    const rotate = (suffix: string, next: string): void => {
      renameSync(p, `${p}.${suffix}`);
      writeFileSync(p, next);
    };
    const gzip = (suffix: string): void => {
      writeFileSync(`${p}.${suffix}.gz`, gzipSync(readFileSync(`${p}.${suffix}`)));
      unlinkSync(`${p}.${suffix}`);
    };
    appendFileSync(p, line(2));
    rotate('20260101-100001', line(3));
    appendFileSync(p, line(4));
    gzip('20260101-100001');
    rotate('20260101-100002', line(5));
    gzip('20260101-100002');
    rotate('20260101-100003', line(6));
    appendFileSync(p, line(7));
    await f.until('line 7\n');
    await f.end();
    assert.equal(f.out(), lines(1, 7));
  });
});

import { strict as assert } from 'node:assert';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeAtomically, type FileProjection } from './atomic-writer.js';
import { cleanupTempRoot, makeTempRoot, modeOf } from './test-support.js';

let root = '';
before(() => { root = makeTempRoot(); });
after(() => cleanupTempRoot(root));

const file = (text: string, mode = 0o644): FileProjection => ({ data: Buffer.from(text), mode });
let n = 0;
async function target(): Promise<string> {
  const d = join(root, `t${++n}`);
  await mkdir(d);
  return d;
}

test('layout: a timestamped data dir, ..data pointing at it, and key -> ..data/key links', async () => {
  const dir = await target();
  assert.equal(await writeAtomically(dir, new Map([['a', file('A')], ['sub/b.txt', file('B', 0o600)]])), true);
  const tsDir = readlinkSync(join(dir, '..data'));
  assert.match(tsDir, /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+$/);
  assert.equal(modeOf(statSync(join(dir, tsDir))), '755');
  assert.equal(readlinkSync(join(dir, 'a')), '..data/a');
  assert.equal(readlinkSync(join(dir, 'sub')), '..data/sub');
  assert.equal(readFileSync(join(dir, 'a'), 'utf8'), 'A');
  assert.equal(readFileSync(join(dir, 'sub/b.txt'), 'utf8'), 'B');
  assert.equal(modeOf(statSync(join(dir, 'sub/b.txt'))), '600');
  assert.deepEqual(readdirSync(dir).sort(), [tsDir, '..data', 'a', 'sub'].sort());
});

test('an update swaps ..data, prunes vanished keys and removes the old data dir', async () => {
  const dir = await target();
  await writeAtomically(dir, new Map([['keep', file('1')], ['gone', file('x')]]));
  const oldTs = readlinkSync(join(dir, '..data'));
  assert.equal(await writeAtomically(dir, new Map([['keep', file('2')], ['new', file('n')]])), true);
  const newTs = readlinkSync(join(dir, '..data'));
  assert.notEqual(newTs, oldTs);
  assert.equal(existsSync(join(dir, oldTs)), false);
  assert.equal(readFileSync(join(dir, 'keep'), 'utf8'), '2');
  assert.equal(readFileSync(join(dir, 'new'), 'utf8'), 'n');
  assert.equal(existsSync(join(dir, 'gone')), false);
  assert.equal(lstatSync(join(dir, 'keep')).isSymbolicLink(), true);
  assert.equal(existsSync(join(dir, '..data_tmp')), false);
});

test('the same content again is not rewritten; a mode change is', async () => {
  const dir = await target();
  await writeAtomically(dir, new Map([['k', file('v')]]));
  const ts = readlinkSync(join(dir, '..data'));
  assert.equal(await writeAtomically(dir, new Map([['k', file('v')]])), false);
  assert.equal(readlinkSync(join(dir, '..data')), ts);
  assert.equal(await writeAtomically(dir, new Map([['k', file('v', 0o400)]])), true);
  assert.equal(modeOf(statSync(realpathSync(join(dir, 'k')))), '400');
});

test('an empty payload still makes the ..data layout', async () => {
  const dir = await target();
  await writeAtomically(dir, new Map());
  assert.ok(lstatSync(join(dir, '..data')).isSymbolicLink());
  assert.equal(readdirSync(join(dir, '..data')).length, 0);
});

test('bad payload paths are refused with upstream messages and nothing is written', async () => {
  const cases: [string, string][] = [
    ['', 'invalid path: must not be empty: ""'],
    ['/etc/passwd', 'invalid path: must be relative path: /etc/passwd'],
    ['a/../../b', "invalid path: must not contain '..': a/../../b"],
    ['..data', "invalid path: must not start with '..': ..data"],
    ['x'.repeat(256), 'invalid path: filenames must be less than or equal to 255 characters'],
  ];
  for (const [p, msg] of cases) {
    const dir = await target();
    await assert.rejects(writeAtomically(dir, new Map([[p, file('x')]])), { message: msg });
    assert.deepEqual(readdirSync(dir), []);
  }
});

test('the target directory must exist', async () => {
  await assert.rejects(writeAtomically(join(root, 'missing'), new Map()), { code: 'ENOENT' });
});

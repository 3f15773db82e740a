import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { NetnsManager, isValidSandboxId } from './netns.js';
import { TEST_PREFIX, recordBaseline, restoreHostGlobals, removeEverythingTagged } from './test-support.js';

const tag = `${TEST_PREFIX}${process.pid % 100000}n`;

before(recordBaseline);
after(async () => {
  await removeEverythingTagged(tag);
  await restoreHostGlobals();
});

test('add is idempotent, list is per prefix, delete is idempotent', async () => {
  const mine = new NetnsManager(tag);
  const other = new NetnsManager(`${tag}x`); // a prefix that starts like ours must stay invisible to us
  const p = await mine.add('a-1');
  assert.equal(p, `/var/run/netns/${tag}-a-1`);
  assert.equal(await mine.add('a-1'), p);
  assert.ok((await stat(p)).isFile());
  await mine.add('b');
  await other.add('c');
  assert.deepEqual(await mine.list(), ['a-1', 'b']);
  assert.deepEqual(await other.list(), ['c']);
  assert.equal(await mine.exists('a-1'), true);
  await mine.delete('a-1');
  await mine.delete('a-1');
  assert.equal(await mine.exists('a-1'), false);
  await mine.delete('b');
  await other.delete('c');
  assert.deepEqual(await mine.list(), []);
  assert.deepEqual(await other.list(), []);
});

test('prefixes with "-" are refused so one agent cannot claim another\'s namespaces', () => {
  for (const bad of ['a-b', '', 'x/y', 'a.b']) assert.throws(() => new NetnsManager(bad), /prefix/, bad);
});

test('sandbox ids follow the CNI container id alphabet', () => {
  const cases: Array<[string, boolean]> = [['abc', true], ['a-b_c.d', true], ['0123', true], ['-a', false], ['a/b', false], ['../x', false], ['', false], ['a b', false]];
  for (const [id, ok] of cases) assert.equal(isValidSandboxId(id), ok, id);
});

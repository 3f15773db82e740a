import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseFieldSelector, type FieldGetter } from './field-selector.js';
import { ApiError } from '../status.js';

function assertBadRequest(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ApiError, `expected ApiError, got ${String(e)}`);
    assert.equal(e.code, 400);
    assert.equal(e.reason, 'BadRequest');
    assert.equal(e.message, message);
    return true;
  });
}

const podFields: Record<string, FieldGetter> = {
  'metadata.name': (o) => o.metadata?.name,
  'metadata.namespace': (o) => o.metadata?.namespace,
  'spec.nodeName': (o) => o.spec?.nodeName,
  'status.phase': (o) => o.status?.phase,
};

const pod = { metadata: { name: 'web-1', namespace: 'default' }, spec: { nodeName: 'node-a' }, status: { phase: 'Running' } };
const unscheduled = { metadata: { name: 'web,2=x', namespace: 'default' }, spec: {}, status: { phase: 'Pending' } };

describe('parseFieldSelector: parsing', () => {
  const cases: [input: string | undefined, requirements: { field: string; op: '=' | '!='; value: string }[]][] = [
    [undefined, []],
    ['', []],
    ['a=b', [{ field: 'a', op: '=', value: 'b' }]],
    ['a==b', [{ field: 'a', op: '=', value: 'b' }]],
    ['a!=b', [{ field: 'a', op: '!=', value: 'b' }]],
    ['a=', [{ field: 'a', op: '=', value: '' }]],
    ['a!=', [{ field: 'a', op: '!=', value: '' }]],
    // terms come back sorted, as upstream sorts them before building the selector
    ['c!=d,a=b,e==f', [{ field: 'a', op: '=', value: 'b' }, { field: 'c', op: '!=', value: 'd' }, { field: 'e', op: '=', value: 'f' }]],
    // the first operator in the term splits it: here `=`, leaving `b!\=c` as the (escaped) value
    ['a=b!\\=c', [{ field: 'a', op: '=', value: 'b!=c' }]],
    ['a!=b\\=c', [{ field: 'a', op: '!=', value: 'b=c' }]],
    // escapes in the value
    ['a=x\\,y', [{ field: 'a', op: '=', value: 'x,y' }]],
    ['a=x\\\\y', [{ field: 'a', op: '=', value: 'x\\y' }]],
    ['a=x\\,y,b=z', [{ field: 'a', op: '=', value: 'x,y' }, { field: 'b', op: '=', value: 'z' }]],
    // empty terms are skipped
    ['a=b,,', [{ field: 'a', op: '=', value: 'b' }]],
    [',a=b', [{ field: 'a', op: '=', value: 'b' }]],
    // the field name is taken verbatim: no trimming, no unescaping
    [' a = b', [{ field: ' a ', op: '=', value: ' b' }]],
    ['=x', [{ field: '', op: '=', value: 'x' }]],
  ];
  for (const [input, requirements] of cases) {
    it(JSON.stringify(input), () => {
      assert.deepEqual(parseFieldSelector(input).requirements, requirements);
    });
  }
});

describe('parseFieldSelector: errors', () => {
  const cases: [input: string, message: string][] = [
    ['a', "invalid selector: 'a'; can't understand 'a'"],
    ['a=b,c', "invalid selector: 'a=b,c'; can't understand 'c'"],
    [' ', "invalid selector: ' '; can't understand ' '"],
    ['a===b', 'invalid field selector: unescaped character in value: 61'],
    ['a=b=c', 'invalid field selector: unescaped character in value: 61'],
    ['a!==b', 'invalid field selector: unescaped character in value: 61'],
    ['a=b\\x', 'invalid field selector: invalid escape sequence: \\x'],
    ['a=b\\!', 'invalid field selector: invalid escape sequence: \\!'],
    ['a=b\\', 'invalid field selector: invalid escape sequence: \\'],
  ];
  for (const [input, message] of cases) {
    it(JSON.stringify(input), () => assertBadRequest(() => parseFieldSelector(input), message));
  }
});

describe('FieldSelector', () => {
  const matchCases: [selector: string, obj: unknown, matches: boolean][] = [
    ['', pod, true],
    ['metadata.name=web-1', pod, true],
    ['metadata.name==web-1', pod, true],
    ['metadata.name=web-2', pod, false],
    ['metadata.name!=web-2', pod, true],
    ['metadata.name!=web-1', pod, false],
    ['spec.nodeName=node-a,status.phase=Running', pod, true],
    ['spec.nodeName=node-a,status.phase!=Running', pod, false],
    // an unset field reads as ""
    ['spec.nodeName=', unscheduled, true],
    ['spec.nodeName!=', unscheduled, false],
    ['spec.nodeName!=', pod, true],
    ['metadata.name=web\\,2\\=x', unscheduled, true],
  ];
  for (const [selector, obj, matches] of matchCases) {
    it(`${JSON.stringify(selector)} ${matches ? 'matches' : 'does not match'}`, () => {
      const s = parseFieldSelector(selector);
      s.validate(podFields);
      assert.equal(s.matches(obj, podFields), matches);
    });
  }

  it('empty() tells whether there is any requirement', () => {
    assert.equal(parseFieldSelector('').empty(), true);
    assert.equal(parseFieldSelector('a=b').empty(), false);
  });

  it('validate() rejects a field the kind does not support', () => {
    assertBadRequest(() => parseFieldSelector('spec.foo=bar').validate(podFields), 'field label not supported: spec.foo');
  });

  it('validate() reports the first unsupported field in sorted order', () => {
    assertBadRequest(() => parseFieldSelector('zz=1,metadata.name=a,bb=2').validate(podFields), 'field label not supported: bb');
  });

  it('validate() does not trim: a spaced field name is unsupported', () => {
    assertBadRequest(() => parseFieldSelector('metadata.name =a').validate(podFields), 'field label not supported: metadata.name ');
  });

  it('validate() does not look at prototype keys', () => {
    assertBadRequest(() => parseFieldSelector('toString=x').validate(podFields), 'field label not supported: toString');
  });

  it('exact() returns the value pinned with = or ==, the first in sorted order', () => {
    assert.equal(parseFieldSelector('metadata.name=web-1').exact('metadata.name'), 'web-1');
    assert.equal(parseFieldSelector('metadata.name==web-1').exact('metadata.name'), 'web-1');
    assert.equal(parseFieldSelector('metadata.name!=web-1').exact('metadata.name'), undefined);
    assert.equal(parseFieldSelector('status.phase=Running').exact('metadata.name'), undefined);
    assert.equal(parseFieldSelector('metadata.name=b,metadata.name=a').exact('metadata.name'), 'a');
  });
});

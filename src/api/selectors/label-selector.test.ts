import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fromLabelSelector, formatLabels, parseLabelSelector, Selector } from './label-selector.js';
import { ApiError } from '../status.js';

/** Asserts that `fn` throws a 400 ApiError whose message is `message` (string) or matches it (RegExp). */
function assertBadRequest(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ApiError, `expected ApiError, got ${String(e)}`);
    assert.equal(e.code, 400);
    assert.equal(e.reason, 'BadRequest');
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

describe('parseLabelSelector: canonical text', () => {
  const cases: [input: string, canonical: string][] = [
    ['', ''],
    ['   ', ''],
    ['a=b', 'a=b'],
    ['a==b', 'a==b'],
    ['a!=b', 'a!=b'],
    ['a', 'a'],
    ['!a', '!a'],
    ['a in (c,b)', 'a in (b,c)'],
    ['a notin (z,y,x)', 'a notin (x,y,z)'],
    ['a in (x,x,y)', 'a in (x,y)'],
    ['a in (b)', 'a in (b)'],
    ['a>1', 'a>1'],
    ['a<5', 'a<5'],
    ['z=1,a=2,m', 'a=2,m,z=1'],
    [' a = b , c != d ', 'a=b,c!=d'],
    ['x=', 'x='],
    ['x==', 'x=='],
    ['x in ()', 'x in ()'],
    ['x in (,a)', 'x in (,a)'],
    ['x in (a,,b)', 'x in (,a,b)'],
    ['x in (a,)', 'x in (,a)'],
    ['in=notin', 'in=notin'],
    ['x in (in,notin)', 'x in (in,notin)'],
    ['example.com/app=web', 'example.com/app=web'],
    ['a\tin\n(b)', 'a in (b)'],
    ['!a,b', '!a,b'],
    ['b=1,a=1,b!=2', 'a=1,b=1,b!=2'],
  ];
  for (const [input, canonical] of cases) {
    it(`${JSON.stringify(input)} -> ${JSON.stringify(canonical)}`, () => {
      assert.equal(parseLabelSelector(input).toString(), canonical);
    });
  }

  it('undefined is the empty selector that matches everything', () => {
    const s = parseLabelSelector(undefined);
    assert.equal(s.empty(), true);
    assert.equal(s.matches({}), true);
    assert.equal(s.matches(undefined), true);
  });

  it('keeps the operator and values it parsed', () => {
    assert.deepEqual(parseLabelSelector('b in (y,x),a').requirements, [
      { key: 'a', op: 'exists', values: [] },
      { key: 'b', op: 'in', values: ['x', 'y'] },
    ]);
    assert.deepEqual(parseLabelSelector('k>7').requirements, [{ key: 'k', op: 'gt', values: ['7'] }]);
  });
});

describe('parseLabelSelector: matching', () => {
  const cases: [selector: string, labels: Record<string, string> | undefined, matches: boolean][] = [
    ['a=b', { a: 'b' }, true],
    ['a=b', { a: 'c' }, false],
    ['a=b', {}, false],
    ['a==b', { a: 'b' }, true],
    ['a!=b', { a: 'b' }, false],
    ['a!=b', { a: 'c' }, true],
    ['a!=b', {}, true],
    ['a=', { a: '' }, true],
    ['a=', {}, false],
    ['a', { a: '' }, true],
    ['a', { b: 'x' }, false],
    ['!a', { b: 'x' }, true],
    ['!a', { a: 'x' }, false],
    ['a in (x,y)', { a: 'y' }, true],
    ['a in (x,y)', { a: 'z' }, false],
    ['a in (x,y)', {}, false],
    ['a notin (x,y)', { a: 'x' }, false],
    ['a notin (x,y)', { a: 'z' }, true],
    ['a notin (x,y)', {}, true],
    ['a in ()', { a: '' }, true],
    ['a>5', { a: '6' }, true],
    ['a>5', { a: '5' }, false],
    ['a>5', {}, false],
    ['a<5', { a: '4' }, true],
    ['a<5', { a: '-10' }, true],
    ['a<5', { a: '+3' }, true],
    ['a<1', { a: '' }, false],
    ['a<10', { a: '0x1' }, false],
    ['a<10', { a: '1e0' }, false],
    ['a<10', { a: '1.0' }, false],
    ['a<10', { a: ' 1' }, false],
    ['a>1', { a: '99999999999999999999' }, false],
    ['a>9007199254740992', { a: '9007199254740993' }, true],
    ['a=b,c', { a: 'b', c: '' }, true],
    ['a=b,c', { a: 'b' }, false],
    ['toString', {}, false],
    ['!constructor', {}, true],
    ['', undefined, true],
  ];
  for (const [selector, labels, matches] of cases) {
    it(`${JSON.stringify(selector)} ${matches ? 'matches' : 'does not match'} ${JSON.stringify(labels)}`, () => {
      assert.equal(parseLabelSelector(selector).matches(labels), matches);
    });
  }
});

describe('parseLabelSelector: errors are 400 with upstream wording', () => {
  const cases: [input: string, message: string | RegExp][] = [
    ['a b', "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"],
    ['a=b,', "found '', expected: identifier after ','"],
    [',a=b', "found ',', expected: !, identifier, or 'end of string'"],
    ['a=b c', "found 'c', expected: ',' or 'end of string'"],
    ['a=b=c', "found '=', expected: ',' or 'end of string'"],
    ['!a=b', "found '=', expected: ',' or 'end of string'"],
    ['a in b', "unable to parse requirement: found 'b' expected: '('"],
    ['a in', "unable to parse requirement: found '' expected: '('"],
    ['a in (b', "unable to parse requirement: found '', expected: ',' or ')'"],
    ['a in (b c)', "unable to parse requirement: found 'c', expected: ',' or ')'"],
    ['a in (=)', "unable to parse requirement: found '=', expected: ',', ')' or identifier"],
    ['a=(b)', "unable to parse requirement: found '(', expected: identifier"],
    ['a gt 1', "unable to parse requirement: found 'gt', expected: in, notin, =, ==, !=, gt, lt"],
    ['a>b', `unable to parse requirement: values[0]: Invalid value: "b": for 'Gt', 'Lt' operators, the value must be an integer`],
    ['a>', `unable to parse requirement: values[0]: Invalid value: "": for 'Gt', 'Lt' operators, the value must be an integer`],
    ['a>99999999999999999999', `unable to parse requirement: values[0]: Invalid value: "99999999999999999999": for 'Gt', 'Lt' operators, the value must be an integer`],
    ['a>-1', /^unable to parse requirement: values\[0\]\[a\]: Invalid value: "-1": a valid label must be an empty string or consist of alphanumeric characters/],
    ['-a=b', /^unable to parse requirement: <nil>: Invalid value: "-a": name part must consist of alphanumeric characters/],
    ['a/b/c', /^unable to parse requirement: <nil>: Invalid value: "a\/b\/c": a qualified name must consist of/],
    ['a=-b', /^unable to parse requirement: values\[0\]\[a\]: Invalid value: "-b": a valid label must be an empty string/],
    ['a in (-x,-y)', /^unable to parse requirement: \[values\[0\]\[a\]: Invalid value: "-x": .*, values\[1\]\[a\]: Invalid value: "-y": .*\]$/],
    [`a=${'x'.repeat(64)}`, /^unable to parse requirement: values\[0\]\[a\]: Invalid value: "x{64}": must be no more than 63 characters$/],
    ['a<>1', "unable to parse requirement: found '>', expected: identifier"],
    ['!', "unable to parse requirement: found '', expected: identifier"],
    ['a!b', "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"],
  ];
  for (const [input, message] of cases) {
    it(JSON.stringify(input), () => assertBadRequest(() => parseLabelSelector(input), message));
  }
});

describe('Selector', () => {
  it('nothing() matches nothing, even empty labels', () => {
    const s = Selector.nothing();
    assert.equal(s.matches({}), false);
    assert.equal(s.matches({ a: 'b' }), false);
    assert.equal(s.empty(), false);
  });

  it('everything() matches anything and prints empty', () => {
    const s = Selector.everything();
    assert.equal(s.matches({ a: 'b' }), true);
    assert.equal(s.toString(), '');
    assert.equal(s.empty(), true);
  });
});

describe('fromLabelSelector', () => {
  it('a missing selector matches nothing', () => {
    assert.equal(fromLabelSelector(undefined).matches({}), false);
    assert.equal(fromLabelSelector(null).matches({ a: 'b' }), false);
  });

  it('an empty selector matches everything', () => {
    const s = fromLabelSelector({});
    assert.equal(s.empty(), true);
    assert.equal(s.matches({}), true);
    assert.equal(s.matches({ x: 'y' }), true);
    assert.equal(fromLabelSelector({ matchLabels: {}, matchExpressions: [] }).matches({ x: 'y' }), true);
  });

  const cases: [name: string, sel: Parameters<typeof fromLabelSelector>[0], canonical: string, yes: Record<string, string>, no: Record<string, string>][] = [
    ['matchLabels sorted by key', { matchLabels: { tier: 'web', app: 'nginx' } }, 'app=nginx,tier=web', { app: 'nginx', tier: 'web', x: 'y' }, { app: 'nginx' }],
    ['In', { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'dev'] }] }, 'env in (dev,prod)', { env: 'dev' }, { env: 'qa' }],
    ['NotIn', { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }, 'env notin (prod)', {}, { env: 'prod' }],
    ['Exists', { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }, 'gpu', { gpu: '' }, {}],
    ['DoesNotExist', { matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }, '!gpu', {}, { gpu: 'x' }],
    [
      'labels and expressions together, all by key',
      { matchLabels: { b: '1' }, matchExpressions: [{ key: 'a', operator: 'Exists' }, { key: 'c', operator: 'In', values: ['2'] }] },
      'a,b=1,c in (2)', { a: 'x', b: '1', c: '2' }, { a: 'x', b: '1', c: '3' },
    ],
  ];
  for (const [name, sel, canonical, yes, no] of cases) {
    it(name, () => {
      const s = fromLabelSelector(sel);
      assert.equal(s.toString(), canonical);
      assert.equal(s.matches(yes), true);
      assert.equal(s.matches(no), false);
    });
  }

  const bad: [name: string, sel: Parameters<typeof fromLabelSelector>[0], message: string | RegExp][] = [
    ['unknown operator', { matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] }, '"Gt" is not a valid label selector operator'],
    ['In without values', { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }, "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"],
    ['Exists with values', { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }, 'values: Invalid value: ["x"]: values set must be empty for exists and does not exist'],
    ['invalid key', { matchLabels: { 'a b': 'c' } }, /^key: Invalid value: "a b": name part must consist of alphanumeric characters/],
    ['invalid value', { matchLabels: { a: 'b c' } }, /^values\[0\]\[a\]: Invalid value: "b c": a valid label must be an empty string/],
  ];
  for (const [name, sel, message] of bad) {
    it(`rejects ${name} with a 400`, () => assertBadRequest(() => fromLabelSelector(sel), message));
  }
});

describe('formatLabels', () => {
  const cases: [labels: Record<string, string> | undefined, text: string][] = [
    [undefined, '<none>'],
    [{}, '<none>'],
    [{ b: '2', a: '1' }, 'a=1,b=2'],
    [{ 'app.kubernetes.io/name': 'x' }, 'app.kubernetes.io/name=x'],
  ];
  for (const [labels, text] of cases) {
    it(`${JSON.stringify(labels)} -> ${text}`, () => assert.equal(formatLabels(labels), text));
  }
});

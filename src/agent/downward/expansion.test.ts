import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { expandSubPathExpr } from './container-env.js';
import { expand, mappingFor } from './expansion.js';

test('$(VAR) expansion as upstream', () => {
  const vars = new Map([['VAR_A', 'A'], ['VAR_B', 'B'], ['EMPTY', '']]);
  const map = mappingFor(vars);
  const cases: [string, string][] = [
    ['$(VAR_A)', 'A'],
    ['___$(VAR_A)___', '___A___'],
    ['$(VAR_A)-$(VAR_B)', 'A-B'],
    ['$(UNKNOWN)', '$(UNKNOWN)'],
    ['$$(VAR_A)', '$(VAR_A)'],
    ['$$$(VAR_A)', '$A'],
    ['$(VAR_A', '$(VAR_A'],
    ['$VAR_A', '$VAR_A'],
    ['trailing $', 'trailing $'],
    ['$(EMPTY)x', 'x'],
    ['$()', '$()'],
    ['', ''],
  ];
  for (const [input, want] of cases) assert.equal(expand(input, map), want, input);
});

test('subPathExpr needs every variable set and non-empty', () => {
  const env = new Map([['POD_NAME', 'web-0'], ['EMPTY', '']]);
  assert.equal(expandSubPathExpr('logs/$(POD_NAME)', env), 'logs/web-0');
  assert.throws(() => expandSubPathExpr('$(NOPE)/$(EMPTY)/$(POD_NAME)', env), { message: 'missing value for EMPTY, NOPE' });
});

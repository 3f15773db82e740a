import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  isCIdentifier, isConfigMapKey, isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, isEnvVarName, isQualifiedName,
  isValidLabelValue, isValidPortName, isValidPortNum,
} from './names.js';

const labelFmt = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const subdomainFmt = `${labelFmt}(\\.${labelFmt})*`;
const qualifiedFmt = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';

const dns1123LabelMsg = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '" + labelFmt + "')";
const dns1123SubdomainMsg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '" + subdomainFmt + "')";
const dns1035LabelMsg = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const qualifiedNameMsg = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '" + qualifiedFmt + "')";
const qualifiedWholeMsg = `a qualified name ${qualifiedNameMsg} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`;
const labelValueMsg = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(" + qualifiedFmt + ")?')";
const maxLen = (n: number): string => `must be no more than ${n} characters`;

function table(name: string, fn: (v: string) => string[], cases: [input: string, errors: string[]][]): void {
  describe(name, () => {
    for (const [input, errors] of cases) {
      const shown = input.length > 20 ? `${JSON.stringify(input.slice(0, 12))}… (${input.length} chars)` : JSON.stringify(input);
      it(`${shown} -> ${errors.length === 0 ? 'valid' : errors.length + ' error(s)'}`, () => assert.deepEqual(fn(input), errors));
    }
  });
}

table('isDNS1123Label', isDNS1123Label, [
  ['my-name', []],
  ['123-abc', []],
  ['a', []],
  ['a'.repeat(63), []],
  ['', [dns1123LabelMsg]],
  ['A', [dns1123LabelMsg]],
  ['-a', [dns1123LabelMsg]],
  ['a-', [dns1123LabelMsg]],
  ['a_b', [dns1123LabelMsg]],
  ['a.b', ['must not contain dots']],
  ['a'.repeat(64), [maxLen(63)]],
  [`a.${'b'.repeat(63)}`, [maxLen(63), 'must not contain dots']],
  // lengths are UTF-8 bytes, as Go's len()
  ['é'.repeat(32), [maxLen(63), dns1123LabelMsg]],
]);

table('isDNS1123Subdomain', isDNS1123Subdomain, [
  ['example.com', []],
  ['a', []],
  ['a-b.c-d', []],
  ['', [dns1123SubdomainMsg]],
  ['Example.com', [dns1123SubdomainMsg]],
  ['a..b', [dns1123SubdomainMsg]],
  ['.a', [dns1123SubdomainMsg]],
  ['a.', [dns1123SubdomainMsg]],
  ['a'.repeat(253), []],
  ['a'.repeat(254), [maxLen(253)]],
]);

table('isDNS1035Label', isDNS1035Label, [
  ['abc-123', []],
  ['1abc', [dns1035LabelMsg]],
  ['a'.repeat(64), [maxLen(63)]],
]);

table('isQualifiedName', isQualifiedName, [
  ['MyName', []],
  ['my.name', []],
  ['123-abc', []],
  ['a', []],
  ['example.com/MyName', []],
  ['app.kubernetes.io/name', []],
  ['', ['name part must be non-empty', `name part ${qualifiedNameMsg}`]],
  ['a/', ['name part must be non-empty', `name part ${qualifiedNameMsg}`]],
  ['/a', ['prefix part must be non-empty']],
  ['-a', [`name part ${qualifiedNameMsg}`]],
  ['a_', [`name part ${qualifiedNameMsg}`]],
  ['a b', [`name part ${qualifiedNameMsg}`]],
  ['a'.repeat(63), []],
  ['a'.repeat(64), [`name part ${maxLen(63)}`]],
  ['Bad.Prefix/a', [`prefix part ${dns1123SubdomainMsg}`]],
  [`${'a'.repeat(254)}/a`, [`prefix part ${maxLen(253)}`]],
  ['a/b/c', [qualifiedWholeMsg]],
]);

table('isValidLabelValue', isValidLabelValue, [
  ['', []],
  ['MyValue', []],
  ['my_value', []],
  ['12345', []],
  ['a.b-c_d', []],
  ['-a', [labelValueMsg]],
  ['a-', [labelValueMsg]],
  ['a b', [labelValueMsg]],
  ['a/b', [labelValueMsg]],
  ['a'.repeat(63), []],
  ['a'.repeat(64), [maxLen(63)]],
  ['é'.repeat(40), [maxLen(63), labelValueMsg]],
]);

table('isConfigMapKey', isConfigMapKey, [
  ['key.name', []],
  ['KEY_NAME', []],
  ['.', ["must not be '.'"]],
  ['..', ["must not be '..'"]],
  ['..a', ["must not start with '..'"]],
  ['a b', ["a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]],
]);

table('isEnvVarName', isEnvVarName, [
  ['MY_ENV.NAME', []],
  ['my.env-name', []],
  ['1A', ["a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"]],
  ['..', ["must not be '..'"]],
]);

table('isCIdentifier', isCIdentifier, [
  ['my_name', []],
  ['_x1', []],
  ['1x', ["a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName', regex used for validation is '[A-Za-z_][A-Za-z0-9_]*')"]],
]);

table('isValidPortName', isValidPortName, [
  ['http', []],
  ['web-80', []],
  ['80', ['must contain at least one letter (a-z)']],
  ['a--b', ['must not contain consecutive hyphens']],
  ['-a', ['must not begin or end with a hyphen']],
  ['HTTP', ['must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)', 'must contain at least one letter (a-z)']],
  ['a'.repeat(16), [maxLen(15)]],
]);

describe('isValidPortNum', () => {
  const cases: [port: number, errors: string[]][] = [
    [1, []],
    [65535, []],
    [0, ['must be between 1 and 65535, inclusive']],
    [65536, ['must be between 1 and 65535, inclusive']],
    [1.5, ['must be between 1 and 65535, inclusive']],
  ];
  for (const [port, errors] of cases) it(String(port), () => assert.deepEqual(isValidPortNum(port), errors));
});

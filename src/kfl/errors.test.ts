import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../test/support/paths.js';
import { compile, formatKflError, KflError, kflErrorCodes, kflWarningCodes, type CompileOptions } from './index.js';

function errorOf(query: string, opts?: CompileOptions): KflError {
  try {
    compile(query, opts);
  } catch (err) {
    assert.ok(err instanceof KflError, `expected a KflError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(query)} to fail`);
}

// [query, code, start, end, line, column]
const cases: [string, string, number, number, number, number, CompileOptions?][] = [
  ['(http and dns', 'kfl.unbalanced_paren', 0, 1, 1, 1],
  ['http)', 'kfl.unbalanced_paren', 4, 5, 1, 5],
  ['request.headers["a"', 'kfl.unbalanced_paren', 15, 16, 1, 16],
  ['http and', 'kfl.expected_value', 8, 8, 1, 9],
  ['response.status ==', 'kfl.expected_value', 18, 18, 1, 19],
  ['http or or dns', 'kfl.expected_value', 8, 10, 1, 9],
  ['http and foo(1)', 'kfl.unknown_function', 9, 12, 1, 10],
  ['request.path.begins("/")', 'kfl.unknown_function', 13, 19, 1, 14],
  ['request.path == r"a("', 'kfl.bad_regex', 16, 21, 1, 17],
  ['request.path.matches("[")', 'kfl.bad_regex', 21, 24, 1, 22],
  ['request.path == "/api', 'kfl.unterminated_string', 16, 21, 1, 17],
  ["request.path == r'x", 'kfl.unterminated_string', 16, 19, 1, 17],
  ['(((http)))', 'kfl.too_deep', 2, 3, 1, 3, { limits: { maxDepth: 2 } }],
  ['not not not http', 'kfl.too_deep', 8, 11, 1, 9, { limits: { maxDepth: 2 } }],
  ['http # x', 'kfl.unexpected_character', 5, 6, 1, 6],
  ['a = 1', 'kfl.unexpected_character', 2, 3, 1, 3],
  ['a & b', 'kfl.unexpected_character', 2, 3, 1, 3],
  ['seconds()', 'kfl.argument_count', 0, 9, 1, 1],
  ['request.path.startsWith("a", "b")', 'kfl.argument_count', 0, 33, 1, 1],
  ['timestamp > seconds("a")', 'kfl.argument_type', 20, 23, 1, 21],
  ['request.path.startsWith(r"x")', 'kfl.argument_type', 24, 28, 1, 25],
  ['limit(-1)', 'kfl.argument_type', 6, 8, 1, 7],
  ['timestamp > datetime("2021-10-28")', 'kfl.bad_datetime', 21, 33, 1, 22],
  ['timestamp > datetime("2/30/2021, 1:00:00.000 PM")', 'kfl.bad_datetime', 21, 48, 1, 22],
  ['timestamp > timestamp("yesterday")', 'kfl.bad_timestamp', 22, 33, 1, 23],
  ['http or limit(3)', 'kfl.directive_misplaced', 8, 16, 1, 9],
  ['not redact("a")', 'kfl.directive_misplaced', 4, 15, 1, 5],
  ['limit(1) and http and limit(2)', 'kfl.directive_repeated', 22, 30, 1, 23],
  ['redact("a..b")', 'kfl.bad_redact_path', 7, 13, 1, 8],
  ['http and d', 'kfl.query_too_long', 9, 10, 1, 10, { limits: { maxQueryLength: 9 } }],
  ['a == b and c', 'kfl.too_many_tokens', 7, 10, 1, 8, { limits: { maxTokens: 3 } }],
  ['"\\q"', 'kfl.bad_escape', 1, 3, 1, 2],
  ['"\\u12"', 'kfl.bad_escape', 1, 6, 1, 2],
  ['status == 42abc', 'kfl.bad_number', 10, 15, 1, 11],
  ['a[true]', 'kfl.bad_index', 2, 6, 1, 3],
  ['a[1.5]', 'kfl.bad_index', 2, 5, 1, 3],
  ['a < r"x"', 'kfl.regex_operator', 2, 3, 1, 3],
  ['r"x" and http', 'kfl.regex_operator', 0, 4, 1, 1],
  ['http dns', 'kfl.unexpected_token', 5, 8, 1, 6],
  ['a == b == c', 'kfl.unexpected_token', 7, 9, 1, 8],
  ['request.', 'kfl.unexpected_token', 8, 8, 1, 9],
  ['http and\n  foo()', 'kfl.unknown_function', 11, 14, 2, 3],
  ['mine', 'kfl.macro_cycle', 0, 4, 1, 1, { macros: { mine: 'theirs', theirs: 'mine' } }],
  ['bad', 'kfl.macro_invalid', 0, 0, 1, 1, { macros: { bad: '   ' } }],
];

describe('every error has its code and exact span', () => {
  for (const [query, code, start, end, line, column, opts] of cases) {
    test(`${JSON.stringify(query)} → ${code}`, () => {
      const err = errorOf(query, opts);
      assert.equal(err.code, code, err.message);
      assert.deepEqual(err.span, { start, end, line, column });
    });
  }

  test('the table covers every code in the catalogue', () => {
    const covered = new Set(cases.map((c) => c[1]));
    assert.deepEqual(Object.keys(kflErrorCodes).filter((c) => !covered.has(c)), []);
  });
});

describe('depth and length limits hold exactly at their edge', () => {
  test('64 nested parentheses compile, 65 do not (default maxDepth 64)', () => {
    assert.equal(compile('('.repeat(64) + 'http' + ')'.repeat(64)).normalized, 'protocol.name == "http"');
    const err = errorOf('('.repeat(65) + 'http' + ')'.repeat(65));
    assert.equal(err.code, 'kfl.too_deep');
    assert.deepEqual(err.span, { start: 64, end: 65, line: 1, column: 65 });
  });

  test('a query of exactly maxQueryLength characters compiles', () => {
    const q = 'http or ' + 'x'.repeat(16 * 1024 - 8);
    assert.equal(q.length, 16 * 1024);
    assert.doesNotThrow(() => compile(q));
    assert.equal(errorOf(q + 'y').code, 'kfl.query_too_long');
  });

  test('exactly maxTokens tokens compile, one more does not', () => {
    assert.doesNotThrow(() => compile('a == b', { limits: { maxTokens: 3 } }));
    // 4096 tokens: 2048 names joined by 2047 `or`s is 4095, plus `not` makes 4096.
    const names = Array.from({ length: 2048 }, () => 'a').join(' or ');
    assert.doesNotThrow(() => compile('not ' + names));
    assert.equal(errorOf('not not ' + names).code, 'kfl.too_many_tokens');
  });

  test('a long flat chain of `and` is not nesting', () => {
    const q = Array.from({ length: 1000 }, (_, i) => `a == ${i}`).join(' and ');
    assert.doesNotThrow(() => compile(q));
  });
});

describe('formatKflError', () => {
  test('draws a caret under the span', () => {
    const err = errorOf('http and foo(1)');
    assert.equal(
      formatKflError('http and foo(1)', err),
      ['line 1, col 10: kfl.unknown_function: unknown function \'foo\'', '  http and foo(1)', '           ^^^'].join('\n'),
    );
  });

  test('a span at the end of the query gets one caret after the last character', () => {
    const err = errorOf('response.status ==');
    assert.equal(formatKflError('response.status ==', err).split('\n')[2], '  ' + ' '.repeat(18) + '^');
  });

  test('shows the line of a multi-line query that holds the span', () => {
    const q = 'http and\n  foo()';
    assert.deepEqual(formatKflError(q, errorOf(q)).split('\n').slice(1), ['    foo()', '    ^^^']);
  });

  test('an error inside a macro points into the macro, then at its use', () => {
    const q = 'http and slow';
    const err = errorOf(q, { macros: { slow: 'elapsedTime > ' } });
    assert.equal(err.code, 'kfl.expected_value');
    assert.deepEqual(err.span, { start: 14, end: 14, line: 1, column: 15 });
    assert.equal(err.macro?.name, 'slow');
    assert.deepEqual(err.macro?.usedAt, { start: 9, end: 13, line: 1, column: 10 });
    assert.equal(
      formatKflError(q, err),
      [
        "in macro 'slow' line 1, col 15: kfl.expected_value: expected a value after '>', found the end of the query",
        '  elapsedTime > ',
        '                ^',
        "macro 'slow' used at line 1, col 10:",
        '  http and slow',
        '           ^^^^',
      ].join('\n'),
    );
  });

  test('the JSON form is what the API returns', () => {
    const err = errorOf('http and');
    assert.deepEqual(JSON.parse(JSON.stringify(err)), {
      code: 'kfl.expected_value',
      message: "expected a value after 'and', found the end of the query",
      span: { start: 8, end: 8, line: 1, column: 9 },
    });
  });
});

test('README documents every error and warning code', () => {
  const readme = readFileSync(join(repoRoot, 'src', 'kfl', 'README.md'), 'utf8');
  for (const code of [...Object.keys(kflErrorCodes), ...Object.keys(kflWarningCodes)]) {
    assert.ok(readme.includes('`' + code + '`'), `${code} is not in README.md`);
  }
});

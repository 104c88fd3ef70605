import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from './compiler.js';
import { check } from './checker.js';
import { parse } from './parser.js';
import { compile, KflError } from './index.js';

function generated(query: string): { code: string; constants: unknown[] } {
  return generate(check(query, parse(query)).predicate);
}

describe('no text of the query becomes code', () => {
  const hostile = [
    '"); process.exit(1); ("',
    "'); process.exit(1); ('",
    '\\"); throw 1; //',
    '${process.exit(1)}',
    '`; process.exit(1); `',
    '*/ process.exit(1) /*',
    '\u2028process.exit(1)',
  ];
  for (const s of hostile) {
    test(`string ${JSON.stringify(s)} is a constant, compared literally`, () => {
      const q = `request.path == ${JSON.stringify(s)} or request.headers[${JSON.stringify(s)}] == "x" or request.path.startsWith(${JSON.stringify(s)})`;
      const g = generated(q);
      assert.ok(g.constants.includes(s));
      assert.ok(!g.code.includes('process'), g.code);
      assert.ok(!g.code.includes('exit'), g.code);
      const c = compile(q);
      assert.equal(c.match({ request: { path: s } }), true);
      assert.equal(c.match({ request: { path: 'x' } }), false);
    });
  }

  test('the generated source contains only our own words', () => {
    const q = 'http and request.headers["evil\\\\name"] == r"a\\"b" and src.labels.app == "x" and timestamp > 12345 and response.content.text.json().__proto__.constructor == 1';
    const g = generated(q);
    const words = new Set(g.code.match(/[A-Za-z_$][\w$]*/g));
    const ours = new Set(['use', 'strict', 'const', 'K', 'return', 'function', 'match', 'e', 'null', 'true', 'false',
      'get', 'index', 'header', 'eq', 'eqStr', 'eqNum', 'eqBool', 'rx', 'cmp', 'cmpNum', 'startsWith', 'endsWith', 'contains', 'size', 'json', 'jsonGet', 'add', 'sub', 'neg', 'now', 'mulOrNull',
      'let', 't', 'typeof', 'object', 'isArray', 'hasOwn', 'call', 'undefined']);
    for (const w of words) assert.ok(ours.has(w) || /^c\d+$/.test(w), `'${w}' in generated code`);
    // Numbers of the query are constants too: the only digits are constant and array indexes.
    assert.ok(!g.code.includes('12345'));
  });

  test('__proto__, constructor, prototype in paths are inert', () => {
    const polluted = compile('request.__proto__.polluted == 1 or constructor.prototype == null or request["__proto__"]["x"] == 1');
    assert.equal(polluted.match({ request: {} }), true); // constructor.prototype is null: missing
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(compile('request.constructor == null').match({ request: {} }), true);
    assert.equal(compile('request.hasOwnProperty == null').match({ request: {} }), true);
    assert.equal(compile('request.__proto__ == null').match({ request: {} }), true);
  });

  test('redact() of __proto__ does not touch the prototype', () => {
    const q = compile('redact("request.__proto__", "request.constructor")');
    const out = q.apply({ request: { a: 1 } }) as { request: object };
    assert.deepEqual(out, { request: { a: 1 } });
    assert.equal(Object.getPrototypeOf(out.request), Object.prototype);
    const own = JSON.parse('{"request":{"__proto__":{"x":1}}}');
    const red = compile('redact("request.__proto__")').apply(own) as { request: Record<string, unknown> };
    assert.equal(Object.getOwnPropertyDescriptor(red.request, '__proto__')?.value, '[REDACTED]');
    assert.equal(Object.getPrototypeOf(red.request), Object.prototype);
  });
});

describe('the function is built once per query', () => {
  test('match is the same function on every call and keeps no per-call state that leaks', () => {
    const c = compile('http and response.status == 500');
    const f = c.match;
    assert.equal(typeof f, 'function');
    assert.equal(f({ protocol: { name: 'http' }, response: { status: 500 } }), true);
    assert.equal(f({ protocol: { name: 'http' }, response: { status: 501 } }), false);
    assert.equal(c.match, f);
  });

  test('equal constants share one slot', () => {
    const g = generated('a == "x" or b == "x" or c == 1 or d == 1');
    assert.equal(g.constants.filter((c) => c === 'x').length, 1);
    assert.equal(g.constants.filter((c) => c === 1).length, 1);
  });
});

test('KflError is the only error compile() throws for bad queries', () => {
  assert.throws(() => compile('(('), KflError);
});

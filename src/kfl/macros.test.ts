import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinMacros, compile, KflError } from './index.js';

describe('protocol macros', () => {
  test('each names its protocol.name (tcp/udp: layer4)', () => {
    for (const [name, m] of Object.entries(builtinMacros)) {
      const q = compile(name);
      assert.equal(q.normalized, `protocol.${m.field} == "${m.value}"`);
      assert.equal(q.match({ protocol: { [m.field]: m.value } }), true);
      assert.equal(q.match({ protocol: { [m.field]: m.value + 'x' } }), false);
    }
  });
  test('http is HTTP/1 only: HTTP/2 and gRPC have their own names', () => {
    assert.equal(compile('http').match({ protocol: { name: 'http2' } }), false);
    assert.equal(compile('http2 or grpc').match({ protocol: { name: 'grpc' } }), true);
  });
  test('a macro name followed by a path is a field, not the macro', () => {
    assert.equal(compile('tls.x == 1').normalized, 'tls.x == 1');
  });
});

describe('user macros', () => {
  const macros = { errors: 'response.status >= 500', shop: 'dst.namespace == "shop"', shopErrors: 'errors and shop', http: 'protocol.name == "http" or protocol.name == "http2"' };
  test('expand recursively and keep their grouping', () => {
    const q = compile('shopErrors or dns', { macros });
    // `and` binds tighter than `or`, so the expansion needs no parentheses; reparsing gives the same.
    assert.equal(q.normalized, 'response.status >= 500 and dst.namespace == "shop" or protocol.name == "dns"');
    assert.equal(compile(q.normalized).normalized, q.normalized);
    assert.equal(q.match({ response: { status: 503 }, dst: { namespace: 'shop' } }), true);
    assert.equal(q.match({ response: { status: 503 }, dst: { namespace: 'other' } }), false);
  });
  test('win over the built-in ones', () => {
    assert.equal(compile('http', { macros }).match({ protocol: { name: 'http2' } }), true);
  });
  test('a cycle is an error at the use that closes it', () => {
    try {
      compile('a', { macros: { a: 'http and b', b: 'a' } });
      assert.fail('expected a cycle');
    } catch (err) {
      assert.ok(err instanceof KflError);
      assert.equal(err.code, 'kfl.macro_cycle');
      assert.equal(err.macro?.name, 'b');
      assert.deepEqual(err.span, { start: 0, end: 1, line: 1, column: 1 });
      assert.match(err.message, /a → b → a/);
    }
  });
});

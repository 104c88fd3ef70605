import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, fieldCatalogue, isKnownField } from './index.js';

describe('field catalogue', () => {
  test('has the common, HTTP and DNS fields of DESIGN.md with types', () => {
    const byPath = new Map(fieldCatalogue().map((f) => [f.path, f]));
    assert.equal(byPath.get('src.namespace')?.type, 'string');
    assert.deepEqual(byPath.get('src.namespace')?.protocols, []);
    assert.equal(byPath.get('response.status')?.type, 'number');
    assert.deepEqual(byPath.get('response.status')?.protocols, ['http', 'http2', 'grpc', 'ws']);
    assert.equal(byPath.get('request.questions[].name')?.type, 'string');
    assert.equal(byPath.get('response.answers[].ttl')?.type, 'number');
    for (const f of fieldCatalogue()) assert.ok(f.description.length > 5, f.path);
  });

  test('knows paths per protocol: lists by index, maps by any key', () => {
    assert.equal(isKnownField(['request', 'questions', 0, 'name'], ['dns']), true);
    assert.equal(isKnownField(['request', 'questions', 0, 'name'], ['http']), false);
    assert.equal(isKnownField(['request', 'headers', 'X-Anything'], ['http']), true);
    assert.equal(isKnownField(['src', 'labels', 'app'], null), true);
    assert.equal(isKnownField(['request', 'payload', 'deep', 'x'], ['kafka']), true); // below an `any` field
    assert.equal(isKnownField(['request', 'mystery'], ['someproto']), true); // a protocol it has never heard of
  });
});

describe('unknown-field warnings', () => {
  test('a field of another protocol warns, with its span', () => {
    const q = compile('dns and response.status == 500');
    assert.equal(q.warnings.length, 1);
    assert.equal(q.warnings[0].code, 'kfl.unknown_field');
    assert.deepEqual(q.warnings[0].span, { start: 8, end: 23, line: 1, column: 9 });
    assert.match(q.warnings[0].message, /for dns/);
  });
  test('a typo of a macro suggests it', () => {
    const q = compile('htp');
    assert.match(q.warnings[0].message, /did you mean the macro 'http'/);
  });
  test('known fields, json() paths and any-protocol queries do not warn', () => {
    for (const q of ['http and request.headers["x"] == "y"', 'response.content.text.json().a.b == 1', 'response.status == 500 or response.code == "NXDOMAIN"', 'src.labels.app == "x"']) {
      assert.deepEqual(compile(q).warnings, [], q);
    }
  });
  test('not before a comparison warns', () => {
    const q = compile('not response.status == 500');
    assert.deepEqual(q.warnings.map((w) => [w.code, w.span.start, w.span.end]), [['kfl.not_binds_tighter', 0, 19]]);
  });
});

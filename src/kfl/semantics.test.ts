import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, match } from './index.js';

/** A minimal HTTP entry; `over` replaces top-level fields. */
function http(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'node-a/000000000001-0',
    protocol: { name: 'http', version: '1.1', abbr: 'HTTP', layer4: 'tcp' },
    timestamp: 1_635_455_582_905,
    src: { ip: '10.0.0.1', port: 40000, namespace: 'shop' },
    dst: { ip: '10.0.0.2', port: 8080, namespace: 'shop', name: 'cart' },
    outgoing: false,
    request: { method: 'GET', path: '/api/cart', headers: { accept: 'application/json', 'X-Id': '7' }, queryString: { a: '50', n: 'x' } },
    response: { status: 404, headers: { 'Content-Type': 'text/plain' } },
    ...over,
  };
}

// [rule, query, entry, expected]
const table: [string, string, Record<string, unknown>, boolean][] = [
  ['missing field is null', 'response.missing == null', http(), true],
  ['missing deep path is null', 'a.b.c.d == null', http(), true],
  ['a step into a string is null', 'request.path.x == null', http(), true],
  ['present field is not null', 'response.status != null', http(), true],
  ['present field == null is false', 'response.status == null', http(), false],
  ['missing field != value is true', 'response.missing != "x"', http(), true],
  ['missing field == value is false', 'response.missing == "x"', http(), false],
  ['ordering with a missing field is false (<)', 'response.missing < 400', http(), false],
  ['ordering with a missing field is false (>=)', 'response.missing >= 0', http(), false],
  ['no response at all', 'response.status == 404', http({ response: undefined }), false],
  ['regex on the right', 'request.path == r"^/api"', http(), true],
  ['regex on the left', 'r"^/api" == request.path', http(), true],
  ['regex is unanchored (search)', 'request.path == r"cart"', http(), true],
  ['!= regex negates', 'request.path != r"^/api"', http(), false],
  ['regex never matches null', 'response.missing == r".*"', http(), false],
  ['!= regex on null is true', 'response.missing != r".*"', http(), true],
  ['regex on a number uses its digits', 'response.status == r"^4"', http(), true],
  ['r"4.*" also matches 204 (unanchored, as in Go)', 'response.status == r"4.*"', http({ response: { status: 204 } }), true],
  ['(?i) becomes the i flag', 'request.path == r"(?i)^/API"', http(), true],
  ['list vs scalar: any element', 'tags == "b"', http({ tags: ['a', 'b'] }), true],
  ['list vs scalar: no element', 'tags == "c"', http({ tags: ['a', 'b'] }), false],
  ['list != scalar: no element equal', 'tags != "c"', http({ tags: ['a', 'b'] }), true],
  ['list != scalar: some element equal', 'tags != "a"', http({ tags: ['a', 'b'] }), false],
  ['list ordering: any element', 'codes > 400', http({ codes: [200, 500] }), true],
  ['list regex: any element', 'tags == r"^b"', http({ tags: ['a', 'b'] }), true],
  ['list method: any element', 'tags.startsWith("b")', http({ tags: ['a', 'b'] }), true],
  ['list contains: element equality', 'tags.contains("b")', http({ tags: ['a', 'bb'] }), false],
  ['number == numeric string', 'request.queryString["a"] == 50', http(), true],
  ['numeric string field > number', 'request.queryString["a"] > 42', http(), true],
  ['numeric string field < number', 'request.queryString["a"] < 42', http(), false],
  ['number field == numeric string literal', 'response.status == "404"', http(), true],
  ['number field == "404.0"', 'response.status == "404.0"', http(), true],
  ['non-numeric string vs number ordering is false', 'request.queryString["n"] > 1', http(), false],
  ['two strings == compare as text', 'v == "10.0"', http({ v: '10' }), false],
  ['two numeric strings order as numbers', 'v < "10"', http({ v: '9' }), true],
  ['two other strings order as text', 'v < "b"', http({ v: 'a' }), true],
  ['boolean == "true"', 'outgoing == "false"', http(), true],
  ['boolean == false', 'outgoing == false', http(), true],
  ['header lookup ignores case (exact key absent)', 'request.headers["Accept"] == "application/json"', http(), true],
  ['header lookup ignores case (dotted)', 'request.headers.ACCEPT == "application/json"', http(), true],
  ['header lookup exact key', 'request.headers["X-Id"] == 7', http(), true],
  ['response headers too', 'response.headers["content-type"].startsWith("text/")', http(), true],
  ['other maps are case-sensitive', 'request.queryString["A"] == "50"', http(), false],
  ['and: both', 'http and response.status == 404', http(), true],
  ['and: one false', 'http and response.status == 500', http(), false],
  ['or: one true', 'dns or response.status == 404', http(), true],
  ['&& || ! are and or not', '!dns && (http || dns)', http(), true],
  ['not > comparison: not (a == b)', 'not (response.status == 500)', http(), true],
  ['not binds tighter: (not status) == false', 'not response.status == false', http(), true],
  ['and > or: a or b and c', 'http or dns and false', http(), true],
  ['and > or, the other way', 'dns and false or http', http(), true],
  ['truthiness: present object', 'request and http', http(), true],
  ['truthiness: missing is false', 'request.postData', http(), false],
  ['truthiness: empty string is false', 'v', http({ v: '' }), false],
  ['truthiness: zero is false', 'v', http({ v: 0 }), false],
  ['own properties only: __proto__', 'request.__proto__ == null', http(), true],
  ['own properties only: constructor', 'request["constructor"] == null', http(), true],
  ['own properties only: toString', 'request.toString != null', http(), false],
  ['a list has no length field', 'tags.length == 2', http({ tags: ['a', 'b'] }), false],
  ['index into a list', 'tags[1] == "b"', http({ tags: ['a', 'b'] }), true],
  ['index past the end is null', 'tags[5] == null', http({ tags: ['a', 'b'] }), true],
  ['arithmetic on numeric strings', 'request.queryString["a"] + 1 == 51', http(), true],
  ['arithmetic on text is null', 'request.path + 1 == null', http(), true],
  ['negative numbers', 'v == -3', http({ v: -3 }), true],
  ['an own __proto__ key (from JSON) is a plain key', 'x.__proto__.y == 1', JSON.parse('{"x":{"__proto__":{"y":1}}}'), true],
];

describe('semantics, case by case', () => {
  for (const [rule, query, entry, expected] of table) {
    test(`${rule}: ${query} → ${expected}`, () => {
      assert.equal(compile(query).match(entry), expected);
    });
  }
});

describe('short-circuit', () => {
  test('and stops at the first false operand; or at the first true', () => {
    let reads = 0;
    const entry = http();
    Object.defineProperty(entry, 'probe', { enumerable: true, get: () => (reads++, 1) });
    assert.equal(compile('dns and probe == 1').match(entry), false);
    assert.equal(compile('http or probe == 1').match(entry), true);
    assert.equal(reads, 0);
    assert.equal(compile('http and probe == 1').match(entry), true);
    assert.equal(reads, 1);
  });
});

describe('empty query', () => {
  test('"" and whitespace match every entry', () => {
    for (const q of ['', '   ', '\n\t']) {
      const c = compile(q);
      assert.equal(c.match(http()), true);
      assert.equal(c.match(null), true);
      assert.equal(c.normalized, '');
      assert.deepEqual(c.plan, {});
    }
  });
});

describe('functions and methods', () => {
  const t0 = Date.UTC(2021, 9, 28, 21, 13, 2, 905); // 10/28/2021, 9:13:02.905 PM UTC
  test('datetime() is Kubeshark\'s layout read as UTC', () => {
    assert.equal(compile('timestamp == datetime("10/28/2021, 9:13:02.905 PM")').match({ timestamp: t0 }), true);
    assert.equal(compile('timestamp == datetime("10/28/2021, 12:00:00.000 AM")').match({ timestamp: Date.UTC(2021, 9, 28) }), true);
    assert.equal(compile('timestamp == datetime("10/28/2021, 12:00:00.000 PM")').match({ timestamp: Date.UTC(2021, 9, 28, 12) }), true);
  });
  test('timestamp() reads RFC 3339 with an offset and nine fraction digits', () => {
    assert.equal(compile('timestamp == timestamp("2021-10-28T21:13:02.905Z")').match({ timestamp: t0 }), true);
    assert.equal(compile('timestamp == timestamp("2021-10-28T23:13:02.905+02:00")').match({ timestamp: t0 }), true);
    assert.equal(compile('timestamp == timestamp("2021-10-28T21:13:02.905000000Z")').match({ timestamp: t0 }), true);
  });
  test('durations are in ms and now() comes from opts.now', () => {
    const q = compile('timestamp > now() - hours(1) and timestamp <= now() + seconds(30)', { now: () => t0 });
    assert.equal(q.match({ timestamp: t0 - 3_599_999 }), true);
    assert.equal(q.match({ timestamp: t0 - 3_600_000 }), false);
    assert.equal(q.match({ timestamp: t0 + 30_000 }), true);
    assert.equal(q.match({ timestamp: t0 + 30_001 }), false);
    assert.equal(compile('v == days(1) + minutes(1) + milliseconds(5)').match({ v: 86_460_005 }), true);
  });
  test('startsWith / endsWith / contains / matches / size', () => {
    const e = http();
    assert.equal(compile('request.path.startsWith("/api")').match(e), true);
    assert.equal(compile('request.path.endsWith("cart")').match(e), true);
    assert.equal(compile('request.path.contains("pi/c")').match(e), true);
    assert.equal(compile('request.path.matches(r"^/a.i/")').match(e), true);
    assert.equal(compile('request.path.matches("^/x")').match(e), false);
    assert.equal(compile('request.path.size() == 9').match(e), true);
    assert.equal(compile('request.headers.size() == 2').match(e), true);
    assert.equal(compile('response.status.startsWith("40")').match(e), true);
    assert.equal(compile('response.missing.startsWith("")').match(e), false);
    assert.equal(compile('response.missing.size() == null').match(e), true);
  });
  test('json() parses a body and keeps walking; base64 of JSON too; garbage is null', () => {
    const body = (text: unknown): Record<string, unknown> => ({ response: { content: { text } } });
    const q = compile('response.content.text.json().some.path == "somevalue"');
    assert.equal(q.match(body('{"some":{"path":"somevalue"}}')), true);
    assert.equal(q.match(body(Buffer.from('{"some":{"path":"somevalue"}}').toString('base64'))), true);
    assert.equal(q.match(body('{"some":{"path":"other"}}')), false);
    assert.equal(q.match(body('not json')), false);
    assert.equal(q.match(body(42)), false);
    assert.equal(compile('response.content.text.json().list[1] == 2').match(body('{"list":[1,2]}')), true);
    assert.equal(compile('response.content.text.json() == null').match(body('{')), true);
  });
  test('json().key skips the parse only when the text cannot hold the key', () => {
    const body = (text: unknown): Record<string, unknown> => ({ response: { content: { text } } });
    const q = compile('response.content.text.json().some.path == "somevalue"');
    const original = JSON.parse;
    let parses = 0;
    JSON.parse = ((text: string) => (parses++, original(text))) as typeof JSON.parse;
    try {
      assert.equal(q.match(body('{"other":{"path":"somevalue"}}')), false);
      assert.equal(q.match(body(' \r\n\t{"other":1}')), false);
      assert.equal(parses, 0, 'an object text without "some" and without escapes is not parsed');
      // An escape could spell the key: parsed, and found.
      assert.equal(q.match(body('{"\\u0073ome":{"path":"somevalue"}}')), true);
      assert.equal(q.match(body('{"x":"a\\"b","some":{"path":"somevalue"}}')), true);
      assert.equal(q.match(body('\n {"some":{"path":"somevalue"}}')), true);
      // "some" as a value, a list, or a text that is not an object: parsed as before.
      assert.equal(q.match(body('{"x":"some"}')), false);
      assert.equal(compile('response.content.text.json().some == 1').match(body('[{"some":1}]')), false);
      assert.equal(compile('response.content.text.json().some == 1').match(body(Buffer.from('{"some":1}').toString('base64'))), true);
      // Keys JSON must escape take the ordinary path.
      assert.equal(compile('response.content.text.json()["a\\"b"] == 1').match(body('{"a\\"b":1}')), true);
      assert.equal(compile('response.content.text.json()["tab\\there"] == 1').match(body('{"tab\\there":1}')), true);
      // Base64 of every kind of JSON text still parses; base64 of other bytes is not decoded.
      const b64 = (t: string | Buffer): Record<string, unknown> => body(Buffer.from(t).toString('base64'));
      for (const doc of ['{"some":1}', ' \n{"some":1}', '\t{"some":1}', '\r\n{"some":1}']) {
        assert.equal(compile('response.content.text.json().some == 1').match(b64(doc)), true, JSON.stringify(doc));
      }
      for (const [doc, want] of [['[1,2]', 2], ['"x"', 'x'], ['-1', -1], ['7', 7], ['true', true], ['false', false]] as const) {
        assert.equal(compile(`response.content.text.json() == ${JSON.stringify(want)}`).match(b64(doc)), true, doc);
      }
      assert.equal(compile('response.content.text.json() == null').match(b64('null')), true);
      parses = 0;
      assert.equal(q.match(b64(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))), false);
      assert.equal(q.match(b64('<html>{"some":{"path":"somevalue"}}</html>')), false);
      assert.equal(parses, 0, 'base64 of a PNG or of HTML is neither parsed as it stands nor decoded to be parsed');
      assert.equal(compile('response.content.text.json() == null').match(body('<html></html>')), true);
      assert.equal(compile('response.content.text.json() == null').match(body('')), true);
      assert.equal(parses, 0, 'text that cannot start JSON is not handed to JSON.parse');
      // A key that is a lone surrogate, in a text that holds it raw.
      assert.equal(compile('response.content.text.json()["\\ud800"] == 1').match(body('{"\ud800":1}')), true);
    } finally {
      JSON.parse = original;
    }
  });
  test('json() parses once per entry and call site', () => {
    const original = JSON.parse;
    let parses = 0;
    JSON.parse = ((text: string) => (parses++, original(text))) as typeof JSON.parse;
    try {
      const q = compile('response.content.text.json().a == 1 and response.content.text.json().b == 2');
      const e = { response: { content: { text: '{"a":1,"b":2}' } } };
      assert.equal(q.match(e), true);
      assert.equal(q.match(e), true);
      assert.equal(parses, 2); // one per call site, not per evaluation
    } finally {
      JSON.parse = original;
    }
  });
});

describe('directives', () => {
  test('limit() and redact() are returned, not evaluated', () => {
    const q = compile('http and limit(100) and redact("request.headers.Accept", "response.status")');
    assert.equal(q.limit, 100);
    assert.deepEqual(q.redact, [['request', 'headers', 'Accept'], ['response', 'status']]);
    assert.equal(q.normalized, 'protocol.name == "http"');
    assert.equal(q.match(http()), true);
    assert.equal(q.match({ protocol: { name: 'dns' } }), false);
  });
  test('apply() redacts a copy, header names ignoring case, and leaves the input alone', () => {
    const q = compile('redact("request.headers.Accept", "tags[1]", "no.such.path")');
    const e = http({ tags: ['a', 'b'] });
    const before = JSON.stringify(e);
    const out = q.apply(e) as Record<string, any>;
    assert.equal(out.request.headers.accept, '[REDACTED]');
    assert.equal(out.request.headers['X-Id'], '7');
    assert.deepEqual(out.tags, ['a', '[REDACTED]']);
    assert.equal(out.response, e.response); // untouched parts are shared
    assert.equal(JSON.stringify(e), before);
    assert.equal(q.match(e), true); // a query of only directives matches everything
  });
});

describe('match() for scripts', () => {
  test('compiles once per query and answers like compile()', () => {
    assert.equal(match('http and response.status == 404', http()), true);
    assert.equal(match('http and response.status == 404', http({ response: { status: 200 } })), false);
  });
});

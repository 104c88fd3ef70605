import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, KflError } from './index.js';
import { prng as rng } from '../common/prng.js';

const SEEDS = [
  'http and response.status == 500',
  'dns and request.questions[0].name.endsWith(".cluster.local")',
  'http and request.headers["Accept"] == r"application/json.*"',
  'timestamp < datetime("10/28/2021, 9:13:02.905 PM") and limit(10)',
  'response.content.text.json().some.path == "somevalue" and redact("request.headers.Authorization")',
  '!request.path.startsWith("/actuator") && (src.ip == "10.0.0.1" || dst.port == 53)',
  'timestamp > now() - hours(1) and request.path.matches(r"(?i)^/api") and request.body.size() > 3',
];
const PIECES = ['(', ')', '[', ']', '"', "'", 'r"', '\\', '.', ',', '==', '!=', '<', '>=', '&&', '||', '!', 'and', 'or', 'not', 'http', 'json()', 'limit(', 'redact(', 'now()', '-', '+', '1e308', '0', 'null', '\u00e9', '\ud83d\ude00', '\n', ' ', '#', '=', '__proto__', 'constructor'];

function mutate(r: () => number, s: string): string {
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * (s.length + 1));
    const op = r();
    if (op < 0.4) s = s.slice(0, at) + PIECES[Math.floor(r() * PIECES.length)] + s.slice(at);
    else if (op < 0.7) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 5));
    else if (op < 0.85) s = s.slice(0, at) + s.slice(Math.floor(r() * s.length));
    else s = s.slice(0, at) + String.fromCharCode(Math.floor(r() * 128)) + s.slice(at);
  }
  return s;
}

function randomTokens(r: () => number): string {
  return Array.from({ length: 1 + Math.floor(r() * 20) }, () => PIECES[Math.floor(r() * PIECES.length)]).join(r() < 0.5 ? ' ' : '');
}

function randomValue(r: () => number, depth: number): unknown {
  const x = r();
  if (depth <= 0 || x < 0.3) return [null, true, false, 0, -1, 500, '500', '', 'http', '{"some":{"path":"somevalue"}}', 'eyJhIjoxfQ==', NaN][Math.floor(r() * 12)];
  if (x < 0.5) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth - 1));
  const keys = ['protocol', 'name', 'response', 'status', 'request', 'headers', 'Accept', 'path', 'questions', 'timestamp', 'src', 'ip', 'content', 'text', '__proto__', 'constructor'];
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 5); i > 0; i--) o[keys[Math.floor(r() * keys.length)]] = randomValue(r, depth - 1);
  return o;
}

describe('fuzz', () => {
  test('compile throws only KflError, promptly, on random and mutated queries; match never throws', () => {
    const r = rng(0xf022);
    const entries = Array.from({ length: 40 }, () => randomValue(r, 5));
    entries.push(null, undefined, 42, 'x', [], {});
    let compiled = 0;
    let rejected = 0;
    const codes = new Set<string>();
    for (let i = 0; i < 6000; i++) {
      const query = i % 3 === 0 ? randomTokens(r) : mutate(r, SEEDS[i % SEEDS.length]);
      let q;
      try {
        q = compile(query, { now: () => 1_700_000_000_000 });
      } catch (err) {
        if (!(err instanceof KflError)) assert.fail(`non-KFL error ${String(err)} for ${JSON.stringify(query)}`);
        assert.ok(err.span.start >= 0 && err.span.end >= err.span.start && err.span.end <= query.length, `bad span for ${JSON.stringify(query)}`);
        codes.add(err.code);
        rejected++;
        continue;
      }
      compiled++;
      // The normalised text parses back to itself (the printer and the parser agree).
      if (q.normalized !== '') assert.equal(compile(q.normalized, { now: () => 1_700_000_000_000 }).normalized, q.normalized, JSON.stringify(query));
      for (const e of entries) {
        try {
          assert.equal(typeof q.match(e), 'boolean');
          q.apply(e);
        } catch (err) {
          assert.fail(`match threw ${String(err)} for ${JSON.stringify(query)}`);
        }
      }
    }
    assert.ok(compiled > 500 && rejected > 500, `compiled ${compiled}, rejected ${rejected}`);
    assert.ok(codes.size >= 8, `only ${[...codes].join(', ')}`);
  });

  test('pathological inputs stay within the limits', () => {
    for (const q of ['('.repeat(100_000), 'not '.repeat(10_000) + 'http', 'a' + '.a'.repeat(5000), '"' + '\\'.repeat(9999), 'r"' + 'a'.repeat(16_000), '-'.repeat(5000) + '1']) {
      assert.throws(() => compile(q), KflError);
    }
  });
});

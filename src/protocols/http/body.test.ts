import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { BodyCollector, CODING_BR, CODING_DEFLATE, CODING_GZIP, CODING_NONE, codingOf, isTextMime, utf8Prefix } from './body.js';

const limits = { maxDecodedBytes: 1 << 30 };

function feed(c: BodyCollector, data: Buffer, step: number): void {
  for (let i = 0; i < data.length; i += step) c.write(data, i, Math.min(data.length, i + step));
}

describe('http body collector', () => {
  const text = Buffer.from('All work and no play makes Jack a dull boy. '.repeat(3000)); // 132000 bytes
  const cases: [string, number, Buffer][] = [
    ['gzip', CODING_GZIP, zlib.gzipSync(text)],
    ['deflate', CODING_DEFLATE, zlib.deflateSync(text)],
    ['raw deflate', CODING_DEFLATE, zlib.deflateRawSync(text)],
    ['br', CODING_BR, zlib.brotliCompressSync(text)],
  ];
  for (const [name, coding, wire] of cases) {
    test(`${name}: any input split gives the same prefix and the full size`, () => {
      for (const step of [1, 3, 7, 64, 1000, wire.length]) {
        const c = new BodyCollector(100, coding, 0, limits);
        feed(c, wire, step);
        const r = c.finish(true);
        assert.deepEqual([r.size, r.kept.toString(), r.truncated, r.issues], [text.length, text.subarray(0, 100).toString(), true, null], `step ${step}`);
      }
    });

    test(`${name}: a stream cut short is bad_content_encoding when the body is said complete`, () => {
      const c = new BodyCollector(1 << 20, coding, 0, limits);
      c.write(wire, 0, wire.length - 8);
      assert.deepEqual(c.finish(true).issues, ['http.bad_content_encoding']);
    });
  }

  test('decoders are reused from body to body: after stops at the cap, errors, gaps and disposal, interleaved, each body decodes as zlib alone would', () => {
    const small = Buffer.from('{"ok":true,"items":[1,2,3]}');
    const kinds: [number, (b: Buffer) => Buffer][] = [
      [CODING_GZIP, zlib.gzipSync],
      [CODING_DEFLATE, zlib.deflateSync],
      [CODING_DEFLATE, zlib.deflateRawSync],
      [CODING_BR, zlib.brotliCompressSync],
    ];
    const whole = (coding: number, wire: Buffer, cap = 1 << 20) => {
      const c = new BodyCollector(cap, coding, 0, limits);
      feed(c, wire, 500);
      return c.finish(true);
    };
    for (let round = 0; round < 3; round++) {
      for (const [coding, compress] of kinds) {
        // Stopped at a small cap, then a whole one.
        const cut = whole(coding, compress(text), 50);
        assert.deepEqual([cut.kept.toString(), cut.truncated], [text.subarray(0, 50).toString(), true]);
        const full = whole(coding, compress(small));
        assert.deepEqual([full.kept.toString(), full.size, full.issues], [small.toString(), small.length, null]);
        // A corrupt body (its engine is not kept), then a good one.
        const bad = compress(text);
        bad.fill(0xff, 10, Math.min(bad.length - 4, 40));
        assert.deepEqual(whole(coding, bad).issues, ['http.bad_content_encoding']);
        assert.equal(whole(coding, compress(small)).kept.toString(), small.toString());
        // A gap, a disposed body, then two bodies of the same kind at once.
        const gapped = new BodyCollector(1 << 20, coding, 0, limits);
        gapped.write(compress(text), 0, 30);
        gapped.gap();
        assert.deepEqual(gapped.finish(false).issues, ['tcp.gap']);
        const dropped = new BodyCollector(1 << 20, coding, 0, limits);
        dropped.write(compress(text), 0, 40);
        dropped.dispose();
        const a = new BodyCollector(1 << 20, coding, 0, limits);
        const b = new BodyCollector(1 << 20, coding, 0, limits);
        const wa = compress(text);
        const wb = compress(small);
        for (let i = 0; i < wa.length; i += 97) {
          a.write(wa, i, Math.min(wa.length, i + 97));
          if (i < wb.length) b.write(wb, i, Math.min(wb.length, i + 97));
        }
        assert.equal(b.finish(true).kept.toString(), small.toString());
        const ra = a.finish(true);
        assert.deepEqual([ra.size, ra.kept.equals(text), ra.issues], [text.length, true, null]);
      }
    }
  });

  test('gzip ISIZE read across 1-byte writes is the size (RFC 1952 2.3.1)', () => {
    const wire = zlib.gzipSync(text);
    const c = new BodyCollector(10, CODING_GZIP, 0, limits);
    feed(c, wire, 1);
    assert.equal(c.finish(true).size, 132_000);
  });

  test('a gap stops decoding and marks the body', () => {
    const wire = zlib.gzipSync(text);
    const c = new BodyCollector(1 << 20, CODING_GZIP, 0, limits);
    c.write(wire, 0, 100);
    c.gap();
    c.write(wire, 200, wire.length);
    const r = c.finish(false);
    assert.deepEqual([r.truncated, r.issues], [true, ['tcp.gap']]);
    assert.ok(r.size < text.length);
  });

  test('a body the connection cut short is truncated even when every byte seen was kept', () => {
    // accecn_handshake.pcap of the tcpdump corpus: Content-Length 1000000, 1238 bytes captured.
    const c = new BodyCollector(1 << 16, CODING_NONE, 1_000_000, limits);
    c.write(text, 0, 1238);
    const r = c.finish(false);
    assert.deepEqual([r.size, r.kept.length, r.truncated], [1238, 1238, true]);
  });

  test('content codings and text media types', () => {
    assert.deepEqual(['gzip', 'X-GZIP', ' br ', 'deflate', 'identity', '', 'compress'].map(codingOf), [1, 1, 3, 2, 0, 0, 4]);
    assert.deepEqual(
      ['text/html; charset=utf-8', 'application/problem+json', 'application/json', 'image/svg+xml', 'image/png', 'application/octet-stream'].map(isTextMime),
      [true, true, true, true, false, false],
    );
  });

  test('utf8Prefix drops a character cut in half only when cut', () => {
    const euro = Buffer.from('x€', 'utf8'); // 78 e2 82 ac
    assert.equal(utf8Prefix(euro.subarray(0, 3), true), 'x');
    assert.equal(utf8Prefix(euro, true), 'x€');
    assert.equal(utf8Prefix(euro.subarray(0, 3), false), 'x\ufffd');
  });
});

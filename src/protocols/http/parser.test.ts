import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { sampleConn } from '../conformance.js';
import { chunk, continued, GZ_HELLO, pipelined, T0 } from './samples.js';
import { drive, plain, splits, type Step } from './test-support.js';

const TAG11 = { name: 'http', version: '1.1', abbr: 'HTTP', layer4: 'tcp' };
const TAG10 = { name: 'http', version: '1.0', abbr: 'HTTP', layer4: 'tcp' };
const len = (...parts: (string | Buffer)[]) => parts.reduce((n, p) => n + (typeof p === 'string' ? Buffer.byteLength(p, 'latin1') : p.length), 0);

/** A GET to `/` of host h with no body, for cases where the request is not the point. */
const GET = 'GET / HTTP/1.1\r\nHost: h\r\n\r\n';
const getRecord = {
  method: 'GET',
  url: '/',
  path: '/',
  host: 'h',
  httpVersion: '1.1',
  headers: { Host: 'h' },
  queryString: {},
  cookies: {},
  bodySize: 0,
};

describe('http parser: keep-alive and pipelining', () => {
  test('three pipelined requests pair with their responses in order (FIFO)', () => {
    const r = drive(pipelined);
    assert.deepEqual(r.violations, []);
    assert.deepEqual(r.weirds, []);
    assert.equal(r.confirmed, 1);
    const req1 = 'GET /search?q=caf%C3%A9+au+lait&tag=a&tag=b HTTP/1.1\r\nHost: shop.example\r\nCookie: sid=42; theme=dark\r\nAccept: */*\r\n\r\n';
    const req2 = 'POST /cart HTTP/1.1\r\nHost: shop.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 13\r\n\r\nitem=7&qty=2\n';
    const req3 = 'HEAD /big HTTP/1.1\r\nHost: shop.example\r\n\r\n';
    const resp1 = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nSet-Cookie: sid=43; Path=/; HttpOnly\r\n\r\n{"hits":[]}';
    const resp2Head = 'HTTP/1.1 201 Created\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n';
    const resp2Size = len(resp2Head, '10;name=first\r\n', GZ_HELLO, `\r\n${(GZ_HELLO.length - 16).toString(16)}\r\n`, '\r\n0\r\nX-Checksum: abc\r\n\r\n');
    const resp3 = 'HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nContent-Type: text/html\r\n\r\n';
    const times = { startSec: T0, startNsec: 1000, endSec: T0 + 1, endNsec: 2000 };
    assert.deepEqual(r.items, [
      {
        protocol: TAG11,
        requestSize: len(req1),
        responseSize: len(resp1),
        ...times,
        request: {
          method: 'GET',
          url: '/search?q=caf%C3%A9+au+lait&tag=a&tag=b',
          path: '/search',
          host: 'shop.example',
          httpVersion: '1.1',
          headers: { Host: 'shop.example', Cookie: 'sid=42; theme=dark', Accept: '*/*' },
          queryString: { q: 'café au lait', tag: ['a', 'b'] },
          cookies: { sid: '42', theme: 'dark' },
          bodySize: 0,
        },
        response: {
          status: 200,
          statusText: 'OK',
          httpVersion: '1.1',
          headers: { 'Content-Type': 'application/json', 'Content-Length': '11', 'Set-Cookie': 'sid=43; Path=/; HttpOnly' },
          cookies: { sid: '43' },
          bodySize: 11,
          content: { mimeType: 'application/json', size: 11, text: '{"hits":[]}' },
        },
      },
      {
        protocol: TAG11,
        requestSize: len(req2),
        responseSize: resp2Size,
        ...times,
        request: {
          method: 'POST',
          url: '/cart',
          path: '/cart',
          host: 'shop.example',
          httpVersion: '1.1',
          headers: { Host: 'shop.example', 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': '13' },
          queryString: {},
          cookies: {},
          bodySize: 13,
          postData: { mimeType: 'application/x-www-form-urlencoded', text: 'item=7&qty=2\n' },
        },
        response: {
          status: 201,
          statusText: 'Created',
          httpVersion: '1.1',
          // The trailer field joins the header fields.
          headers: {
            'Content-Type': 'text/plain; charset=utf-8',
            'Content-Encoding': 'gzip',
            'Transfer-Encoding': 'chunked',
            Trailer: 'X-Checksum',
            'X-Checksum': 'abc',
          },
          cookies: {},
          bodySize: 16,
          content: { mimeType: 'text/plain; charset=utf-8', size: 16, text: 'hello gzip world' },
        },
      },
      {
        protocol: TAG11,
        requestSize: len(req3),
        responseSize: len(resp3),
        ...times,
        request: {
          method: 'HEAD',
          url: '/big',
          path: '/big',
          host: 'shop.example',
          httpVersion: '1.1',
          headers: { Host: 'shop.example' },
          queryString: {},
          cookies: {},
          bodySize: 0,
        },
        // A response to HEAD has no body, whatever its Content-Length says.
        response: {
          status: 200,
          statusText: 'OK',
          httpVersion: '1.1',
          headers: { 'Content-Length': '5000', 'Content-Type': 'text/html' },
          cookies: {},
          bodySize: 0,
          content: { mimeType: 'text/html', size: 0, text: '' },
        },
      },
    ]);
  });

  test('every split of the pipelined exchange gives the same items', () => {
    const want = plain(drive(pipelined).items);
    let runs = 0;
    for (const { label, steps } of splits(pipelined)) {
      assert.deepEqual(plain(drive(steps).items), want, label);
      runs++;
    }
    assert.equal(runs, pipelined.reduce((n, c) => n + c.data.length - 1, 1));
  });

  test('a response arriving before its request is complete waits for it', () => {
    const r = drive([
      chunk(0, 'POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nabc'),
      chunk(1, 'HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n'),
      chunk(0, 'def'),
    ]);
    assert.equal(r.items.length, 1);
    assert.equal((r.items[0].request as { bodySize: number }).bodySize, 6);
    assert.equal((r.items[0].response as { status: number }).status, 413);
  });

  test('requests sent on direction 1 (roles guessed wrong) are marked reversed', () => {
    const r = drive([chunk(1, GET), chunk(0, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')]);
    assert.deepEqual(r.violations, []);
    assert.equal(r.items.length, 1);
    assert.equal(r.items[0].reversed, true);
    assert.deepEqual(r.items[0].request, getRecord);
  });

  test('empty lines before a request line are skipped (RFC 9112 2.2)', () => {
    const r = drive([chunk(0, '\r\n' + GET), chunk(1, 'HTTP/1.1 204 No Content\r\n\r\n')]);
    assert.deepEqual(r.items[0].request, getRecord);
  });
});

describe('http parser: bodies and framing', () => {
  test('100-continue: the interim response is skipped, counted into the final size', () => {
    const r = drive(continued);
    assert.deepEqual(r.items, [
      {
        protocol: TAG11,
        requestSize: len('PUT /files/a.txt HTTP/1.1\r\nHost: f\r\nExpect: 100-continue\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n', 'hello'),
        responseSize: len('HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 204 No Content\r\n\r\n'),
        startSec: T0,
        startNsec: 0,
        endSec: T0,
        endNsec: 30,
        request: {
          method: 'PUT',
          url: '/files/a.txt',
          path: '/files/a.txt',
          host: 'f',
          httpVersion: '1.1',
          headers: { Host: 'f', Expect: '100-continue', 'Content-Type': 'text/plain', 'Content-Length': '5' },
          queryString: {},
          cookies: {},
          bodySize: 5,
          postData: { mimeType: 'text/plain', text: 'hello' },
        },
        response: { status: 204, statusText: 'No Content', httpVersion: '1.1', headers: {}, cookies: {}, bodySize: 0, content: { mimeType: '', size: 0, text: '' } },
      },
    ]);
  });

  test('304 and 204 have no body even with Content-Length; the next response follows', () => {
    const r = drive([
      chunk(0, GET + GET + GET),
      chunk(1, 'HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc'),
    ]);
    assert.deepEqual(
      r.items.map((i) => [(i.response as { status: number }).status, (i.response as { bodySize: number }).bodySize, i.responseSize]),
      [
        [304, 0, len('HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n')],
        [204, 0, len('HTTP/1.1 204 No Content\r\n\r\n')],
        [200, 3, len('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc')],
      ],
    );
  });

  test('a response without length runs until close (HTTP/1.0)', () => {
    const r = drive([
      chunk(0, 'GET /old HTTP/1.0\r\n\r\n', T0, 5),
      chunk(1, 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst ', T0, 6),
      chunk(1, 'second', T0, 7),
    ]);
    assert.deepEqual(r.items, [
      {
        protocol: TAG10,
        requestSize: len('GET /old HTTP/1.0\r\n\r\n'),
        responseSize: len('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst second'),
        startSec: T0,
        startNsec: 5,
        endSec: T0,
        endNsec: 7,
        request: { method: 'GET', url: '/old', path: '/old', host: '', httpVersion: '1.0', headers: {}, queryString: {}, cookies: {}, bodySize: 0 },
        response: {
          status: 200,
          statusText: 'OK',
          httpVersion: '1.0',
          headers: { 'Content-Type': 'text/plain' },
          cookies: {},
          bodySize: 12,
          content: { mimeType: 'text/plain', size: 12, text: 'first second' },
        },
      },
    ]);
  });

  test('chunked request body with extensions and trailers', () => {
    const wire = 'POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n4;a=b\r\nWiki\r\n5 ; x\r\npedia\r\n0\r\nX-Sum: 9\r\nX-Sum: 10\r\n\r\n';
    const r = drive([chunk(0, wire), chunk(1, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')]);
    assert.equal(r.items[0].requestSize, len(wire));
    const req = r.items[0].request as Record<string, unknown>;
    assert.equal(req.bodySize, 9);
    assert.deepEqual(req.postData, { mimeType: 'text/plain', text: 'Wikipedia' });
    assert.deepEqual(req.headers, { Host: 'h', 'Transfer-Encoding': 'chunked', 'Content-Type': 'text/plain', 'X-Sum': '9, 10' });
  });

  const codings: [string, Buffer][] = [
    ['gzip', zlib.gzipSync(Buffer.from('{"a":1}'))],
    ['x-gzip', zlib.gzipSync(Buffer.from('{"a":1}'))],
    ['deflate', zlib.deflateSync(Buffer.from('{"a":1}'))], // zlib-wrapped, as RFC 9110 says
    ['deflate', zlib.deflateRawSync(Buffer.from('{"a":1}'))], // raw, as some servers send
    ['br', zlib.brotliCompressSync(Buffer.from('{"a":1}'))],
  ];
  for (const [coding, body] of codings) {
    test(`Content-Encoding ${coding} (${body.subarray(0, 2).toString('hex')}…) is decoded`, () => {
      const head = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: ${coding}\r\nContent-Length: ${body.length}\r\n\r\n`;
      const r = drive([chunk(0, GET), chunk(1, Buffer.concat([Buffer.from(head), body]))]);
      assert.deepEqual(r.weirds, []);
      assert.equal(r.items[0].responseSize, len(head, body));
      const resp = r.items[0].response as Record<string, unknown>;
      assert.equal(resp.bodySize, 7);
      assert.deepEqual(resp.content, { mimeType: 'application/json', size: 7, text: '{"a":1}' });
    });
  }

  test('a corrupt gzip body is an issue, not a throw', () => {
    const bad = Buffer.from(GZ_HELLO);
    bad[12] ^= 0xff; // inside the deflate data
    const head = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\nContent-Length: ${bad.length}\r\n\r\n`;
    const r = drive([chunk(0, GET + GET), chunk(1, Buffer.concat([Buffer.from(head), bad, Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx')]))]);
    assert.deepEqual(r.weirds, ['http.bad_content_encoding']);
    assert.deepEqual(r.items[0].issues, ['http.bad_content_encoding']);
    assert.equal((r.items[0].response as { content: { truncated?: boolean } }).content.truncated, true);
    // The framing is unharmed: the next exchange is read.
    assert.equal((r.items[1].response as { content: { text: string } }).content.text, 'x');
  });

  test('an unknown Content-Encoding keeps the raw bytes as base64', () => {
    const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: zstd\r\nContent-Length: 4\r\n\r\n';
    const r = drive([chunk(0, GET), chunk(1, Buffer.concat([Buffer.from(head), Buffer.from([0x28, 0xb5, 0x2f, 0xfd])]))]);
    assert.deepEqual(r.weirds, ['http.unsupported_content_encoding']);
    const content = (r.items[0].response as { content: unknown }).content;
    assert.deepEqual(content, { mimeType: 'text/plain', size: 4, text: 'KLUv/Q==', encoding: 'base64' });
  });

  test('Transfer-Encoding with Content-Length: chunked wins, the message is marked', () => {
    const r = drive([chunk(0, GET), chunk(1, 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n')]);
    assert.deepEqual(r.items[0].issues, ['http.te_and_cl']);
    assert.equal((r.items[0].response as { bodySize: number }).bodySize, 3);
  });

  test('an invalid Content-Length is an issue; the body then runs until close', () => {
    const r = drive([chunk(0, GET), chunk(1, 'HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcdefg')]);
    assert.deepEqual(r.weirds, ['http.bad_content_length']);
    assert.equal((r.items[0].response as { bodySize: number }).bodySize, 7);
  });
});

describe('http parser: body caps', () => {
  test('text over maxBodyText is cut and marked; size is the whole body', () => {
    const body = 'x'.repeat(100);
    const r = drive([chunk(0, GET), chunk(1, `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n${body}`)], { settings: { maxBodyText: 10 } });
    const resp = r.items[0].response as Record<string, unknown>;
    assert.equal(resp.bodySize, 100);
    assert.deepEqual(resp.content, { mimeType: 'text/plain', size: 100, text: 'xxxxxxxxxx', truncated: true });
  });

  test('a gzip body over the cap: the kept prefix is decoded, the size comes from ISIZE', () => {
    const plainText = Buffer.from('0123456789'.repeat(20_000)); // 200000 bytes
    const gz = zlib.gzipSync(plainText);
    const head = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n\r\n`;
    const r = drive([chunk(0, GET), chunk(1, Buffer.concat([Buffer.from(head), gz]))], { settings: { maxBodyText: 25 } });
    const resp = r.items[0].response as Record<string, unknown>;
    assert.equal(resp.bodySize, 200_000);
    assert.deepEqual(resp.content, { mimeType: 'text/plain', size: 200_000, text: '0123456789012345678901234', truncated: true });
    assert.equal(r.items[0].responseSize, len(head, gz));
  });

  test('a br body over the cap is decoded through to count its size', () => {
    const big = Buffer.from('abcdefghij'.repeat(30_000));
    const br = zlib.brotliCompressSync(big);
    const head = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: br\r\nContent-Length: ${br.length}\r\n\r\n`;
    const r = drive([chunk(0, GET), chunk(1, Buffer.concat([Buffer.from(head), br]))], { settings: { maxBodyText: 4 } });
    assert.deepEqual((r.items[0].response as { content: unknown }).content, { mimeType: 'text/plain', size: 300_000, text: 'abcd', truncated: true });
  });

  test('maxDecodedBytes stops a decompression bomb', () => {
    const bomb = zlib.deflateSync(Buffer.alloc(5_000_000));
    const head = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: deflate\r\nContent-Length: ${bomb.length}\r\n\r\n`;
    const r = drive([chunk(0, GET), chunk(1, Buffer.concat([Buffer.from(head), bomb]))], { limits: { maxDecodedBytes: 100_000 }, settings: { maxBodyText: 8 } });
    assert.deepEqual(r.weirds, ['http.decode_limit']);
    const content = (r.items[0].response as { content: { size: number; truncated: boolean } }).content;
    assert.ok(content.size >= 100_000 && content.size < 200_000, `size ${content.size}`);
    assert.equal(content.truncated, true);
  });

  test('binary bodies are base64, capped too', () => {
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]);
    const head = `HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: ${bytes.length}\r\n\r\n`;
    const r = drive([chunk(0, GET), chunk(1, Buffer.concat([Buffer.from(head), bytes]))], { settings: { maxBodyText: 8 } });
    assert.deepEqual((r.items[0].response as { content: unknown }).content, {
      mimeType: 'image/png',
      size: 12,
      text: bytes.subarray(0, 8).toString('base64'),
      encoding: 'base64',
      truncated: true,
    });
  });

  test('a cut never leaves half a UTF-8 character', () => {
    const r = drive([chunk(0, GET), chunk(1, Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\n'), Buffer.from('aé€', 'utf8')]))], {
      settings: { maxBodyText: 4 },
    });
    // a (1) é (2) € (3): 4 bytes hold a and é and the first byte of €, which is dropped.
    assert.equal((r.items[0].response as { content: { text: string } }).content.text, 'aé');
  });
});

describe('http parser: CONNECT and Upgrade', () => {
  test('CONNECT 200: one entry, then the tunnel is counted, not parsed', () => {
    const hello = Buffer.from('16030100c8010000c40303', 'hex');
    const r = drive([
      chunk(0, Buffer.concat([Buffer.from('CONNECT api.example:443 HTTP/1.1\r\nHost: api.example:443\r\n\r\n'), hello])),
      chunk(1, 'HTTP/1.1 200 Connection Established\r\n\r\n'),
      chunk(1, Buffer.from('160303007a020000760303', 'hex')),
      chunk(0, 'GET / HTTP/1.1\r\n\r\n'), // inside the tunnel: not HTTP to us
    ]);
    assert.deepEqual(r.violations, []);
    assert.equal(r.items.length, 1);
    const req = r.items[0].request as Record<string, unknown>;
    assert.deepEqual([req.method, req.url, req.path, req.host], ['CONNECT', 'api.example:443', 'api.example:443', 'api.example:443']);
    assert.equal((r.items[0].response as { status: number }).status, 200);
    assert.deepEqual(r.parser.tunnelBytes, [hello.length + len('GET / HTTP/1.1\r\n\r\n'), 11]);
  });

  test('101 Switching Protocols to websocket stops HTTP parsing after the pair', () => {
    const r = drive([
      chunk(0, 'GET /chat HTTP/1.1\r\nHost: w\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n'),
      chunk(1, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi'),
      chunk(0, '\x81\x82abcd\x09\x0d'),
    ]);
    assert.equal(r.items.length, 1);
    assert.equal((r.items[0].response as { status: number }).status, 101);
    assert.deepEqual(r.parser.tunnelBytes, [8, 4]);
  });

  test('an Upgrade the server declines: what the client sent meanwhile is parsed as HTTP', () => {
    const r = drive([
      chunk(0, 'GET /a HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n'),
      chunk(1, 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb'),
    ]);
    assert.deepEqual(
      r.items.map((i) => [(i.request as { url: string }).url, (i.response as { content: { text: string } }).content.text]),
      [
        ['/a', 'a'],
        ['/b', 'b'],
      ],
    );
  });
});

describe('http parser: gaps, lone halves, not HTTP', () => {
  test('a gap inside a body: the entry is marked and the next message is read', () => {
    const steps: Step[] = [
      chunk(0, GET + GET),
      chunk(1, 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nabc'),
      { dir: 1, gap: 4 },
      chunk(1, 'hij' + 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
    ];
    const r = drive(steps);
    assert.equal(r.items.length, 2);
    assert.deepEqual(r.items[0].issues, ['tcp.gap']);
    const resp = r.items[0].response as Record<string, unknown>;
    assert.equal(r.items[0].responseSize, len('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n') + 10);
    assert.deepEqual(resp.content, { mimeType: 'text/plain', size: 6, text: 'abchij', truncated: true });
    assert.equal(r.items[1].issues, undefined);
    assert.equal((r.items[1].response as { content: { text: string } }).content.text, 'ok');
  });

  test('a gap in a response head drops it: its request is unpaired, the next pair is right', () => {
    const r = drive([
      chunk(0, 'GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n'),
      chunk(1, 'HTTP/1.1 200 OK\r\nContent-Le'),
      { dir: 1, gap: 10 },
      chunk(1, 'ngth: 1\r\n\r\nxHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'),
    ]);
    assert.deepEqual(r.weirds, ['http.gap_in_head']);
    assert.deepEqual(
      r.items.map((i) => [(i.request as { url: string }).url, (i.response as { status: number } | undefined)?.status, i.error, i.issues]),
      [
        ['/1', undefined, { type: 'pair-not-found', msg: 'the response was lost in a capture gap' }, ['tcp.gap']],
        ['/2', 404, undefined, undefined],
      ],
    );
  });

  test('a request with no response at close is an entry with the request only', () => {
    const r = drive([chunk(0, GET, T0, 7)]);
    assert.deepEqual(r.items, [
      {
        protocol: TAG11,
        requestSize: len(GET),
        responseSize: 0,
        startSec: T0,
        startNsec: 7,
        endSec: T0,
        endNsec: 7,
        request: getRecord,
        error: { type: 'pair-not-found', msg: 'no response before the connection closed' },
      },
    ]);
  });

  test('a response with no request (capture began mid-stream) is an entry of its own', () => {
    const conn = { ...sampleConn('tcp'), roleBy: 'port' as const };
    const r = drive([{ dir: 0, gap: 300 }, { dir: 1, gap: 20 }, chunk(1, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'), chunk(0, GET), chunk(1, 'HTTP/1.1 204 No Content\r\n\r\n')], {
      conn,
    });
    assert.deepEqual(r.weirds, ['http.response_without_request']);
    assert.deepEqual(r.items[0], {
      protocol: TAG11,
      response: { status: 200, statusText: 'OK', httpVersion: '1.1', headers: { 'Content-Length': '2' }, cookies: {}, bodySize: 2, content: { mimeType: '', size: 2, text: 'ok' } },
      requestSize: 0,
      responseSize: len('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
      startSec: T0,
      startNsec: 0,
      endSec: T0,
      endNsec: 0,
      error: { type: 'pair-not-found', msg: 'response without a request' },
    });
    assert.equal((r.items[1].response as { status: number }).status, 204);
  });

  test('after a gap the parser resyncs on the next request line', () => {
    const r = drive([
      chunk(0, 'POST /a HTTP/1.1\r\nContent-Length: 5000\r\n\r\nxxxx'),
      { dir: 0, gap: 8000 },
      chunk(0, 'tail of something\r\nmore\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n'),
      chunk(1, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb'),
    ]);
    assert.deepEqual(
      r.items.map((i) => [(i.request as { url: string }).url, (i.response as { content: { text: string } }).content.text, i.issues]),
      [
        ['/a', '', ['tcp.gap']],
        ['/b', 'b', undefined],
      ],
    );
  });

  test('bytes that are not HTTP are a violation', () => {
    const r = drive([chunk(0, 'HELLO world\r\n'), chunk(1, GET)]);
    assert.deepEqual(r.violations, ['http.bad_start_line']);
    assert.deepEqual(r.items, []);
    assert.equal(r.confirmed, 0);
  });

  test('garbage where a message should start, on a confirmed flow, is weird and skipped', () => {
    const r = drive([chunk(0, GET + 'garbage\r\n' + GET), chunk(1, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n')]);
    assert.deepEqual(r.weirds, ['http.bad_start_line']);
    assert.deepEqual(r.violations, []);
    assert.deepEqual(
      r.items.map((i) => (i.response as { status: number }).status),
      [200, 201],
    );
  });

  test('a request unanswered past pairTimeoutSec is given up and its late response skipped', () => {
    const r = drive(
      [
        chunk(0, 'GET /slow HTTP/1.1\r\n\r\n', T0, 0),
        chunk(0, 'GET /next HTTP/1.1\r\n\r\n', T0 + 11, 0),
        chunk(1, 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslowHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext', T0 + 12, 0),
      ],
      { settings: { pairTimeoutSec: 10 } },
    );
    assert.deepEqual(
      r.items.map((i) => [(i.request as { url: string }).url, (i.response as { content: { text: string } } | undefined)?.content.text, i.error?.msg]),
      [
        ['/slow', undefined, 'no response within 10s'],
        ['/next', 'next', undefined],
      ],
    );
  });
});

describe('http parser: time-outs with no more data (onIdle)', () => {
  test('requests unanswered past pairTimeoutSec are given up when time passes, all at once, in order', () => {
    const r = drive(
      [
        chunk(0, 'GET /a HTTP/1.1\r\n\r\n', T0, 0),
        chunk(0, 'GET /b HTTP/1.1\r\n\r\n', T0 + 1, 0),
        chunk(0, 'GET /c HTTP/1.1\r\n\r\n', T0 + 5, 0),
        { dir: 0, idle: true, sec: T0 + 10, nsec: 0 }, // /a waited exactly 10 s: not more
      ],
      { settings: { pairTimeoutSec: 10 }, close: false },
    );
    assert.equal(r.items.length, 0);
    r.parser.onIdle(T0 + 11, 500_000_000);
    assert.deepEqual(
      r.items.map((i) => [(i.request as { url: string }).url, i.error?.msg]),
      [
        ['/a', 'no response within 10s'],
        ['/b', 'no response within 10s'],
      ],
    );
    r.parser.onIdle(T0 + 15, 1_000_000);
    assert.deepEqual(r.items.map((i) => (i.request as { url: string }).url), ['/a', '/b', '/c']);
  });

  test('an answered exchange and a request still in time are left alone', () => {
    const r = drive(
      [
        chunk(0, 'GET /ok HTTP/1.1\r\n\r\n', T0, 0),
        chunk(1, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', T0, 5),
        chunk(0, 'GET /wait HTTP/1.1\r\n\r\n', T0 + 3, 0),
        { dir: 0, idle: true, sec: T0 + 12, nsec: 0 },
      ],
      { settings: { pairTimeoutSec: 10 }, close: false },
    );
    assert.deepEqual(r.items.map((i) => [(i.request as { url: string }).url, i.error]), [['/ok', undefined]]);
  });
});

describe('http parser: heads and limits', () => {
  test('repeated fields join with ", ", obs-fold is unfolded, space before colon is marked', () => {
    const r = drive([
      chunk(0, 'GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\naccept: b\r\nX-Long: one\r\n  two\r\nX-Bad : 1\r\nno colon here\r\n\r\n'),
      chunk(1, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    ]);
    const req = r.items[0].request as Record<string, unknown>;
    assert.deepEqual(req.headers, { Host: 'h', Accept: 'a, b', 'X-Long': 'one two', 'X-Bad': '1' });
    assert.deepEqual(r.items[0].issues, ['http.obs_fold', 'http.space_before_colon', 'http.bad_header_line']);
    assert.deepEqual(r.weirds, ['http.obs_fold', 'http.space_before_colon', 'http.bad_header_line']);
  });

  test('absolute-form target: path and host come from the URL', () => {
    const r = drive([chunk(0, 'GET http://proxy.example:8080/p/q?x=1 HTTP/1.1\r\n\r\n'), chunk(1, 'HTTP/1.1 204 No Content\r\n\r\n')]);
    const req = r.items[0].request as Record<string, unknown>;
    assert.deepEqual([req.path, req.host, req.queryString], ['/p/q', 'proxy.example:8080', { x: '1' }]);
  });

  test('maxHeaderBytes: the head is cut, marked, and framing still holds', () => {
    const filler = 'X-Filler: ' + 'f'.repeat(200) + '\r\n';
    const head = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n' + filler + filler + '\r\n';
    const steps: Step[] = [chunk(0, GET + GET), chunk(1, head + 'ok' + 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz')];
    const r = drive(steps, { limits: { maxHeaderBytes: 100 } });
    assert.deepEqual(r.weirds, ['http.header_too_long']);
    assert.deepEqual(r.items[0].issues, ['http.header_too_long']);
    const resp = r.items[0].response as Record<string, unknown>;
    assert.deepEqual(resp.headers, { 'Content-Length': '2' }); // the cut filler line is not read
    assert.equal(r.items[0].responseSize, len(head, 'ok'));
    assert.equal((r.items[1].response as { content: { text: string } }).content.text, 'z');
    const want = plain(r.items);
    for (const { label, steps: s } of splits(steps)) assert.deepEqual(plain(drive(s, { limits: { maxHeaderBytes: 100 } }).items), want, label);
  });

  test('maxHeaders: fields past the limit are not kept', () => {
    const r = drive([chunk(0, 'GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Length: 1\r\n\r\nx'), chunk(1, 'HTTP/1.1 204 No Content\r\n\r\n')], { limits: { maxHeaders: 2 } });
    const req = r.items[0].request as Record<string, unknown>;
    assert.deepEqual(req.headers, { A: '1', B: '2' });
    assert.equal(req.bodySize, 1); // Content-Length still frames the body
    assert.deepEqual(r.weirds, ['http.too_many_headers']);
  });

  test('maxStartLine: the message is dropped and the next one read', () => {
    const long = 'GET /' + 'a'.repeat(100) + ' HTTP/1.1\r\n\r\n';
    const r = drive([chunk(0, long + GET), chunk(1, 'HTTP/1.1 204 No Content\r\n\r\n')], { limits: { maxStartLine: 50 } });
    assert.deepEqual(r.weirds, ['http.start_line_too_long']);
    assert.deepEqual(r.items.map((i) => (i.request as { url: string }).url), ['/']);
  });

  test('maxChunkLine: a chunk-size line past the limit ends the message', () => {
    const r = drive([chunk(0, GET), chunk(1, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;' + 'e'.repeat(50) + '\r\nabc\r\n0\r\n\r\n')], { limits: { maxChunkLine: 20 } });
    assert.deepEqual(r.weirds, ['http.chunk_line_too_long']);
    assert.deepEqual(r.items[0].issues, ['http.chunk_line_too_long']);
  });

  test('maxPendingRequests: the oldest is given up, pairing stays aligned', () => {
    const r = drive(
      [
        chunk(0, 'GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n'),
        chunk(1, 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3'),
      ],
      { limits: { maxPendingRequests: 2 } },
    );
    assert.deepEqual(r.weirds, ['http.too_many_pending']);
    assert.deepEqual(
      r.items.map((i) => [(i.request as { url: string }).url, (i.response as { content: { text: string } } | undefined)?.content.text, i.error?.msg]),
      [
        ['/1', undefined, 'too many requests waiting for responses'],
        ['/2', '2', undefined],
        ['/3', '3', undefined],
      ],
    );
  });
});

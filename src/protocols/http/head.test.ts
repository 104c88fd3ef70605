import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCookieHeader, parseHead, parseQuery, parseSetCookies, targetAuthority, targetPath } from './head.js';

const limits = { maxHeaders: 100 };

describe('http head', () => {
  test('status line with an empty reason phrase', () => {
    const h = parseHead('HTTP/1.1 200 \r\nA: 1\r\n\r\n', limits)!;
    assert.deepEqual([h.isRequest, h.status, h.statusText, h.version, h.headers], [false, 200, '', '1.1', { A: '1' }]);
    assert.equal(parseHead('HTTP/1.1 200\r\n\r\n', limits)!.statusText, '');
  });

  test('framing fields: Content-Length lists, Transfer-Encoding, Connection, Upgrade', () => {
    const h = parseHead('GET / HTTP/1.1\r\ncontent-length: 42, 42\r\nTransfer-Encoding: gzip, chunked\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n', limits)!;
    assert.deepEqual([h.contentLength, h.transferEncoding, h.chunked, h.connectionKeepAlive, h.upgrade], [42, true, true, true, true]);
    assert.equal(parseHead('GET / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n', limits)!.contentLength, -2);
    assert.equal(parseHead('GET / HTTP/1.1\r\nContent-Length: +1\r\n\r\n', limits)!.contentLength, -2);
    assert.equal(parseHead('GET / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', limits)!.chunked, false);
    // Upgrade without the connection option is not an upgrade request.
    assert.equal(parseHead('GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n', limits)!.upgrade, false);
  });

  test('a field named __proto__ is kept as data', () => {
    const h = parseHead('GET / HTTP/1.1\r\n__proto__: x\r\n\r\n', limits)!;
    assert.equal(Object.getPrototypeOf(h.headers), Object.prototype);
    assert.deepEqual(JSON.parse(JSON.stringify(h.headers)), JSON.parse('{"__proto__":"x"}'));
  });

  test('repeated fields, in any case, join under their first spelling, before and past the 32nd name', () => {
    // Spellings cycle through cases; names repeat near and far, up to 70 distinct ones.
    const lines: [string, string][] = [];
    for (let i = 0; i < 140; i++) {
      const n = (i * 37) % 70;
      const name = `X-Field-${n}`;
      lines.push([i % 3 === 0 ? name.toLowerCase() : i % 3 === 1 ? name.toUpperCase() : name, `v${i}`]);
    }
    lines.push(['Set-Cookie', 'a=1'], ['set-cookie', 'b=2'], ['HOST', 'h:1'], ['Host', 'h:2']);
    // What RFC 9110 5.3 allows, computed plainly: the first spelling, values joined in order.
    const want: Record<string, string> = {};
    const firstSpelling = new Map<string, string>();
    for (const [name, value] of lines) {
      const first = firstSpelling.get(name.toLowerCase());
      if (first === undefined) {
        firstSpelling.set(name.toLowerCase(), name);
        want[name] = value;
      } else want[first] = `${want[first]}, ${value}`;
    }
    const text = `GET / HTTP/1.1\r\n${lines.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
    const h = parseHead(text, limits)!;
    assert.deepEqual(h.headers, want);
    assert.equal(Object.keys(h.headers).length, 72);
    assert.deepEqual(h.setCookies, ['a=1', 'b=2']);
    assert.equal(h.host, 'h:1');
    // The next head starts from nothing: no name of the last one counts as repeated.
    assert.deepEqual(parseHead('GET / HTTP/1.1\r\nx-field-0: again\r\n\r\n', limits)!.headers, { 'x-field-0': 'again' });
    // The cap counts distinct fields; a repeat past it still joins its first line.
    const capped = parseHead(text, { maxHeaders: 40 })!;
    assert.equal(Object.keys(capped.headers).length, 40);
    assert.deepEqual(capped.issues, ['http.too_many_headers']);
    for (const [k, v] of Object.entries(capped.headers)) assert.equal(v, want[k], k);
  });

  test('start lines that are not HTTP/1.x give null', () => {
    for (const s of ['GET / HTTP/2.0\r\n\r\n', 'GET /\r\n\r\n', 'HTTP/1.1 20x\r\n\r\n', 'G\u00e9T / HTTP/1.1\r\n\r\n']) assert.equal(parseHead(s, limits), null, s);
  });

  test('query strings: decoding, repeats, no value, a broken escape', () => {
    assert.deepEqual(parseQuery('/p?a=1&b=%E2%82%AC&a=2&c&d=x+y&e=%ZZ#frag'), { a: ['1', '2'], b: '€', c: '', d: 'x y', e: '%ZZ' });
    assert.deepEqual(parseQuery('/p'), {});
  });

  test('cookies', () => {
    assert.deepEqual(parseCookieHeader('a=1; b = 2 ;c=x=y'), { a: '1', b: '2', c: 'x=y' });
    assert.deepEqual(parseSetCookies(['id=a3fWa; Expires=Wed, 21 Oct 2015 07:28:00 GMT', 'lang=en']), { id: 'a3fWa', lang: 'en' });
  });

  test('paths and authorities of the four target forms (RFC 9112 3.2)', () => {
    assert.deepEqual([targetPath('/a/b?c'), targetAuthority('/a/b?c')], ['/a/b', '']);
    assert.deepEqual([targetPath('http://h:81/x?y'), targetAuthority('http://h:81/x?y')], ['/x', 'h:81']);
    assert.deepEqual([targetPath('http://h'), targetAuthority('http://h')], ['/', 'h']);
    assert.deepEqual([targetPath('h:443'), targetPath('*')], ['h:443', '*']);
  });
});

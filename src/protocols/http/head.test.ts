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

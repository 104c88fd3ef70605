import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleConn } from '../conformance.js';
import { http, probeHttp } from './index.js';

const conn = sampleConn('tcp', 31337); // HTTP off its usual ports must still be found
const probe = (s: string) => probeHttp(Buffer.from(s, 'latin1'), 0, conn);

describe('http probe', () => {
  test('request lines with known methods match, whatever the port', () => {
    assert.equal(probe('GET / HTTP/1.1\r\n'), 'match');
    assert.equal(probe('M-SEARCH * HTTP/1.1\r\n'), 'match');
    assert.equal(probe('PROPFIND /dav/ HTTP/1.0\n'), 'match');
    assert.equal(probe('\r\nPOST /x HTTP/1.1\r\nHost: a\r\n'), 'match');
    assert.equal(http.probe(Buffer.from('DELETE /a/b?c=d HTTP/1.1\r\n'), 1, conn), 'match');
  });

  test('status lines match', () => {
    assert.equal(probe('HTTP/1.1 200 OK\r\n'), 'match');
    assert.equal(probe('HTTP/1.0 404'), 'more');
    assert.equal(probe('HTTP/1.0 404\r'), 'match');
  });

  test('too few bytes to tell is "more"', () => {
    for (const s of ['', 'G', 'GE', 'GET', 'GET ', 'GET /index', 'GET /index HTTP/1', 'GET / HTTP/1.1', 'GET / HTTP/1.1\r', 'H', 'HTTP/1.1', 'HTTP/1.1 20']) {
      assert.equal(probe(s), 'more', JSON.stringify(s));
    }
  });

  test('everything else is "no"', () => {
    for (const s of [
      'GOT / HTTP/1.1\r\n', // unknown method
      'get / HTTP/1.1\r\n', // methods are case-sensitive (RFC 9110 9.1)
      'GET / HTTP/2.0\r\n',
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
      'GET /a b HTTP/1.1\r\n',
      'GET  / HTTP/1.1\r\n',
      'GET / HTTP/1.1 \r\n',
      'HTTP/1.1 2000 OK\r\n',
      'HTTP/1.1 OK\r\n',
      'HTTP/2 200\r\n',
      'SSH-2.0-OpenSSH_9.2\r\n',
      '*1\r\n$4\r\nPING\r\n',
      '\x16\x03\x01\x00\xc8',
    ]) {
      assert.equal(probe(s), 'no', JSON.stringify(s));
    }
  });

  test('a request line longer than 8 KiB without its end is "no"', () => {
    assert.equal(probe('GET /' + 'a'.repeat(9000)), 'no');
    assert.equal(probe('GET /' + 'a'.repeat(9000) + ' HTTP/1.1\r\n'), 'match');
  });
});

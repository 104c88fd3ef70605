/**
 * Hand-written exchanges shared by the unit tests and the conformance suite. Each is the
 * wire text of one connection, in arrival order.
 */
import zlib from 'node:zlib';
import type { ConformanceSample, SampleChunk } from '../conformance.js';

export const T0 = 1_700_000_000;

export function chunk(dir: 0 | 1, text: string | Buffer, sec = T0, nsec = 0): SampleChunk {
  return { dir, data: typeof text === 'string' ? Buffer.from(text, 'latin1') : text, sec, nsec };
}

/** 'hello gzip world' gzipped with mtime 0 (zlib's default header), 36 bytes. */
export const GZ_HELLO = zlib.gzipSync(Buffer.from('hello gzip world'));

/** Three pipelined requests on one keep-alive connection, then their three responses. */
export const pipelined: SampleChunk[] = [
  chunk(
    0,
    'GET /search?q=caf%C3%A9+au+lait&tag=a&tag=b HTTP/1.1\r\nHost: shop.example\r\nCookie: sid=42; theme=dark\r\nAccept: */*\r\n\r\n' +
      'POST /cart HTTP/1.1\r\nHost: shop.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 13\r\n\r\nitem=7&qty=2\n' +
      'HEAD /big HTTP/1.1\r\nHost: shop.example\r\n\r\n',
    T0,
    1000,
  ),
  chunk(
    1,
    Buffer.concat([
      Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nSet-Cookie: sid=43; Path=/; HttpOnly\r\n\r\n{"hits":[]}', 'latin1'),
      Buffer.from(`HTTP/1.1 201 Created\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n10;name=first\r\n`, 'latin1'),
      GZ_HELLO.subarray(0, 16),
      Buffer.from(`\r\n${(GZ_HELLO.length - 16).toString(16)}\r\n`, 'latin1'),
      GZ_HELLO.subarray(16),
      Buffer.from('\r\n0\r\nX-Checksum: abc\r\n\r\n', 'latin1'),
      Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nContent-Type: text/html\r\n\r\n', 'latin1'),
    ]),
    T0 + 1,
    2000,
  ),
];

/** Expect: 100-continue: an interim 100, the body, then the final response. */
export const continued: SampleChunk[] = [
  chunk(0, 'PUT /files/a.txt HTTP/1.1\r\nHost: f\r\nExpect: 100-continue\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n', T0, 0),
  chunk(1, 'HTTP/1.1 100 Continue\r\n\r\n', T0, 10),
  chunk(0, 'hello', T0, 20),
  chunk(1, 'HTTP/1.1 204 No Content\r\n\r\n', T0, 30),
];

export const httpSamples: ConformanceSample[] = [
  { name: 'pipelined keep-alive', transport: 'tcp', port: 8080, chunks: pipelined, minItems: 3 },
  { name: '100-continue', transport: 'tcp', port: 31337, chunks: continued, minItems: 1 },
  {
    name: 'websocket upgrade',
    transport: 'tcp',
    port: 80,
    chunks: [
      chunk(0, 'GET /ws HTTP/1.1\r\nHost: w\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'),
      chunk(1, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x05hello'),
      chunk(0, '\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58'),
    ],
    minItems: 1,
  },
];

/** Other protocols' first bytes: the probe must refuse them and the parser report a violation. */
export const foreignSamples: ConformanceSample[] = [
  // DNS query for example.com A (UDP payload):
  // 12 34 01 00 00 01 00 00 00 00 00 00 07 65 78 61 6d 70 6c 65 03 63 6f 6d 00 00 01 00 01
  { name: 'dns query', transport: 'udp', port: 53, minItems: 0, chunks: [chunk(0, Buffer.from('123401000001000000000000076578616d706c6503636f6d0000010001', 'hex'))] },
  // TLS 1.2 ClientHello record header and the start of the handshake: 16 03 01 00 2f 01 00 00 2b 03 03 ...
  { name: 'tls client hello', transport: 'tcp', port: 443, minItems: 0, chunks: [chunk(0, Buffer.from('160301002f0100002b0303' + '00'.repeat(40), 'hex'))] },
  { name: 'redis ping', transport: 'tcp', port: 6379, minItems: 0, chunks: [chunk(0, '*1\r\n$4\r\nPING\r\n'), chunk(1, '+PONG\r\n')] },
  { name: 'ssh banner', transport: 'tcp', port: 22, minItems: 0, chunks: [chunk(1, 'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'), chunk(0, 'SSH-2.0-OpenSSH_9.2\r\n')] },
  // HTTP/2 connection preface: a start line, but not HTTP/1.x.
  { name: 'http2 preface', transport: 'tcp', port: 80, minItems: 0, chunks: [chunk(0, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')] },
];

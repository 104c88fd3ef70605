import { runConformance, type ConformanceSample } from '../conformance.js';
import { dns } from './index.js';
import { framed, hex, query, response, rr } from './testing.js';

const answer = rr('www.tapline.test', 1, 1, 300, hex('c000020a'));
const q1 = query(0x0a0a, 'www.tapline.test', 1);
const q2 = query(0x0b0b, 'www.tapline.test', 28);
const r1 = response(0x0a0a, 'www.tapline.test', 1, [answer]);
const r2 = response(0x0b0b, 'www.tapline.test', 28);

const samples: ConformanceSample[] = [
  {
    name: 'UDP A and AAAA',
    transport: 'udp',
    port: 53,
    chunks: [{ dir: 0, data: q1 }, { dir: 0, data: q2 }, { dir: 1, data: r2 }, { dir: 1, data: r1 }],
    minItems: 2,
  },
  {
    name: 'TCP two queries on one connection',
    transport: 'tcp',
    port: 53,
    chunks: [{ dir: 0, data: Buffer.concat([framed(q1), framed(q2)]) }, { dir: 1, data: framed(r1) }, { dir: 1, data: framed(r2) }],
    minItems: 2,
  },
];

const foreign: ConformanceSample[] = [
  { name: 'HTTP/1.1 request', transport: 'tcp', port: 80, chunks: [{ dir: 0, data: Buffer.from('GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n') }], minItems: 0 },
  // 16 03 01 00 a5 01 00 00 a1 03 03 …: the start of a TLS 1.2 ClientHello record.
  { name: 'TLS ClientHello', transport: 'tcp', port: 443, chunks: [{ dir: 0, data: Buffer.concat([hex('160301 00a5 01 0000a1 0303'), Buffer.alloc(0xa5 - 6, 0x42)]) }], minItems: 0 },
  { name: 'NTP request over UDP', transport: 'udp', port: 123, chunks: [{ dir: 0, data: Buffer.concat([hex('e3 00 06 ec'), Buffer.alloc(44)]) }], minItems: 0 },
];

runConformance(dns, samples, foreign);

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnectionInfo, Direction } from '../../reassembly/types.js';
import { defaultParserSettings, type ParsedItem, type ProtocolParser } from '../types.js';
import { dns } from './index.js';
import { framed, header, hex, query, question, response, rr } from './testing.js';

function conn(transport: 'tcp' | 'udp', port = 53): ConnectionInfo {
  return {
    id: '000000000001', transport, client: { ip: '10.0.0.1', port: 40000 }, server: { ip: '10.0.0.53', port },
    roleBy: transport === 'tcp' ? 'syn' : 'first', startSec: 1_700_000_000, startNsec: 0, vlans: [], tunnel: '', tunnelId: 0,
  };
}

interface Harness {
  parser: ProtocolParser;
  items: ParsedItem[];
  weirds: string[];
  violations: string[];
  confirmed: number;
}

function harness(transport: 'tcp' | 'udp', limits: Record<string, number> = {}, port = 53): Harness {
  const h = { items: [], weirds: [], violations: [], confirmed: 0 } as unknown as Harness;
  h.parser = dns.createParser({
    conn: conn(transport, port),
    limits: { ...dns.limits, ...limits },
    settings: defaultParserSettings,
    emit: (item) => h.items.push(item),
    confirm: () => h.confirmed++,
    violation: (code) => h.violations.push(code),
    weird: (code) => h.weirds.push(code),
  });
  return h;
}

const T0 = 1_700_000_000;
const A = 1;
const AAAA = 28;
const answerA = (name: string, ip: string) => rr(name, A, 1, 300, Buffer.from(ip.split('.').map(Number)));
const FLAGS_Q = { qr: false, aa: false, tc: false, rd: true, ra: false, z: false, ad: false, cd: false };
const FLAGS_R = { qr: true, aa: false, tc: false, rd: true, ra: true, z: false, ad: false, cd: false };
const TAG_UDP = { name: 'dns', version: '', abbr: 'DNS', layer4: 'udp' };

describe('dns parser: pairing over UDP', () => {
  test('a query and its response become one item', () => {
    const h = harness('udp');
    const q = query(0x1111, 'www.example.com', A);
    const r = response(0x1111, 'www.example.com', A, [answerA('www.example.com', '192.0.2.7')]);
    h.parser.onData(0, q, T0, 100);
    h.parser.onData(1, r, T0, 2_000_100);
    h.parser.onClose(T0 + 1, 0);
    assert.equal(h.confirmed, 1);
    assert.deepEqual(h.items, [{
      protocol: TAG_UDP,
      request: { id: 0x1111, opCode: 'QUERY', flags: FLAGS_Q, questions: [{ name: 'www.example.com', type: 'A', class: 'IN' }] },
      response: {
        id: 0x1111, code: 'NOERROR', flags: FLAGS_R,
        answers: [{ name: 'www.example.com', type: 'A', class: 'IN', ttl: 300, data: '192.0.2.7' }],
        authorities: [], additionals: [],
      },
      requestSize: q.length, responseSize: r.length,
      startSec: T0, startNsec: 100, endSec: T0, endNsec: 2_000_100,
    }]);
    assert.deepEqual(h.weirds, []);
  });

  test('A and AAAA in flight at once, answered out of order', () => {
    const h = harness('udp');
    h.parser.onData(0, query(1, 'host.test', A), T0, 0);
    h.parser.onData(0, query(2, 'host.test', AAAA), T0, 10);
    h.parser.onData(1, response(2, 'host.test', AAAA), T0, 20);
    h.parser.onData(1, response(1, 'host.test', A, [answerA('host.test', '10.0.0.1')]), T0, 30);
    h.parser.onClose(T0, 40);
    assert.deepEqual(h.items.map((i) => [i.request!.id, (i.request!.questions as { type: string }[])[0].type, i.startNsec, i.endNsec]),
      [[2, 'AAAA', 10, 20], [1, 'A', 0, 30]]);
    assert.deepEqual(h.items.map((i) => i.error), [undefined, undefined]);
  });

  test('the same ID for two questions pairs by question, and names compare case-insensitively', () => {
    const h = harness('udp');
    h.parser.onData(0, query(5, 'a.test', A), T0, 0);
    h.parser.onData(0, query(5, 'B.test', A), T0, 1);
    h.parser.onData(1, response(5, 'b.TEST', A), T0, 2);
    h.parser.onData(1, response(5, 'a.test', A), T0, 3);
    assert.deepEqual(h.items.map((i) => [(i.request!.questions as { name: string }[])[0].name, i.endNsec]), [['B.test', 2], ['a.test', 3]]);
  });

  test('a query with no response becomes pair-not-found after pairTimeoutSec of packet time', () => {
    const h = harness('udp');
    h.parser.onData(0, query(1, 'lost.test', A), T0, 0);
    h.parser.onData(0, query(2, 'later.test', A), T0 + 5, 0);
    // 10 s after the first query exactly: still waiting (the timeout is "more than").
    h.parser.onData(0, query(3, 'x.test', A), T0 + 10, 0);
    assert.equal(h.items.length, 0);
    h.parser.onData(0, query(4, 'y.test', A), T0 + 10, 1);
    assert.deepEqual(h.items.map((i) => [i.request!.id, i.error, i.responseSize, i.endSec]),
      [[1, { type: 'pair-not-found', msg: 'no response within 10s' }, 0, T0]]);
    assert.equal(h.items[0].response, undefined);
    // A response that comes after its query was given up is a lone response.
    h.parser.onData(1, response(1, 'lost.test', A), T0 + 11, 0);
    assert.equal(h.items[1].request!.reconstructed, true);
    assert.deepEqual(h.items[1].issues, ['dns.unmatched_response']);
    h.parser.onClose(T0 + 12, 0);
    assert.deepEqual(h.items.slice(2).map((i) => [i.request!.id, i.error?.msg]), [
      [2, 'no response before the flow ended'], [3, 'no response before the flow ended'], [4, 'no response before the flow ended']]);
  });

  test('a response without its query: the request is rebuilt from the question and marked', () => {
    const h = harness('udp');
    const r = response(9, 'mid.test', A, [answerA('mid.test', '10.9.9.9')], 0);
    h.parser.onData(1, r, T0, 5);
    assert.deepEqual(h.items, [{
      protocol: TAG_UDP,
      request: { id: 9, opCode: 'QUERY', questions: [{ name: 'mid.test', type: 'A', class: 'IN' }], reconstructed: true },
      response: {
        id: 9, code: 'NOERROR', flags: FLAGS_R,
        answers: [{ name: 'mid.test', type: 'A', class: 'IN', ttl: 300, data: '10.9.9.9' }], authorities: [], additionals: [],
      },
      requestSize: 0, responseSize: r.length, startSec: T0, startNsec: 5, endSec: T0, endNsec: 5,
      issues: ['dns.unmatched_response'],
    }]);
    assert.deepEqual(h.weirds, ['dns.unmatched_response']);
  });

  test('roles come from the QR bit: a query on direction 1 is marked reversed', () => {
    const h = harness('udp');
    h.parser.onData(1, query(3, 'r.test', A), T0, 0);
    h.parser.onData(0, response(3, 'r.test', A), T0, 1);
    assert.equal(h.items.length, 1);
    assert.equal(h.items[0].reversed, true);
    assert.equal(h.items[0].response!.code, 'NOERROR');
  });

  test('time passing with no datagram (onIdle) gives up overdue queries, and only those', () => {
    const h = harness('udp');
    h.parser.onData(0, query(1, 'lost.test', A), T0, 0);
    h.parser.onData(0, query(2, 'later.test', A), T0 + 3, 0);
    h.parser.onIdle!(T0 + 10, 0);
    assert.equal(h.items.length, 0);
    h.parser.onIdle!(T0 + 12, 0);
    assert.deepEqual(h.items.map((i) => [i.request!.id, i.error]), [[1, { type: 'pair-not-found', msg: 'no response within 10s' }]]);
    h.parser.onIdle!(T0 + 14, 0);
    assert.deepEqual(h.items.map((i) => i.request!.id), [1, 2]);
  });

  test('a retransmitted query is counted and the first one times the entry', () => {
    const h = harness('udp');
    h.parser.onData(0, query(4, 'slow.test', A), T0, 0);
    h.parser.onData(0, query(4, 'slow.test', A), T0 + 1, 0);
    h.parser.onData(1, response(4, 'slow.test', A), T0 + 1, 500);
    h.parser.onClose(T0 + 2, 0);
    assert.deepEqual(h.items.map((i) => [i.startSec, i.endSec, i.endNsec]), [[T0, T0 + 1, 500]]);
    assert.deepEqual(h.weirds, ['dns.retransmission']);
  });

  test('an error response without a question pairs by ID', () => {
    const h = harness('udp');
    h.parser.onData(0, query(0x77, 'q.test', A), T0, 0);
    // 0077 8081 0000 0000 0000 0000: response, RD, FORMERR, no sections
    h.parser.onData(1, hex('0077 8081 0000 0000 0000 0000'), T0, 1);
    assert.equal(h.items.length, 1);
    assert.equal(h.items[0].response!.code, 'FORMERR');
    assert.equal(h.items[0].error, undefined);
  });

  test('maxPendingQueries: the oldest query is given up and counted', () => {
    const h = harness('udp', { maxPendingQueries: 2 });
    for (let i = 1; i <= 3; i++) h.parser.onData(0, query(i, 'p.test', A), T0, i);
    assert.deepEqual(h.weirds, ['dns.pending_limit']);
    assert.deepEqual(h.items.map((i) => [i.request!.id, i.error]),
      [[1, { type: 'pair-not-found', msg: 'given up: more than 2 queries waiting on the flow' }]]);
    h.parser.onData(1, response(3, 'p.test', A), T0, 9);
    assert.deepEqual(h.items.map((i) => i.request!.id), [1, 3]);
  });

  test('a malformed response after confirmation: counted, paired, issues on the item', () => {
    const h = harness('udp');
    h.parser.onData(0, query(8, 'bad.test', A), T0, 0);
    // The answer's owner is a forward pointer (c0ff).
    const bad = Buffer.concat([header({ id: 8, flags: 0x8180, qd: 1, an: 1 }), question('bad.test', A), hex('c0ff 0001 0001 00000001 0004 01020304')]);
    h.parser.onData(1, bad, T0, 1);
    assert.deepEqual(h.weirds, ['dns.malformed', 'dns.bad_pointer']);
    assert.deepEqual(h.items.map((i) => [i.issues, i.response!.answers]), [[['dns.malformed', 'dns.bad_pointer'], []]]);
    // A datagram that is too short for a header: counted, no item.
    h.parser.onData(1, hex('0008 8180'), T0, 2);
    assert.deepEqual(h.weirds.slice(2), ['dns.malformed', 'dns.truncated']);
    assert.equal(h.items.length, 1);
    assert.deepEqual(h.violations, []);
  });

  test('bytes that are not DNS are a violation, and the parser stops', () => {
    const h = harness('udp');
    h.parser.onData(0, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), T0, 0);
    assert.deepEqual(h.violations, ['dns.not_dns']);
    h.parser.onData(0, query(1, 'a.test', A), T0, 1);
    h.parser.onClose(T0, 2);
    assert.deepEqual(h.items, []);
  });

  test('mDNS: lone responses are normal there, not counted as unmatched', () => {
    const h = harness('udp', {}, 5353);
    h.parser.onData(0, Buffer.concat([header({ id: 0, flags: 0x8400, an: 1 }), rr('tv.local', A, 0x8001, 120, hex('c0a80009'))]), T0, 0);
    assert.deepEqual(h.weirds, []);
    assert.deepEqual(h.items.map((i) => [i.request, i.response!.answers, i.issues]), [[
      { id: 0, opCode: 'QUERY', questions: [], reconstructed: true },
      [{ name: 'tv.local', type: 'A', class: 'IN', ttl: 120, data: '192.168.0.9', cacheFlush: true }],
      undefined,
    ]]);
  });
});

describe('dns parser: TCP', () => {
  // Two queries on one connection (dig +keepopen), answered in order.
  const q1 = query(0x0a0a, 'www.tapline.test', A);
  const q2 = query(0x0b0b, 'www.tapline.test', AAAA);
  const r1 = response(0x0a0a, 'www.tapline.test', A, [answerA('www.tapline.test', '192.0.2.10')]);
  const r2 = response(0x0b0b, 'www.tapline.test', AAAA);
  const c2s = Buffer.concat([framed(q1), framed(q2)]);
  const s2c = Buffer.concat([framed(r1), framed(r2)]);

  function run(chunks: { dir: Direction; data: Buffer; nsec: number }[]) {
    const h = harness('tcp');
    for (const c of chunks) h.parser.onData(c.dir, c.data, T0, c.nsec);
    h.parser.onClose(T0, 999);
    return h;
  }

  const whole = run([{ dir: 0, data: c2s, nsec: 1 }, { dir: 1, data: s2c, nsec: 2 }]);

  test('length-prefixed messages pair; sizes exclude the prefix', () => {
    assert.deepEqual(whole.items.map((i) => [i.protocol.layer4, i.request!.id, i.response!.id, i.requestSize, i.responseSize]), [
      ['tcp', 0x0a0a, 0x0a0a, q1.length, r1.length], ['tcp', 0x0b0b, 0x0b0b, q2.length, r2.length]]);
    assert.deepEqual(whole.violations, []);
  });

  test('the same items when either direction is split at every byte', () => {
    const want = JSON.stringify(whole.items.map((i) => ({ ...i, startNsec: 0, endNsec: 0 })));
    for (const [dir, bytes] of [[0, c2s], [1, s2c]] as const) {
      for (let k = 1; k < bytes.length; k++) {
        const parts = [{ dir, data: bytes.subarray(0, k), nsec: 1 }, { dir, data: bytes.subarray(k), nsec: 1 }];
        const other = { dir: (1 - dir) as Direction, data: dir === 0 ? s2c : c2s, nsec: 1 };
        const h = run(dir === 0 ? [...parts, other] : [other, ...parts]);
        assert.equal(JSON.stringify(h.items.map((i) => ({ ...i, startNsec: 0, endNsec: 0 }))), want, `dir ${dir} split at ${k}`);
      }
    }
    const bytewise = run([...c2s].map((b) => ({ dir: 0 as Direction, data: Buffer.from([b]), nsec: 1 }))
      .concat([...s2c].map((b) => ({ dir: 1 as Direction, data: Buffer.from([b]), nsec: 1 }))));
    assert.equal(JSON.stringify(bytewise.items.map((i) => ({ ...i, startNsec: 0, endNsec: 0 }))), want);
  });

  test('a message spread over segments is timed from its first byte to its last', () => {
    const h = run([
      { dir: 0, data: c2s.subarray(0, 5), nsec: 10 }, { dir: 0, data: c2s.subarray(5), nsec: 20 },
      { dir: 1, data: s2c.subarray(0, 3), nsec: 30 }, { dir: 1, data: s2c.subarray(3), nsec: 40 },
    ]);
    assert.deepEqual(h.items.map((i) => [i.startNsec, i.endNsec]), [[10, 40], [20, 40]]);
  });

  test('a large response in many segments gives the same item as in one', () => {
    const answers = Array.from({ length: 400 }, (_, i) => answerA('www.tapline.test', `10.0.${i >> 8}.${i & 255}`));
    const big = framed(response(0x0a0a, 'www.tapline.test', A, answers));
    assert.ok(big.length > 12_000);
    const segments = [];
    for (let off = 0; off < big.length; off += 1448) segments.push({ dir: 1 as Direction, data: big.subarray(off, off + 1448), nsec: 2 });
    const whole = run([{ dir: 0, data: framed(q1), nsec: 1 }, { dir: 1, data: big, nsec: 2 }]);
    const split = run([{ dir: 0, data: framed(q1), nsec: 1 }, ...segments]);
    assert.equal((whole.items[0].response!.answers as unknown[]).length, 400);
    assert.deepEqual(split.items, whole.items);
    assert.deepEqual(split.weirds, []);
  });

  test('HTTP on a TCP flow is a violation', () => {
    const h = run([{ dir: 0, data: Buffer.from('GET / HTTP/1.1\r\nHost: example\r\n\r\n'), nsec: 1 }]);
    assert.deepEqual(h.violations, ['dns.not_dns']);
    assert.deepEqual(h.items, []);
  });

  test('a message over maxMessageSize is skipped and the next one is read', () => {
    const big = framed(response(0x0a0a, 'www.tapline.test', A, [answerA('www.tapline.test', '192.0.2.10'), answerA('www.tapline.test', '192.0.2.11')]));
    const h = harness('tcp', { maxMessageSize: r1.length });
    h.parser.onData(0, framed(q1), T0, 0);
    h.parser.onData(1, big.subarray(0, 20), T0, 1);
    h.parser.onData(1, Buffer.concat([big.subarray(20), framed(r1)]), T0, 2);
    assert.deepEqual(h.weirds, ['dns.message_too_large']);
    assert.deepEqual(h.items.map((i) => [i.request!.id, i.responseSize]), [[0x0a0a, r1.length]]);
  });

  test('after a gap, framing restarts at a segment that begins with a message', () => {
    const h = harness('tcp');
    h.parser.onData(0, Buffer.concat([framed(q1), framed(q2)]), T0, 0);
    h.parser.onData(1, framed(r1).subarray(0, 10), T0, 1);
    h.parser.onGap(1, 40, T0, 2);
    // The rest of r1 is not a message start: dropped. Then r2 begins a segment.
    h.parser.onData(1, framed(r1).subarray(50), T0, 3);
    h.parser.onData(1, framed(r2), T0, 4);
    h.parser.onClose(T0, 5);
    assert.deepEqual(h.weirds, ['dns.resync']);
    assert.deepEqual(h.items.map((i) => [i.request!.id, i.error?.type ?? 'paired']), [[0x0b0b, 'paired'], [0x0a0a, 'pair-not-found']]);
  });
});

describe('dns probe', () => {
  const udp = conn('udp');
  const tcp = conn('tcp');
  test('a query and a response match over UDP; roles do not matter', () => {
    assert.equal(dns.probe(query(1, 'a.test', A), 0, udp), 'match');
    assert.equal(dns.probe(response(1, 'a.test', A), 0, udp), 'match');
  });
  test('TCP: too few bytes is "more", a whole message "match"', () => {
    const f = framed(query(1, 'www.example.com', A));
    assert.equal(dns.probe(f.subarray(0, 1), 0, tcp), 'more');
    assert.equal(dns.probe(f.subarray(0, 13), 0, tcp), 'more');
    assert.equal(dns.probe(f.subarray(0, 20), 0, tcp), 'more');
    assert.equal(dns.probe(f, 0, tcp), 'match');
  });
  test('non-DNS bytes are "no"', () => {
    assert.equal(dns.probe(Buffer.from('GET / HTTP/1.1\r\n\r\n'), 0, udp), 'no');
    assert.equal(dns.probe(Buffer.from('GET / HTTP/1.1\r\n\r\n'), 0, tcp), 'no');
    assert.equal(dns.probe(hex('1603 0102 0001 0001 fc03 03ab cdef 0102'), 0, tcp), 'no');
    // Header sanity: opcode 3 is unassigned; no question in a query; too many questions; counts beyond the length.
    assert.equal(dns.probe(hex('0001 1800 0001 0000 0000 0000 0161 00 0001 0001'), 0, udp), 'no');
    assert.equal(dns.probe(hex('0001 0100 0000 0000 0000 0000'), 0, udp), 'no');
    const many = (n: number) => Buffer.concat([header({ id: 1, flags: 0, qd: n }), ...Array.from({ length: n }, () => question('a.local', 12))]);
    assert.equal(dns.probe(many(32), 0, udp), 'match');
    assert.equal(dns.probe(many(33), 0, udp), 'no');
    assert.equal(dns.probe(hex('0001 8180 0001 0005 0000 0000 0161 00 0001 0001'), 0, udp), 'no');
  });
  test('an NTP client packet (zero-filled, so a question of class 0) is "no" (ntp.pcap of the tcpdump corpus)', () => {
    const ntp = hex(`
      e300 03fa 0001 0000 0001 0000 0000 0000   # LI/VN/mode, stratum, poll, precision; root delay, dispersion
      0000 0000 0000 0000 0000 0000 0000 0000   # reference id and timestamps, all zero
      0000 0000 0000 0000 dcf2 5cbe 7d0d 94f5   # ... transmit timestamp
    `);
    assert.equal(dns.probe(ntp, 0, udp), 'no');
    const class0 = Buffer.concat([header({ id: 1, flags: 0x0100, qd: 1 }), question('a.test', A, 0)]);
    assert.equal(dns.probe(class0, 0, udp), 'no', 'class 0 in a real query too');
  });
  test('NetBIOS name service (RFC 1002, DNS format on UDP 137) is "no" (eapon1.pcap of the tcpdump corpus)', () => {
    const nbns = hex(`
      8921 0110 0001 0000 0000 0000             # id, flags (opcode 0, RD, B), one question
      20 4542 4643 4543 4546 454a 4645 4644     # 32-letter label "EBFCECEFEJFEFDEHFCFFFAFAEFCACABL":
         4548 4643 4646 4641 4641 4546 4341 4341 424c   # "ARBEITSGRUPPE" + <1b>, first-level encoded
      00 0020 0001                              # root, NB, IN
    `);
    // The fixture is a well-formed DNS-shaped question: only the NetBIOS rule refuses it.
    assert.deepEqual(nbns.subarray(12), question('EBFCECEFEJFEFDEHFCFFFAFAEFCACABL', 0x20));
    assert.equal(dns.probe(nbns, 0, conn('udp', 137)), 'no');
    assert.equal(dns.probe(query(1, 'EBFCECEFEJFEFDEHFCFFFAFAEFCACABL', 33), 0, udp), 'no', 'NBSTAT');
    // A real SRV question, and a 32-letter label outside A-P, are still DNS.
    assert.equal(dns.probe(query(1, '_http._tcp.example.test', 33), 0, udp), 'match');
    assert.equal(dns.probe(query(1, 'EBFCECEFEJFEFDEHFCFFFAFAEFCACABZ', 33), 0, udp), 'match');
  });
});

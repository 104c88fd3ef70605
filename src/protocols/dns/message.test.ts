import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readMessage, type DnsReadOptions } from './message.js';
import { header, hex, question, rr } from './testing.js';

const OPTS: DnsReadOptions = { maxRecordsPerSection: 1000, maxPointerHops: 64, mdns: false };

describe('dns message: header and sections', () => {
  test('a query: id, opcode, flags, question', () => {
    // 1234 0100 0001 0000 0000 0000   id 0x1234, RD, one question
    // 03 777777 07 6578616d706c65 03 636f6d 00 0001 0001   www.example.com A IN
    const buf = hex('1234 0100 0001 0000 0000 0000 03777777 076578616d706c65 03636f6d 00 0001 0001');
    const m = readMessage(buf, 0, buf.length, OPTS);
    assert.deepEqual(m, {
      id: 0x1234, qr: false, opcode: 0, opCode: 'QUERY', rcode: 0, code: 'NOERROR',
      flags: { qr: false, aa: false, tc: false, rd: true, ra: false, z: false, ad: false, cd: false },
      qdcount: 1, ancount: 0, nscount: 0, arcount: 0,
      questions: [{ name: 'www.example.com', type: 'A', class: 'IN' }],
      answers: [], authorities: [], additionals: [],
      size: 33, issue: '', issueOffset: 0, questionsRead: true, weird: [],
    });
  });

  test('a response with compressed names (CNAME then A)', () => {
    // 1234 8180 0001 0002 0000 0000           response, RD RA, 1 question, 2 answers
    // @12 03777777 076578616d706c65 03636f6d 00 0001 0001     www.example.com A IN
    // @33 c00c 0005 0001 0000012c 0006 03776562 c010        CNAME web.<ptr 16 = example.com>
    // @51 c02d 0001 0001 0000003c 0004 5db8d822             <ptr 45 = web.example.com> A 93.184.216.34
    const buf = hex(`1234 8180 0001 0002 0000 0000
      03777777 076578616d706c65 03636f6d 00 0001 0001
      c00c 0005 0001 0000012c 0006 03776562 c010
      c02d 0001 0001 0000003c 0004 5db8d822`);
    const m = readMessage(buf, 0, buf.length, OPTS);
    assert.equal(m.issue, '');
    assert.equal(m.code, 'NOERROR');
    assert.deepEqual(m.flags, { qr: true, aa: false, tc: false, rd: true, ra: true, z: false, ad: false, cd: false });
    assert.deepEqual(m.answers, [
      { name: 'www.example.com', type: 'CNAME', class: 'IN', ttl: 300, data: 'web.example.com' },
      { name: 'web.example.com', type: 'A', class: 'IN', ttl: 60, data: '93.184.216.34' },
    ]);
  });

  test('rcode, opcode and unknown type/class names', () => {
    const buf = Buffer.concat([header({ id: 7, flags: 0x8000 | (5 << 11) | 3, qd: 1 }), question('x', 65534, 9)]);
    const m = readMessage(buf, 0, buf.length, OPTS);
    assert.equal(m.opCode, 'UPDATE');
    assert.equal(m.code, 'NXDOMAIN');
    assert.deepEqual(m.questions, [{ name: 'x', type: 'TYPE65534', class: 'CLASS9' }]);
    const chaos = Buffer.concat([header({ id: 7, flags: 0x0000, qd: 1 }), question('version.bind', 16, 3)]);
    assert.deepEqual(readMessage(chaos, 0, chaos.length, OPTS).questions, [{ name: 'version.bind', type: 'TXT', class: 'CH' }]);
  });

  test('a message shorter than the header is truncated', () => {
    const m = readMessage(hex('1234 0100 0001'), 0, 6, OPTS);
    assert.equal(m.issue, 'dns.truncated');
    assert.equal(m.issueOffset, 6);
    assert.equal(m.questionsRead, false);
  });

  test('records cut short: what was read is kept, the failure is named with its offset', () => {
    const full = Buffer.concat([header({ id: 1, flags: 0x8180, qd: 1, an: 2 }), question('a.test', 1),
      rr('a.test', 1, 1, 5, hex('01020304')), rr('a.test', 1, 1, 5, hex('05060708'))]);
    const cut = full.subarray(0, full.length - 2);
    const m = readMessage(cut, 0, cut.length, OPTS);
    assert.equal(m.issue, 'dns.truncated');
    // Question 12..23, first record 24..45 (owner 8 + 10 + RDATA 4), second at 46: its RDLENGTH at 46 + 8 + 8.
    assert.equal(m.issueOffset, 62);
    assert.deepEqual(m.answers.map((a) => a.data), ['1.2.3.4']);
  });

  test('records past maxRecordsPerSection are stepped over and the next section is still read', () => {
    const answers = [1, 2, 3].map((i) => rr('a.test', 1, 1, 5, Buffer.from([10, 0, 0, i])));
    const buf = Buffer.concat([header({ id: 1, flags: 0x8180, qd: 1, an: 3, ar: 1 }), question('a.test', 1), ...answers,
      rr('b.test', 1, 1, 5, hex('0a000009'))]);
    const m = readMessage(buf, 0, buf.length, { ...OPTS, maxRecordsPerSection: 2 });
    assert.equal(m.issue, '');
    assert.deepEqual(m.answers.map((a) => a.data), ['10.0.0.1', '10.0.0.2']);
    assert.deepEqual(m.additionals.map((a) => a.data), ['10.0.0.9']);
    assert.deepEqual(m.weird, ['dns.records_limit']);
  });

  test('mDNS: the top class bit is unicast-response in questions and cache-flush in records', () => {
    const buf = Buffer.concat([header({ id: 0, flags: 0x8400, qd: 1, an: 1 }), question('printer.local', 1, 0x8001),
      rr('printer.local', 1, 0x8001, 120, hex('c0a80105'))]);
    const m = readMessage(buf, 0, buf.length, { ...OPTS, mdns: true });
    assert.deepEqual(m.questions, [{ name: 'printer.local', type: 'A', class: 'IN', unicastResponse: true }]);
    assert.deepEqual(m.answers, [{ name: 'printer.local', type: 'A', class: 'IN', ttl: 120, data: '192.168.1.5', cacheFlush: true }]);
    // Outside mDNS the same bits are just a class number.
    assert.equal(readMessage(buf, 0, buf.length, OPTS).questions[0].class, 'CLASS32769');
  });
});

describe('dns message: names and pointers', () => {
  function firstName(body: string, opts = OPTS) {
    const buf = Buffer.concat([header({ id: 1, flags: 0, qd: 1 }), hex(body)]);
    const m = readMessage(buf, 0, buf.length, opts);
    return { name: m.questions[0]?.name, issue: m.issue, offset: m.issueOffset };
  }

  test('a pointer to itself is a loop', () => {
    // @12 c00c  pointer to offset 12 (itself)
    assert.deepEqual(firstName('c00c 0001 0001'), { name: undefined, issue: 'dns.bad_pointer', offset: 12 });
  });

  test('two pointers to each other are a loop', () => {
    // @12 0161 00 000a 0001                          question "a" NULL IN
    // @19 0162 c00c 000a 0001 00000000 0002 c023     record "b.a" NULL, RDATA @33 = pointer to 35
    // @35 c021 000a 0001 00000000 0000               record whose owner points to 33, which points back to 35
    const buf = hex(`0001 8000 0001 0002 0000 0000
      0161 00 000a 0001
      0162 c00c 000a 0001 00000000 0002 c023
      c021 000a 0001 00000000 0000`);
    const m = readMessage(buf, 0, buf.length, OPTS);
    assert.equal(m.issue, 'dns.bad_pointer');
    assert.equal(m.issueOffset, 35);
    assert.deepEqual(m.answers, [{ name: 'b.a', type: 'NULL', class: 'IN', ttl: 0, data: '\\# 2 C023' }]);
  });

  test('a forward pointer is refused', () => {
    // @12 c012  pointer to 18, past the name itself;  @14 0001 0001  @18 0161 00
    assert.deepEqual(firstName('c012 0001 0001 0161 00'), { name: undefined, issue: 'dns.bad_pointer', offset: 12 });
  });

  test('pointer hops up to maxPointerHops are followed, one more is refused', () => {
    // @12 0161 00 000a 0001                   question "a"
    // @19 0162 c00c 000a 0001 00000000 0000   "b" -> 12
    // @33 0163 c013 000a 0001 00000000 0000   "c" -> 19
    // @47 0164 c021 000a 0001 00000000 0000   "d" -> 33 -> 19 -> 12: three hops
    const buf = hex(`0001 8000 0001 0003 0000 0000
      0161 00 000a 0001
      0162 c00c 000a 0001 00000000 0000
      0163 c013 000a 0001 00000000 0000
      0164 c021 000a 0001 00000000 0000`);
    const three = readMessage(buf, 0, buf.length, { ...OPTS, maxPointerHops: 3 });
    assert.equal(three.issue, '');
    assert.deepEqual(three.answers.map((a) => a.name), ['b.a', 'c.b.a', 'd.c.b.a']);
    const two = readMessage(buf, 0, buf.length, { ...OPTS, maxPointerHops: 2 });
    assert.equal(two.issue, 'dns.bad_pointer');
    assert.equal(two.issueOffset, 47);
    assert.equal(two.answers.length, 2);
  });

  test('a name of 255 octets is read, 256 is too long', () => {
    const l63 = '3f' + '61'.repeat(63);
    // 3 labels of 63 (3 * 64 = 192) + one of 61 (62) + the root (1) = 255 octets.
    const ok = firstName(l63.repeat(3) + '3d' + '62'.repeat(61) + '00 0001 0001');
    assert.equal(ok.issue, '');
    assert.equal(ok.name!.length, 63 * 3 + 61 + 3);
    const long = firstName(l63.repeat(3) + '3e' + '62'.repeat(62) + '00 0001 0001');
    assert.deepEqual(long, { name: undefined, issue: 'dns.name_too_long', offset: 12 });
  });

  test('odd bytes in labels are escaped like dig', () => {
    // 03 612e62 ("a.b")  04 20 5c 00 ff  (space, backslash, NUL, 0xff)  00
    assert.equal(firstName('03612e62 04205c00ff 00 0001 0001').name, 'a\\046b.\\032\\\\\\000\\255');
  });

  test('the root name is "."', () => {
    assert.equal(firstName('00 0002 0001').name, '.');
  });

  test('extended label types (01, 10) are refused', () => {
    assert.deepEqual(firstName('4161 00 0001 0001'), { name: undefined, issue: 'dns.bad_label_type', offset: 12 });
    assert.deepEqual(firstName('8161 00 0001 0001'), { name: undefined, issue: 'dns.bad_label_type', offset: 12 });
  });

  test('a label running past the end is truncated', () => {
    assert.deepEqual(firstName('0561 62'), { name: undefined, issue: 'dns.truncated', offset: 12 });
  });
});

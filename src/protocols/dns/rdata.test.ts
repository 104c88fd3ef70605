import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readMessage, type DnsReadOptions } from './message.js';
import { header, hex, question, rr, u16, u32, wireName } from './testing.js';

const OPTS: DnsReadOptions = { maxRecordsPerSection: 1000, maxPointerHops: 64, mdns: false };

/** The single answer of a response carrying `rdata` of `type` (question and owner: x.test). */
function answer(type: number, rdata: Buffer) {
  const msg = Buffer.concat([header({ id: 1, flags: 0x8180, qd: 1, an: 1 }), question('x.test', type), rr('x.test', type, 1, 60, rdata)]);
  const m = readMessage(msg, 0, msg.length, OPTS);
  assert.equal(m.issue, '');
  return { data: m.answers[0].data, type: m.answers[0].type, weird: m.weird };
}

function data(type: number, rdata: Buffer): string {
  const a = answer(type, rdata);
  assert.deepEqual(a.weird, [], `no weirdness for ${a.type}`);
  return a.data;
}

const str = (s: string) => Buffer.concat([Buffer.from([Buffer.byteLength(s, 'latin1')]), Buffer.from(s, 'latin1')]);

describe('dns rdata', () => {
  test('A', () => assert.equal(data(1, hex('c0000201')), '192.0.2.1'));

  test('AAAA in RFC 5952 text', () => {
    const cases: [string, string][] = [
      ['20010db8000000000000000000000001', '2001:db8::1'],
      ['00000000000000000000000000000001', '::1'],
      ['00000000000000000000000000000000', '::'],
      ['00010000000000000000000000000000', '1::'],
      // RFC 5952 4.2.3: the longest run is shortened; on a tie, the first.
      ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
      ['20010000000000010000000000000001', '2001:0:0:1::1'],
      // RFC 5952 4.2.2: "The symbol "::" MUST NOT be used to shorten just one 16-bit 0 field."
      ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
      ['20010DB8AAAABBBBCCCCDDDDEEEEFFFF', '2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff'],
      // RFC 5952 5: IPv4-mapped addresses keep the dotted quad.
      ['00000000000000000000ffffc0000201', '::ffff:192.0.2.1'],
    ];
    for (const [bytes, text] of cases) assert.equal(data(28, hex(bytes)), text, bytes);
  });

  test('names: CNAME, NS, PTR, DNAME', () => {
    for (const type of [5, 2, 12, 39]) assert.equal(data(type, wireName('target.example')), 'target.example');
  });

  test('MX', () => assert.equal(data(15, Buffer.concat([u16(10), wireName('mail.example.com')])), '10 mail.example.com'));

  test('TXT: strings quoted and joined like dig, odd bytes escaped', () => {
    assert.equal(data(16, Buffer.concat([str('v=spf1 -all'), str('second')])), '"v=spf1 -all" "second"');
    assert.equal(data(16, Buffer.concat([str('a"b\\c'), Buffer.from([2, 0x00, 0xe9])])), '"a\\"b\\\\c" "\\000\\233"');
    assert.equal(data(16, Buffer.from([0])), '""');
  });

  test('SRV', () => assert.equal(data(33, Buffer.concat([u16(10), u16(20), u16(8080), wireName('www.example')])), '10 20 8080 www.example'));

  test('SOA like dig', () => {
    const rd = Buffer.concat([wireName('ns1.example.com'), wireName('hostmaster.example.com'), u32(2024010101), u32(7200), u32(3600), u32(1209600), u32(300)]);
    assert.equal(data(6, rd), 'ns1.example.com hostmaster.example.com 2024010101 7200 3600 1209600 300');
  });

  test('HTTPS / SVCB parameters like dig', () => {
    // 0001 00                      priority 1, target "."
    // 0000 0004 0001 0004          mandatory=alpn,ipv4hint
    // 0001 0006 026832 026833      alpn="h2,h3"
    // 0002 0000                    no-default-alpn
    // 0003 0002 01bb               port=443
    // 0004 0008 c0000201 c0000202  ipv4hint=192.0.2.1,192.0.2.2
    // 0005 0003 010203             ech=AQID
    // 0006 0010 20010db8...01      ipv6hint=2001:db8::1
    // 0007 0010 "/dns-query{?dns}" dohpath (unknown to dig 9.18: keyN form is not used, the name is)
    const rd = hex(`0001 00 0000 0004 0001 0004 0001 0006 026832 026833 0002 0000 0003 0002 01bb
      0004 0008 c0000201 c0000202 0005 0003 010203 0006 0010 20010db8000000000000000000000001`);
    assert.equal(data(65, Buffer.concat([rd, u16(7), u16(16), Buffer.from('/dns-query{?dns}')])),
      '1 . mandatory=alpn,ipv4hint alpn="h2,h3" no-default-alpn port=443 ipv4hint=192.0.2.1,192.0.2.2 ech=AQID ipv6hint=2001:db8::1 dohpath="/dns-query{?dns}"');
    // AliasMode (priority 0) with a target, and an unknown key.
    assert.equal(data(64, Buffer.concat([u16(0), wireName('svc.example'), u16(65000), u16(2), Buffer.from('hi')])), '0 svc.example key65000="hi"');
  });

  test('HTTPS with keys out of order is bad RDATA, shown in the generic form', () => {
    const a = answer(65, hex('0001 00 0003 0002 01bb 0001 0003 026832'));
    assert.equal(a.data, '\\# 16 0001000003000201BB00010003026832');
    assert.deepEqual(a.weird, ['dns.bad_rdata']);
  });

  test('CAA', () => assert.equal(data(257, Buffer.concat([Buffer.from([0, 5]), Buffer.from('issueletsencrypt.org')])), '0 issue "letsencrypt.org"'));

  test('DS, DNSKEY, RRSIG, NSEC', () => {
    assert.equal(data(43, hex('3039 08 02 0123456789abcdef')), '12345 8 2 0123456789ABCDEF');
    assert.equal(data(48, hex('0101 03 0d 00010203')), '257 3 13 AAECAw==');
    // RRSIG: A, alg 13, 2 labels, TTL 300, expiration 2024-01-31 00:00:00, inception 2024-01-01 00:00:00, tag 12345
    const rrsig = Buffer.concat([u16(1), Buffer.from([13, 2]), u32(300), u32(1706659200), u32(1704067200), u16(12345), wireName('example.com'), hex('deadbeef')]);
    assert.equal(data(46, rrsig), 'A 13 2 300 20240131000000 20240101000000 12345 example.com 3q2+7w==');
    // NSEC: next name, window 0 bitmap 6200 0000 0003 -> A(1) NS(2) SOA(6) ... RRSIG(46) NSEC(47)
    const nsec = Buffer.concat([wireName('b.example.com'), hex('0006 62000000 0003')]);
    assert.equal(data(47, nsec), 'b.example.com A NS SOA RRSIG NSEC');
  });

  test('unknown types in the RFC 3597 generic form', () => {
    assert.equal(data(65534, hex('abcdef')), '\\# 3 ABCDEF');
    assert.equal(data(65534, Buffer.alloc(0)), '\\# 0');
  });

  test('RDATA that does not fit its type falls back to the generic form and is counted', () => {
    const a = answer(1, hex('0102030405'));
    assert.equal(a.data, '\\# 5 0102030405');
    assert.deepEqual(a.weird, ['dns.bad_rdata']);
    // A CNAME whose name runs past RDLENGTH.
    const c = answer(5, hex('03616263'));
    assert.equal(c.data, '\\# 4 03616263');
    assert.deepEqual(c.weird, ['dns.truncated']);
  });
});

describe('dns EDNS (OPT)', () => {
  test('payload size, version, DO, extended rcode, client subnet and cookie', () => {
    // OPT: owner root, CLASS 1232, TTL 01 00 8000 (ext rcode 1, version 0, DO),
    // options: 0008 0007 0001 18 00 c63364   CLIENT-SUBNET 198.51.100.0/24/0
    //          000a 0008 0102030405060708     COOKIE (client cookie only)
    //          000f 0006 0012 6f6f707321      EDE 18 "oops!"
    const opt = Buffer.concat([hex('00 0029 04d0 01008000'), u16(11 + 12 + 11), hex('0008 0007 0001 18 00 c63364'),
      hex('000a 0008 0102030405060708'), hex('000f 0007 0012 6f6f707321')]);
    const msg = Buffer.concat([header({ id: 9, flags: 0x8180, qd: 1, ar: 1 }), question('x.test', 1), opt]);
    const m = readMessage(msg, 0, msg.length, OPTS);
    assert.equal(m.issue, '');
    // RFC 6891 6.1.3: the 12-bit RCODE is the OPT's 8 upper bits and the header's 4: 1 << 4 | 0 = 16.
    assert.equal(m.rcode, 16);
    assert.equal(m.code, 'BADVERS');
    assert.deepEqual(m.edns, {
      udpSize: 1232, version: 0, do: true, extendedRcode: 1,
      options: [
        { code: 8, name: 'CLIENT-SUBNET', data: '198.51.100.0/24/0' },
        { code: 10, name: 'COOKIE', data: '0102030405060708' },
        { code: 15, name: 'EDE', data: '18 "oops!"' },
      ],
    });
    assert.deepEqual(m.additionals, [{
      name: '.', type: 'OPT', class: 'CLASS1232', ttl: 0x01008000,
      data: 'udp=1232 version=0 do CLIENT-SUBNET=198.51.100.0/24/0 COOKIE=0102030405060708 EDE=18 "oops!"',
    }]);
  });

  test('an option running past RDLENGTH is counted and shown raw', () => {
    const msg = Buffer.concat([header({ id: 9, flags: 0, qd: 1, ar: 1 }), question('x.test', 1), hex('00 0029 1000 00000000 0004 000a 0008')]);
    const m = readMessage(msg, 0, msg.length, OPTS);
    assert.deepEqual(m.weird, ['dns.bad_rdata']);
    assert.deepEqual(m.edns, { udpSize: 4096, version: 0, do: false, extendedRcode: 0, options: [] });
    assert.equal(m.additionals[0].data, 'udp=4096 version=0 \\# 4 000A0008');
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ipv4Text, ipv6Text } from './ip-text.js';
import { ipv6Bytes } from './test-packets.js';

/** 16 bytes from 8 groups, so the input does not go through any text parser. */
const v6 = (...g: number[]): Buffer => {
  const b = Buffer.alloc(16);
  g.forEach((x, i) => b.writeUInt16BE(x, 2 * i));
  return b;
};

describe('ipv4Text', () => {
  test('dotted quad at an offset, every octet boundary', () => {
    const b = Buffer.from([0xff, 0, 10, 255, 9, 100, 0xee]);
    assert.equal(ipv4Text(b, 1), '0.10.255.9');
    assert.equal(ipv4Text(b, 2), '10.255.9.100');
    assert.equal(ipv4Text(Buffer.from([192, 168, 1, 1]), 0), '192.168.1.1');
    assert.equal(ipv4Text(Buffer.from([0, 0, 0, 0]), 0), '0.0.0.0');
    assert.equal(ipv4Text(Buffer.from([255, 255, 255, 255]), 0), '255.255.255.255');
  });
  test('cache returns the same text on the second call', () => {
    const b = Buffer.from([1, 2, 3, 4]);
    assert.equal(ipv4Text(b, 0), '1.2.3.4');
    assert.equal(ipv4Text(b, 0), '1.2.3.4');
  });
});

describe('ipv6Text (RFC 5952)', () => {
  const cases: [string, Buffer, string][] = [
    ['4.1 leading zeros suppressed', v6(0x2001, 0x0db8, 0, 0, 0, 0, 0, 0x0001), '2001:db8::1'],
    ['4.2.1 :: used to its maximum', v6(0x2001, 0xdb8, 0, 0, 0, 0, 2, 1), '2001:db8::2:1'],
    ['4.2.2 one 0 field is not shortened', v6(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1), '2001:db8:0:1:1:1:1:1'],
    ['4.2.3 longest run is shortened', v6(0x2001, 0, 0, 1, 0, 0, 0, 1), '2001:0:0:1::1'],
    ['4.2.3 equal runs: the first is shortened', v6(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1), '2001:db8::1:0:0:1'],
    ['4.3 lowercase', v6(0x2001, 0xdb8, 0xaaaa, 0xbbbb, 0xcccc, 0xdddd, 0xeeee, 0xaaaa), '2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaaa'],
    ['unspecified', v6(0, 0, 0, 0, 0, 0, 0, 0), '::'],
    ['loopback (not mixed notation)', v6(0, 0, 0, 0, 0, 0, 0, 1), '::1'],
    ['run at the end', v6(0xfe80, 0, 0, 0, 0, 0, 0, 0), 'fe80::'],
    ['link-local', v6(0xfe80, 0, 0, 0, 0x0211, 0x22ff, 0xfe33, 0x4455), 'fe80::211:22ff:fe33:4455'],
    ['5 IPv4-mapped in mixed notation', v6(0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201), '::ffff:192.0.2.1'],
    ['no zero group at all', v6(1, 2, 3, 4, 5, 6, 7, 8), '1:2:3:4:5:6:7:8'],
    ['zero run of two in the middle', v6(1, 0, 0, 4, 5, 6, 7, 8), '1::4:5:6:7:8'],
    ['single zeros at both ends stay', v6(0, 1, 2, 3, 4, 5, 6, 0), '0:1:2:3:4:5:6:0'],
    ['ffff in group 5 without an 80-bit zero prefix is not mapped', v6(0, 0, 0, 0, 1, 0xffff, 0xc000, 0x0201), '::1:ffff:c000:201'],
  ];
  for (const [name, bytes, text] of cases) {
    test(name, () => assert.equal(ipv6Text(bytes, 0), text));
  }
  test('at an offset inside a larger buffer', () => {
    const b = Buffer.concat([Buffer.from([0xab, 0xcd]), v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), Buffer.from([0xef])]);
    assert.equal(ipv6Text(b, 2), '2001:db8::1');
  });
  test('agrees with the test builder on a round trip', () => {
    for (const text of ['2001:db8::1', 'fe80::1:2', '::ffff:10.0.0.1', '1:2:3:4:5:6:7:8', '::']) {
      assert.equal(ipv6Text(ipv6Bytes(text), 0), text);
    }
  });
});

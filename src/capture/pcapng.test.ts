import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IssueCounter } from '../common/index.js';
import { block, collect, epb, idb, isb, nrb, packetBlock, shb, spb, type SeenPacket } from './capture-writer.js';
import { LinkType } from './types.js';

/*
 * The smallest useful little-endian pcapng: SHB, one Ethernet IDB (µs), one EPB.
 *   0000  0a 0d 0d 0a 1c 00 00 00  4d 3c 2b 1a 01 00 00 00   SHB, length 28, byte-order magic, v1.0
 *   0010  ff ff ff ff ff ff ff ff  1c 00 00 00               section length -1, trailer
 *   001c  01 00 00 00 14 00 00 00  01 00 00 00 00 00 04 00   IDB, length 20, LINKTYPE_ETHERNET, snaplen 262144
 *   002c  14 00 00 00                                        trailer
 *   0030  06 00 00 00 24 00 00 00  00 00 00 00 c6 0e 06 00   EPB, length 36, interface 0, ts high
 *   0040  00 d9 f1 91 02 00 00 00  02 00 00 00 ab cd 00 00   ts low (1705095875123456 µs), cap 2, orig 2, data + pad
 *   0050  24 00 00 00                                        trailer
 */
const TINY_PCAPNG_HEX =
  '0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000' +
  '0100000014000000010000000000040014000000' +
  '060000002400000000000000c60e060000d9f1910200000002000000abcd000024000000';

describe('pcapng', () => {
  test('the hex-dump fixture reads as one Ethernet packet', () => {
    const bytes = Buffer.from(TINY_PCAPNG_HEX, 'hex');
    assert.equal(bytes.length, 0x54);
    const r = collect([bytes]);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.packets, [
      { linkType: 1, interfaceId: 0, tsSec: 1705095875, tsNsec: 123456000, capLen: 2, origLen: 2, data: 'abcd', recordOffset: 0x30 },
    ]);
    assert.deepEqual(r.summary, {
      format: 'pcapng',
      packets: 1,
      bytes: 2,
      fileBytes: 0x54,
      interfaces: [{ linkType: 1, snapLen: 262144, tsUnitsPerSec: 1e6 }],
      truncatedRecords: 0,
    });
  });

  /**
   * Section 1 in `firstLE` byte order: an Ethernet interface (µs, snaplen 8, "eth0") and a
   * raw-IP one (ns, "lo"); EPBs on both, an SPB, an obsolete Packet Block, and blocks a
   * reader skips (NRB, ISB, custom, unknown). Section 2 in the other byte order: one
   * Linux-cooked interface with 2^-20 s units and a 10^9 s offset.
   */
  function twoSections(firstLE: boolean): { file: Buffer; expected: SeenPacket[] } {
    const le1 = firstLE;
    const le2 = !firstLE;
    const parts: Buffer[] = [
      shb(le1),
      idb(le1, { linkType: LinkType.ETHERNET, snapLen: 8, name: 'eth0' }),
      idb(le1, { linkType: LinkType.RAW, tsresol: 9, name: 'lo' }),
      nrb(le1),
    ];
    const offsets: number[] = [];
    const add = (b: Buffer, isPacket: boolean): void => {
      if (isPacket) offsets.push(parts.reduce((s, p) => s + p.length, 0));
      parts.push(b);
    };
    add(epb(le1, { interfaceId: 0, ts: 1_700_000_000_123_456n, data: [1, 2, 3, 4, 5, 6], origLen: 60 }), true);
    // 1_700_000_000_987_654_321 ns is far above 2^53: the last digits must survive.
    add(epb(le1, { interfaceId: 1, ts: 1_700_000_000_987_654_321n, data: [0x45, 0, 0, 0x14, 9] }), true);
    add(spb(le1, 20, [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x11, 0x22]), true);
    add(isb(le1, 0), false);
    add(block(le1, 0x00000bad, Buffer.from('PEN!custom data')), false);
    add(block(le1, 0x12345678, Buffer.from('a block nobody knows')), false);
    add(packetBlock(le1, { interfaceId: 1, ts: 999_999_999n, data: [7, 7] }), true);
    add(shb(le2), false);
    add(idb(le2, { linkType: LinkType.LINUX_SLL, tsresol: 0x94, tsoffset: 1_000_000_000n }), false);
    // 5 s and half a second in 2^-20 s units, then 3 units (2861.02… ns, truncated to 2861).
    add(epb(le2, { interfaceId: 0, ts: (5n << 20n) + 524_288n, data: [0, 4] }), true);
    add(epb(le2, { interfaceId: 0, ts: 3n, data: [] }), true);
    const file = Buffer.concat(parts);
    const p = (o: Omit<SeenPacket, 'recordOffset'>, i: number): SeenPacket => ({ ...o, recordOffset: offsets[i] });
    const expected = [
      p({ linkType: 1, interfaceId: 0, tsSec: 1_700_000_000, tsNsec: 123_456_000, capLen: 6, origLen: 60, data: '010203040506' }, 0),
      p({ linkType: 101, interfaceId: 1, tsSec: 1_700_000_000, tsNsec: 987_654_321, capLen: 5, origLen: 5, data: '4500001409' }, 1),
      p({ linkType: 1, interfaceId: 0, tsSec: 0, tsNsec: 0, capLen: 8, origLen: 20, data: 'aabbccddeeff1122' }, 2),
      p({ linkType: 101, interfaceId: 1, tsSec: 0, tsNsec: 999_999_999, capLen: 2, origLen: 2, data: '0707' }, 3),
      p({ linkType: 113, interfaceId: 2, tsSec: 1_000_000_005, tsNsec: 500_000_000, capLen: 2, origLen: 2, data: '0004' }, 4),
      p({ linkType: 113, interfaceId: 2, tsSec: 1_000_000_000, tsNsec: 2861, capLen: 0, origLen: 0, data: '' }, 5),
    ];
    return { file, expected };
  }

  for (const firstLE of [true, false]) {
    test(`two sections (${firstLE ? 'little then big' : 'big then little'}-endian): every block kind`, () => {
      const { file, expected } = twoSections(firstLE);
      const issues = new IssueCounter();
      const r = collect([file], { issues });
      assert.equal(r.error, undefined);
      assert.deepEqual(r.packets, expected);
      assert.deepEqual(r.summary, {
        format: 'pcapng',
        packets: 6,
        bytes: 23,
        fileBytes: file.length,
        interfaces: [
          { linkType: 1, snapLen: 8, name: 'eth0', tsUnitsPerSec: 1e6 },
          { linkType: 101, snapLen: 0, name: 'lo', tsUnitsPerSec: 1e9 },
          { linkType: 113, snapLen: 0, tsUnitsPerSec: 1_048_576 },
        ],
        truncatedRecords: 2,
      });
      assert.deepEqual(issues.toJSON(), { 'pcapng.unknown_block': 1 });
    });
  }

  test('a packet on an interface its section does not describe is damage (interfaces reset per section)', () => {
    const le = true;
    const first = Buffer.concat([shb(le), idb(le, { linkType: 1 }), idb(le, { linkType: 1 }), epb(le, { interfaceId: 1, ts: 1n, data: [1] })]);
    const second = Buffer.concat([shb(le), idb(le, { linkType: 1 })]);
    const bad = epb(le, { interfaceId: 1, ts: 2n, data: [2] });
    const r = collect([Buffer.concat([first, second, bad])]);
    assert.deepEqual(r.packets.map((p) => p.data), ['01']);
    assert.equal(r.error?.code, 'pcapng.unknown_interface');
    assert.equal(r.error?.offset, first.length + second.length);
    assert.match(r.error!.message, /interface 1, but its section describes 1/);
  });

  test('a Simple Packet Block before any interface is damage', () => {
    const r = collect([Buffer.concat([shb(true), spb(true, 1, [1])])]);
    assert.equal(r.error?.code, 'pcapng.unknown_interface');
    assert.equal(r.error?.offset, 28);
  });

  describe('damaged block lengths', () => {
    const head = Buffer.concat([shb(true), idb(true, { linkType: 1 })]);
    const good = epb(true, { interfaceId: 0, ts: 1n, data: [1, 2, 3, 4] });
    const at = head.length + good.length;
    const cases: [string, Buffer, RegExp][] = [
      ['not a multiple of 4', block(true, 6, Buffer.alloc(24), { leading: 38, trailing: 38 }), /total length 38 is not a multiple of 4/],
      ['below 12', block(true, 6, Buffer.alloc(24), { leading: 8 }), /total length 8 is below the minimum of 12/],
      ['trailer differs', block(true, 6, Buffer.alloc(24), { trailing: 40 }), /trailing length 40 differs from the leading length 36/],
      ['EPB shorter than its fixed fields', block(true, 6, Buffer.alloc(12)), /Enhanced Packet Block of total length 24 is shorter than its minimum 32/],
      ['past maxBlockBytes', block(true, 6, Buffer.alloc(24), { leading: 0x7ffffffc }), /exceeds the limit maxBlockBytes=16777216/],
    ];
    for (const [name, bad, message] of cases) {
      test(name, () => {
        const r = collect([Buffer.concat([head, good, bad, good])]);
        assert.deepEqual(r.packets.map((p) => p.data), ['01020304']);
        assert.equal(r.error?.code, 'pcapng.bad_block_length');
        assert.equal(r.error?.offset, at);
        assert.match(r.error!.message, message);
      });
    }
  });

  test('an EPB whose captured length exceeds its block is damage', () => {
    const head = Buffer.concat([shb(true), idb(true, { linkType: 1 })]);
    const r = collect([Buffer.concat([head, epb(true, { interfaceId: 0, ts: 1n, data: [1, 2, 3, 4], capLen: 100 })])]);
    assert.equal(r.error?.code, 'pcapng.bad_packet_length');
    assert.equal(r.error?.offset, head.length);
  });

  test('a bad byte-order magic in a later section is damage at that magic', () => {
    const first = Buffer.concat([shb(true), idb(true, { linkType: 1 }), epb(true, { interfaceId: 0, ts: 1n, data: [1] })]);
    const bad = shb(true);
    bad.writeUInt32LE(0x11223344, 8);
    const r = collect([Buffer.concat([first, bad])]);
    assert.equal(r.packets.length, 1);
    assert.equal(r.error?.code, 'pcapng.bad_byte_order_magic');
    assert.equal(r.error?.offset, first.length + 8);
  });

  test('an IDB option running past its block is damage', () => {
    const body = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 40, 0, 0x65, 0x74, 0x68, 0x30]); // if_name claiming 40 bytes
    const r = collect([Buffer.concat([shb(true), block(true, 1, body)])]);
    assert.equal(r.error?.code, 'pcapng.bad_option');
    assert.equal(r.error?.offset, 28 + 16);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IssueCounter } from '../common/index.js';
import { collect, pcapFile, pcapRecords, type SeenPacket } from './capture-writer.js';
import { createPcapRecordParser } from './capture-parser.js';
import { LinkType, type RawPacket } from './types.js';

/*
 * A little-endian microsecond pcap of one Ethernet record cut to 4 of its 60 bytes:
 *   0000  d4 c3 b2 a1 02 00 04 00  00 00 00 00 00 00 00 00   magic, v2.4, thiszone, sigfigs
 *   0010  ff ff 00 00 01 00 00 00                            snaplen 65535, LINKTYPE_ETHERNET
 *   0018  c3 b2 a1 65 40 e2 01 00  04 00 00 00 3c 00 00 00   ts 1705095875.123456, incl 4, orig 60
 *   0028  de ad be ef                                        data
 */
const TINY_PCAP_HEX =
  'd4c3b2a1020004000000000000000000ffff000001000000' + 'c3b2a16540e20100040000003c000000' + 'deadbeef';

describe('pcap', () => {
  test('the hex-dump fixture reads as one cut-short Ethernet packet (and the test writer writes it byte for byte)', () => {
    const bytes = Buffer.from(TINY_PCAP_HEX, 'hex');
    const written = pcapFile({ linkType: LinkType.ETHERNET, records: [{ tsSec: 1705095875, tsFrac: 123456, data: [0xde, 0xad, 0xbe, 0xef], origLen: 60 }] });
    assert.equal(written.toString('hex'), TINY_PCAP_HEX);
    const r = collect([bytes]);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.packets, [
      { linkType: 1, interfaceId: 0, tsSec: 1705095875, tsNsec: 123456000, capLen: 4, origLen: 60, data: 'deadbeef', recordOffset: 24 },
    ]);
    assert.deepEqual(r.summary, {
      format: 'pcap',
      packets: 1,
      bytes: 4,
      fileBytes: 44,
      interfaces: [{ linkType: 1, snapLen: 65535, tsUnitsPerSec: 1e6 }],
      truncatedRecords: 1,
    });
  });

  const records = [
    { tsSec: 1_700_000_000, tsFrac: 999_999, data: [1, 2, 3] },
    { tsSec: 1_700_000_001, tsFrac: 0, data: [] },
    { tsSec: 4_294_967_295, tsFrac: 5, data: Array.from({ length: 300 }, (_, i) => i & 0xff), origLen: 1500 },
  ];

  for (const littleEndian of [true, false]) {
    for (const magic of ['us', 'ns', 'modified'] as const) {
      test(`${littleEndian ? 'little' : 'big'}-endian, ${magic} magic: timestamps, lengths and bytes`, () => {
        const file = pcapFile({ littleEndian, magic, linkType: LinkType.LINUX_SLL2, snapLen: 512, records });
        const r = collect([file]);
        assert.equal(r.error, undefined);
        const hdr = magic === 'modified' ? 24 : 16;
        const nsecPer = magic === 'ns' ? 1 : 1000;
        const expected: SeenPacket[] = [];
        let offset = 24;
        for (const rec of records) {
          expected.push({
            linkType: 276,
            interfaceId: 0,
            tsSec: rec.tsSec,
            tsNsec: rec.tsFrac * nsecPer,
            capLen: rec.data.length,
            origLen: rec.origLen ?? rec.data.length,
            data: Buffer.from(rec.data).toString('hex'),
            recordOffset: offset,
          });
          offset += hdr + rec.data.length;
        }
        assert.deepEqual(r.packets, expected);
        assert.equal(r.summary!.fileBytes, file.length);
        assert.equal(r.summary!.truncatedRecords, 1);
        assert.equal(r.summary!.bytes, 303);
        assert.deepEqual(r.summary!.interfaces, [{ linkType: 276, snapLen: 512, tsUnitsPerSec: magic === 'ns' ? 1e9 : 1e6 }]);
      });
    }
  }

  test('the link-type field keeps only its low 16 bits (the upper ones carry the FCS length)', () => {
    const file = pcapFile({ linkType: 0x30000000 | LinkType.ETHERNET, records: [{ tsSec: 1, tsFrac: 2, data: [9] }] });
    assert.equal(collect([file]).packets[0].linkType, LinkType.ETHERNET);
  });

  test('a fraction of a second or more is carried into the seconds and counted', () => {
    const issues = new IssueCounter();
    const file = pcapFile({ linkType: 1, records: [{ tsSec: 10, tsFrac: 2_500_000, data: [1] }] });
    const r = collect([file], { issues });
    assert.equal(r.packets[0].tsSec, 12);
    assert.equal(r.packets[0].tsNsec, 500_000_000);
    assert.equal(issues.get('pcap.timestamp_fraction_overflow'), 1);
  });

  test('capLen above the snaplen is read and counted, or refused under strictSnapLen', () => {
    const file = pcapFile({ linkType: 1, snapLen: 4, records: [{ tsSec: 1, tsFrac: 0, data: [1, 2] }, { tsSec: 2, tsFrac: 0, data: [1, 2, 3, 4, 5] }] });
    const issues = new IssueCounter();
    const lenient = collect([file], { issues });
    assert.equal(lenient.packets.length, 2);
    assert.equal(lenient.packets[1].data, '0102030405');
    assert.equal(issues.get('pcap.cap_len_above_snaplen'), 1);

    const strict = collect([file], { strictSnapLen: true });
    assert.equal(strict.packets.length, 1);
    assert.equal(strict.error?.code, 'pcap.bad_record_length');
    assert.equal(strict.error?.offset, 24 + 16 + 2);
    assert.match(strict.error!.message, /snaplen 4/);
  });

  test('capLen past maxPacketBytes (256 KiB) is damage, after the packets before it', () => {
    const file = pcapFile({
      linkType: 1,
      snapLen: 0,
      records: [
        { tsSec: 1, tsFrac: 0, data: [7] },
        { tsSec: 2, tsFrac: 0, data: [], inclLen: 262_145 },
      ],
    });
    const r = collect([file]);
    assert.deepEqual(r.packets.map((p) => p.data), ['07']);
    assert.equal(r.error?.code, 'pcap.bad_record_length');
    assert.equal(r.error?.offset, 24 + 17);
    assert.match(r.error!.message, /maxPacketBytes=262144/);
    // The limit is configurable.
    assert.equal(collect([file], { maxPacketBytes: 16 }).error?.offset, 24 + 17);
  });

  test('a major version other than 2 is refused', () => {
    const r = collect([pcapFile({ linkType: 1, major: 1, records: [] })]);
    assert.equal(r.error?.code, 'pcap.bad_version');
    assert.equal(r.error?.offset, 4);
  });
});

describe('createPcapRecordParser (live batches without a file header)', () => {
  test('parses record batches, split anywhere, with recordOffset -1', () => {
    const batch = pcapRecords([
      { tsSec: 1_700_000_000, tsFrac: 123_456_789, data: [0x45, 0, 0, 20] },
      { tsSec: 1_700_000_001, tsFrac: 1, data: [0x60, 0], origLen: 40 },
    ]);
    for (let cut = 0; cut <= batch.length; cut++) {
      const seen: Omit<RawPacket, 'data'>[] = [];
      const datas: string[] = [];
      const parser = createPcapRecordParser(LinkType.RAW, 65535, 'ns', (p) => {
        const { data, ...rest } = p;
        seen.push(rest);
        datas.push(data.toString('hex'));
      });
      parser.push(batch.subarray(0, cut));
      parser.push(batch.subarray(cut));
      const summary = parser.end();
      assert.deepEqual(seen, [
        { linkType: 101, interfaceId: 0, tsSec: 1_700_000_000, tsNsec: 123_456_789, capLen: 4, origLen: 4, recordOffset: -1 },
        { linkType: 101, interfaceId: 0, tsSec: 1_700_000_001, tsNsec: 1, capLen: 2, origLen: 40, recordOffset: -1 },
      ]);
      assert.deepEqual(datas, ['45000014', '6000']);
      assert.equal(summary.fileBytes, batch.length);
      assert.equal(summary.truncatedRecords, 1);
      assert.equal(parser.format, 'pcap');
    }
  });

  test('big-endian records and microseconds', () => {
    const seen: [number, number][] = [];
    const parser = createPcapRecordParser(LinkType.ETHERNET, 0, 'us', (p) => seen.push([p.tsSec, p.tsNsec]), { littleEndian: false });
    parser.push(pcapRecords([{ tsSec: 5, tsFrac: 7, data: [1] }], false));
    parser.end();
    assert.deepEqual(seen, [[5, 7000]]);
  });
});

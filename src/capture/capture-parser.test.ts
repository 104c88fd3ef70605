import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { collect, epb, idb, isb, nrb, packetBlock, pcapFile, shb, spb, block } from './capture-writer.js';
import { createCaptureParser } from './capture-parser.js';
import { CaptureFileError, LinkType } from './types.js';

const pcapLE = pcapFile({
  linkType: LinkType.ETHERNET,
  snapLen: 64,
  records: [
    { tsSec: 1_700_000_000, tsFrac: 1, data: [1, 2, 3, 4, 5] },
    { tsSec: 1_700_000_002, tsFrac: 999_999, data: [] },
    { tsSec: 1_700_000_003, tsFrac: 3, data: Array.from({ length: 40 }, (_, i) => i), origLen: 1514 },
  ],
});
const pcapBEns = pcapFile({
  littleEndian: false,
  magic: 'ns',
  linkType: LinkType.RAW,
  records: [
    { tsSec: 1, tsFrac: 999_999_999, data: [0x45, 0] },
    { tsSec: 2, tsFrac: 0, data: [0x60, 1, 2] },
  ],
});
const pcapng = Buffer.concat([
  shb(true),
  idb(true, { linkType: LinkType.ETHERNET, snapLen: 4, name: 'eth0' }),
  epb(true, { interfaceId: 0, ts: 1_700_000_000_000_001n, data: [1, 2, 3] }),
  nrb(true),
  spb(true, 9, [9, 8, 7, 6]),
  isb(true, 0),
  block(true, 0x7777, Buffer.from('unknown')),
  shb(false),
  idb(false, { linkType: LinkType.LINUX_SLL2, tsresol: 9 }),
  idb(false, { linkType: LinkType.RAW, tsresol: 0x94 }),
  epb(false, { interfaceId: 1, ts: 1_048_577n, data: [0x45] }),
  packetBlock(false, { interfaceId: 0, ts: 1_700_000_000_123_456_789n, data: [5, 5, 5, 5, 5] }),
]);

describe('chunking never changes the result', () => {
  for (const [name, file, packets] of [
    ['pcap little-endian µs', pcapLE, 3],
    ['pcap big-endian ns', pcapBEns, 2],
    ['pcapng, two sections', pcapng, 4],
  ] as const) {
    test(`${name}: split at every byte position, and one byte at a time`, () => {
      const whole = collect([file]);
      assert.equal(whole.error, undefined);
      assert.equal(whole.packets.length, packets);
      for (let cut = 0; cut <= file.length; cut++) {
        assert.deepEqual(collect([file.subarray(0, cut), file.subarray(cut)]), whole, `split at ${cut}`);
      }
      const bytes = Array.from({ length: file.length }, (_, i) => file.subarray(i, i + 1));
      assert.deepEqual(collect(bytes), whole);
      // Three pieces: every cut pair of a coarse grid.
      for (let a = 0; a < file.length; a += 7) {
        for (let b = a; b <= file.length; b += 5) {
          assert.deepEqual(collect([file.subarray(0, a), file.subarray(a, b), file.subarray(b)]), whole, `split at ${a} and ${b}`);
        }
      }
    });
  }

  test('packets are views of the pushed chunk, and of a fresh copy only when split', () => {
    const datas: Buffer[] = [];
    const parser = createCaptureParser((p) => datas.push(p.data));
    const cut = 24 + 16 + 5 + 8; // inside the second record's header
    const a = pcapLE.subarray(0, cut);
    const b = pcapLE.subarray(cut);
    parser.push(a);
    parser.push(b);
    parser.end();
    assert.equal(datas[0].buffer, a.buffer); // no copy
    assert.notEqual(datas[1].buffer, a.buffer); // the split record was copied…
    assert.notEqual(datas[1].buffer, b.buffer);
    assert.equal(datas[2].buffer, b.buffer); // …and only it
    assert.deepEqual([...datas[0]], [1, 2, 3, 4, 5]);
    assert.equal(datas[2].length, 40);
  });

  test('offset, packets, interfaces and format as the parser goes', () => {
    const parser = createCaptureParser(() => {});
    assert.equal(parser.format, undefined);
    parser.push(pcapng.subarray(0, 3));
    assert.equal(parser.format, undefined);
    assert.equal(parser.offset, 0);
    const epbAt = 28 + 32; // SHB, IDB with an if_name option
    parser.push(pcapng.subarray(3, epbAt + 10));
    assert.equal(parser.format, 'pcapng');
    assert.equal(parser.offset, epbAt);
    assert.deepEqual(parser.interfaces, [{ linkType: 1, snapLen: 4, name: 'eth0', tsUnitsPerSec: 1e6 }]);
    parser.push(pcapng.subarray(epbAt + 10));
    assert.equal(parser.packets, 4);
    assert.equal(parser.offset, pcapng.length);
    assert.equal(parser.interfaces.length, 3);
  });
});

describe('damage', () => {
  test('a pcap file cut inside a record: every packet before it, then capture.truncated_file at that record', () => {
    const lastRecord = 24 + 21 + 16;
    for (const cut of [lastRecord + 1, lastRecord + 15, lastRecord + 16, pcapLE.length - 1]) {
      for (const split of [cut, lastRecord - 3, 30]) {
        const r = collect([pcapLE.subarray(0, split), pcapLE.subarray(split, cut)]);
        assert.equal(r.packets.length, 2, `cut ${cut}`);
        assert.equal(r.error?.code, 'capture.truncated_file');
        assert.equal(r.error?.offset, lastRecord);
      }
    }
    const exact = collect([pcapLE.subarray(0, lastRecord)]);
    assert.equal(exact.error, undefined);
    assert.equal(exact.packets.length, 2);
  });

  test('a file cut inside its header', () => {
    for (const len of [1, 3, 4, 23]) {
      const r = collect([pcapLE.subarray(0, len)]);
      assert.equal(r.packets.length, 0);
      assert.equal(r.error?.code, 'capture.truncated_file');
      assert.equal(r.error?.offset, 0);
    }
    const ng = collect([pcapng.subarray(0, 27)]);
    assert.equal(ng.error?.code, 'capture.truncated_file');
    assert.equal(ng.error?.offset, 0);
  });

  test('a pcapng file cut inside a block', () => {
    const blockAt = 28 + 32;
    const r = collect([pcapng.subarray(0, blockAt + 20)]);
    assert.equal(r.packets.length, 0);
    assert.deepEqual([r.error?.code, r.error?.offset], ['capture.truncated_file', blockAt]);
  });

  test('an empty file, and a file that is no capture', () => {
    assert.equal(collect([]).error?.code, 'capture.empty_file');
    const r = collect([Buffer.from('GET / HTTP/1.1\r\n')]);
    assert.deepEqual([r.error?.code, r.error?.offset], ['capture.unknown_format', 0]);
    assert.match(r.error!.message, /magic number 47455420/);
  });

  test('once damaged, the parser keeps failing with the same error', () => {
    const parser = createCaptureParser(() => {});
    assert.throws(() => parser.push(Buffer.from('nope')), (e: unknown) => e instanceof CaptureFileError && e.code === 'capture.unknown_format');
    assert.throws(() => parser.push(pcapLE), (e: unknown) => e instanceof CaptureFileError && e.code === 'capture.unknown_format');
    assert.throws(() => parser.end(), (e: unknown) => e instanceof CaptureFileError && e.code === 'capture.unknown_format');
  });

  test('an error thrown by the packet sink reaches the caller unchanged', () => {
    const parser = createCaptureParser(() => {
      throw new RangeError('sink');
    });
    assert.throws(() => parser.push(pcapLE), RangeError);
  });
});

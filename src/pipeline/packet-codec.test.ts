import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyDecodedPacket, type DecodedPacket } from '../decode/types.js';
import type { RawPacket } from '../capture/types.js';
import { createDecoder } from '../decode/index.js';
import { ethernetIpTcp, ethernetIpUdp } from '../decode/test-packets.js';
import { join } from 'node:path';
import { readCaptureFile } from '../capture/index.js';
import { repoRoot } from '../../test/support/paths.js';
import { BatchWriter, readBatch, readRecords } from './packet-codec.js';

function packet(i: number, payloadBytes: number): DecodedPacket {
  const p = emptyDecodedPacket();
  p.tsSec = 1_795_375_602 + i;
  p.tsNsec = (i * 7919) % 1e9;
  p.ipVersion = i % 2 === 0 ? 4 : 6;
  p.srcIp = i % 2 === 0 ? `10.0.${i % 256}.1` : `fd00::${i.toString(16)}`;
  p.dstIp = '10.0.0.2';
  p.ipProto = 6;
  p.srcPort = 40_000 + i;
  p.dstPort = 8080;
  p.tcpFlags = 0x18;
  p.seq = 0xffff_0000 + i;
  p.ack = i;
  p.window = 512;
  p.payload = Buffer.alloc(payloadBytes, i & 0xff);
  p.truncated = i % 3 === 0;
  p.vlans = i % 4 === 0 ? [100, 200] : [];
  p.tunnel = i % 5 === 0 ? 'vxlan' : '';
  p.tunnelId = i % 5 === 0 ? 42 : 0;
  p.wireLen = payloadBytes + 54;
  p.issues = i % 6 === 0 ? ['tcp.bad_option'] : [];
  return p;
}

const noRaw = (): never => {
  throw new Error('no raw records were written');
};

/** What readBatch hands back, as plain data (the packet object is reused). */
function plain(p: DecodedPacket): unknown {
  return { ...p, payload: Buffer.from(p.payload).toString('hex'), vlans: [...p.vlans], issues: [...p.issues] };
}

describe('packet batches between threads', () => {
  test('every field of every packet survives a batch, full (handed over) or partial (copied)', () => {
    const w = new BatchWriter(4096);
    const sent: unknown[] = [];
    const got: unknown[] = [];
    const batches: { batch: ArrayBuffer; length: number }[] = [];
    for (let i = 0; i < 200; i++) {
      const p = packet(i, (i * 37) % 900);
      if (!w.append(p)) {
        batches.push(w.take());
        assert.ok(w.append(p));
      }
      sent.push(plain(p));
    }
    batches.push(w.take()); // the last one is partial
    assert.ok(batches.some((b) => b.length * 2 >= b.batch.byteLength), 'some batches were handed over whole');
    assert.ok(batches.some((b) => b.batch.byteLength === b.length), 'a partial batch was copied to its length');
    const reused = emptyDecodedPacket();
    for (const b of batches) readBatch(b.batch, b.length, reused, noRaw, (p) => got.push(plain(p)));
    assert.deepEqual(got, sent);
  });

  test('a packet larger than a batch gets a batch of its own', () => {
    const w = new BatchWriter(1024);
    assert.ok(w.append(packet(1, 5000)));
    const b = w.take();
    const got: unknown[] = [];
    readBatch(b.batch, b.length, emptyDecodedPacket(), noRaw, (p) => got.push(plain(p)));
    assert.deepEqual(got, [plain(packet(1, 5000))]);
  });

  test('raw frames and decoded packets keep their order; raw ones are decoded by the receiver', () => {
    const frames = [
      ethernetIpTcp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 80, payload: Buffer.from('GET / HTTP/1.1\r\n') }),
      ethernetIpUdp({ src: 'fd00::1', dst: 'fd00::2', sport: 5353, dport: 53, payload: Buffer.from('dns?') }),
      Buffer.from('not a frame'),
    ];
    const w = new BatchWriter(1 << 16);
    const want: unknown[] = [];
    const reference = createDecoder();
    frames.forEach((data, i) => {
      const raw: RawPacket = { linkType: 1, interfaceId: 70_000 + i, tsSec: 1_795_375_602 + i, tsNsec: 999_999_999 - i, capLen: data.length, origLen: data.length + 4, data, recordOffset: 0 };
      assert.ok(w.appendRaw(raw));
      const d = reference.decode(raw);
      if (d !== null) want.push(plain(d));
      const decoded = packet(i, 10);
      assert.ok(w.append(decoded));
      want.push(plain(decoded));
    });
    const { batch, length } = w.take();
    const receiver = createDecoder();
    const seen: RawPacket[] = [];
    const got: unknown[] = [];
    readBatch(batch, length, emptyDecodedPacket(), (raw) => (seen.push({ ...raw }), receiver.decode(raw)), (p) => got.push(plain(p)));
    assert.deepEqual(got, want);
    assert.deepEqual(
      seen.map((r) => [r.interfaceId, r.tsSec, r.tsNsec, r.capLen, r.origLen, r.linkType, r.data.toString('hex')]),
      frames.map((f, i) => [70_000 + i, 1_795_375_602 + i, 999_999_999 - i, f.length, f.length + 4, 1, f.toString('hex')]),
    );
  });

  test('a live batch of bare pcap records reads back as the packets of the file, decoded the same, its cut tail left out', async () => {
    const file: { raw: RawPacket; data: Buffer }[] = [];
    // The reader's frames live in its read buffer: keep copies.
    await readCaptureFile(join(repoRoot, 'src/protocols/http/fixtures/nginx.pcap'), (p) => {
      const data = Buffer.from(p.data);
      file.push({ raw: { ...p, data }, data });
    });
    assert.ok(file.length > 20);
    // What the native capture hands over: 16-byte little-endian headers (microseconds here), then each frame.
    const parts: Buffer[] = [];
    for (const { raw, data } of file) {
      const h = Buffer.alloc(16);
      h.writeUInt32LE(raw.tsSec, 0);
      h.writeUInt32LE(raw.tsNsec / 1000, 4);
      h.writeUInt32LE(data.length, 8);
      h.writeUInt32LE(raw.origLen, 12);
      parts.push(h, data);
    }
    // A last record whose frame is cut short.
    const cut = Buffer.alloc(16);
    cut.writeUInt32LE(100, 8);
    parts.push(cut, Buffer.alloc(10));
    const batch = Buffer.concat(parts);
    const ab = batch.buffer.slice(batch.byteOffset, batch.byteOffset + batch.length);
    const reference = createDecoder();
    const receiver = createDecoder();
    const want = file.map(({ raw, data }) => {
      const d = reference.decode({ ...raw, data });
      return d === null ? null : plain(d);
    });
    const got: unknown[] = [];
    const seen: unknown[] = [];
    readRecords(ab, batch.length, 1, false, 3, (raw) => {
      seen.push([raw.tsSec, raw.tsNsec, raw.capLen, raw.origLen, raw.linkType, raw.interfaceId, raw.recordOffset, raw.data.toString('hex')]);
      const d = receiver.decode(raw);
      got.push(d === null ? null : plain(d));
    });
    assert.deepEqual(got, want);
    assert.deepEqual(
      seen,
      file.map(({ raw, data }) => [raw.tsSec, raw.tsNsec, data.length, raw.origLen, 1, 3, -1, data.toString('hex')]),
    );
  });
});

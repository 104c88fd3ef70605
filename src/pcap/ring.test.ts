import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, unlinkSync, openSync, closeSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IssueCounter } from '../common/index.js';
import { createDecoder } from '../decode/index.js';
import { openPacketRing } from './ring.js';
import { nativeAppendFiles } from '../common/append-file.js';
import { RingConfigError, type ExportOptions, type PacketRing } from './types.js';
import { flowHash, flowKey, flowKeyOf, flowsFromEntries } from './flow.js';
import type { RawPacket } from '../capture/types.js';
import { ethernetIpUdp } from '../decode/test-packets.js';
import { BASE_SEC, mixedTraffic, numberedPacket, packetNumber } from './test-traffic.js';
import { capinfos, rawPacket, readPackets, recordBatch, tsharkFields } from './test-support.js';

const root = mkdtempSync(join(tmpdir(), 'tapline-ring-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `r${n++}`);

/** Bytes of every file in the ring folder, as the disk sees them. */
function diskBytes(dir: string): number {
  return readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
}

async function exportToFile(ring: PacketRing, opts: Partial<ExportOptions>, name: string): Promise<{ file: string; packets: number; bytes: number }> {
  const file = join(root, `${name}-${n++}.pcapng`);
  const fd = openSync(file, 'w');
  try {
    const r = await ring.export({ from: 0, to: Number.MAX_SAFE_INTEGER, comment: name, ...opts }, fd);
    closeSync(fd);
    // Every file written is checked by an oracle: capinfos must read it whole.
    assert.equal(capinfos(file).get('Number of packets'), String(r.packets), `capinfos of ${name}`);
    return { file, ...r };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

const ALL = { from: 0, to: Number.MAX_SAFE_INTEGER };

describe('rolling by size', () => {
  for (const how of ['packets', 'record batches'] as const) test(`total stays under maxBytes at every step, oldest segments go first, the newest packets all survive (${how})`, async () => {
    const dir = freshDir();
    const maxBytes = 256 * 1024;
    const ring = openPacketRing({ dir, maxBytes, maxAgeSec: 1e9, segmentBytes: 32 * 1024, flushIntervalMs: 0, bufferBytes: 8192 });
    const total = 3000; // ~270 bytes each on disk: ~800 KB written into 256 KiB
    const step = how === 'packets' ? 1 : 7;
    for (let i = 0; i < total; i += step) {
      if (how === 'packets') ring.write(numberedPacket(i));
      else ring.writeRecords(recordBatch(Array.from({ length: Math.min(step, total - i) }, (_, k) => numberedPacket(i + k))), numberedPacket(0).linkType, true, 0);
      if (i % 97 < step) {
        ring.flush();
        assert.ok(diskBytes(dir) <= maxBytes, `on disk ${diskBytes(dir)} > ${maxBytes} after packet ${i}`);
      }
    }
    ring.flush();
    const st = ring.stats();
    assert.ok(st.segmentsDeletedBySize > 10, `deleted ${st.segmentsDeletedBySize}`);
    assert.equal(st.diskBytes, diskBytes(dir));
    assert.ok(st.diskBytes <= maxBytes && st.diskBytes > maxBytes - 2 * 32 * 1024, `disk ${st.diskBytes}`);
    // Segments kept are a contiguous run ending at the newest.
    const seqs = ring.segments().map((s) => s.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0]! + i));
    assert.ok(seqs[0]! > 1);

    const out = await exportToFile(ring, {}, `size-${how.replace(' ', '-')}`);
    const back = await readPackets(out.file);
    const numbers = back.map((p) => packetNumber(p.data));
    const first = numbers[0]!;
    assert.deepEqual(numbers, Array.from({ length: total - first }, (_, i) => first + i), 'a gap-free suffix of what was written');
    assert.equal(out.packets, total - first);
    for (const p of back.slice(0, 5)) assert.deepEqual(p.data, numberedPacket(packetNumber(p.data)).data);
    assert.equal(capinfos(out.file).get('Number of packets'), String(total - first));
    // Every closed segment is itself a file tshark reads, with the packets the index counted.
    ring.close();
    for (const s of ring.segments()) assert.equal(capinfos(s.path).get('Number of packets'), String(s.packets));
  });
});

describe('rolling by age', () => {
  test('segments whose newest packet is older than maxAgeSec (capture time) are deleted, oldest first', async () => {
    const dir = freshDir();
    const ring = openPacketRing({ dir, maxBytes: 64 << 20, maxAgeSec: 10, segmentSeconds: 2, flushIntervalMs: 0 });
    const total = 6000; // 10 ms apart: 60 s of capture time
    for (let i = 0; i < total; i++) ring.write(numberedPacket(i));
    const st = ring.stats();
    const newest = (BASE_SEC * 1000) + (total - 1) * 10;
    assert.equal(st.newestMs, newest);
    assert.ok(st.segmentsDeletedByAge >= 20, `deleted by age ${st.segmentsDeletedByAge}`);
    assert.equal(st.segmentsDeletedBySize, 0);
    const segs = ring.segments();
    // Every kept segment still holds a packet within the last 10 s; the first one deleted did not.
    for (const s of segs) assert.ok(newest - s.maxMs <= 10_000, `segment ${s.seq} max ${s.maxMs}`);
    // Segments span 2 s, so what is kept reaches back at most 10 s + one segment.
    assert.ok(newest - st.oldestMs! <= 12_000 && newest - st.oldestMs! >= 10_000, `kept ${newest - st.oldestMs!} ms`);
    const out = await exportToFile(ring, {}, 'age');
    const numbers = (await readPackets(out.file)).map((p) => packetNumber(p.data));
    assert.equal(numbers.at(-1), total - 1);
    assert.equal(numbers.length, total - numbers[0]!);
    ring.close();
  });

  test('record batches: µs timestamps become ns; a record cut short at the end is counted and left out', async () => {
    const issues = new IssueCounter();
    const ring = openPacketRing({ dir: freshDir(), maxBytes: 1 << 20, maxAgeSec: 1e6, flushIntervalMs: 0, issues });
    const packets = [0, 1, 2].map((i) => ({ ...numberedPacket(i), tsNsec: 123_456_000 + i * 1000 }));
    const batch = recordBatch(packets, false);
    assert.deepEqual(ring.writeRecords(Buffer.concat([batch, batch.subarray(0, 20)]), packets[0]!.linkType, false, 0), { packets: 3, bytes: packets.reduce((n, p) => n + p.capLen, 0) });
    assert.equal(issues.get('capture.batch_cut'), 1);
    const out = await exportToFile(ring, {}, 'records-us');
    const back = await readPackets(out.file);
    assert.deepEqual(back.map((p) => [p.tsSec, p.tsNsec, p.data.toString('hex')]), packets.map((p) => [p.tsSec, p.tsNsec, p.data.toString('hex')]));
    ring.close();
  });

  // Small segments roll inside batches; with a 4 KiB buffer, blocks also straddle its end.
  for (const sizes of [{ segmentBytes: 1024 }, { segmentBytes: 64 * 1024, bufferBytes: 4096 }]) test(`record batches written by the native writer and copied through the writer make the same files, byte for byte (${JSON.stringify(sizes)})`, () => {
    assert.ok(nativeAppendFiles, 'the pcap_binding addon is built (npm run build)');
    const { packets } = mixedTraffic();
    const dirs = [freshDir(), freshDir()];
    for (const [i, dir] of dirs.entries()) {
      // Two source interfaces; µs and ns batches.
      const ring = openPacketRing({ dir, maxBytes: 1 << 20, maxAgeSec: 1e6, ...sizes, flushIntervalMs: 0, nativeWrites: i === 0, interfaceName: (id) => `if${id}` });
      for (let k = 0, n = 0; k < packets.length; k += 5, n++) {
        const some = packets.slice(k, k + 5).map((p) => ({ ...p, tsNsec: n % 2 ? Math.floor(p.tsNsec / 1000) * 1000 : p.tsNsec }));
        // Now and then a frame of no bytes, and one of 1 to 3 (padding of every length).
        if (n % 4 === 1) some.push({ ...some[0]!, data: Buffer.alloc(0), capLen: 0, origLen: 60 }, { ...some[0]!, data: Buffer.from([1, 2, 3].slice(0, 1 + (n % 3))), capLen: 1 + (n % 3), origLen: 1 + (n % 3) });
        ring.writeRecords(recordBatch(some, n % 2 === 0), packets[k]!.linkType, n % 2 === 0, n % 3 === 0 ? 1 : 0);
      }
      ring.close();
    }
    const files = readdirSync(dirs[0]!).sort();
    assert.ok(files.filter((f) => f.endsWith('.pcapng')).length >= (sizes.segmentBytes < 4096 ? 3 : 1), files.join(' '));
    assert.deepEqual(readdirSync(dirs[1]!).sort(), files);
    for (const f of files) assert.ok(readFileSync(join(dirs[0]!, f)).equals(readFileSync(join(dirs[1]!, f))), f);
  });

  test('bad configuration fails at start with a code', () => {
    const dir = freshDir();
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        assert.ok(e instanceof RingConfigError);
        return e.code;
      }
      return 'none';
    };
    assert.equal(code(() => openPacketRing({ dir, maxBytes: 100_000, maxAgeSec: 10, segmentBytes: 60_000 })), 'ring.segment_too_large');
    assert.equal(code(() => openPacketRing({ dir, maxBytes: 0, maxAgeSec: 10 })), 'ring.bad_max_bytes');
    assert.equal(code(() => openPacketRing({ dir, maxBytes: 1e6, maxAgeSec: -1 })), 'ring.bad_max_age');
    assert.equal(code(() => openPacketRing({ dir, maxBytes: 1e6, maxAgeSec: 1, segmentBytes: 100 })), 'ring.bad_segment_bytes');
  });
});

describe('export', () => {
  const { packets, conversations } = mixedTraffic();
  const [a, b, c6, u, a2, u2] = conversations as [typeof conversations[0], ...typeof conversations];
  const ms = (i: number): number => packets[i]!.tsSec * 1000 + packets[i]!.tsNsec / 1e6;

  /** Writes the traffic packet by packet, or as batches of bare pcap records (as the live capture delivers them). */
  function fill(mode: 'records' | 'packets'): PacketRing {
    // Small segments: conversations span several of them.
    const ring = openPacketRing({ dir: freshDir(), maxBytes: 1 << 20, maxAgeSec: 1e6, segmentBytes: 1024, flushIntervalMs: 0 });
    if (mode === 'packets') for (const p of packets) ring.write(p);
    else {
      for (let i = 0; i < packets.length; i += 7) {
        const batch = recordBatch(packets.slice(i, i + 7));
        assert.deepEqual(ring.writeRecords(batch, packets[i]!.linkType, true, 0), { packets: Math.min(7, packets.length - i), bytes: packets.slice(i, i + 7).reduce((n, p) => n + p.capLen, 0) });
      }
    }
    return ring;
  }

  for (const mode of ['records', 'packets'] as const) {
    test(`by flows selects exactly the packets of those flows, in time order (written as ${mode})`, async () => {
      const ring = fill(mode);
      assert.ok(ring.segments().length >= 3);
      const out = await exportToFile(ring, { flows: [{ key: b.key }, { key: u.key }, { key: c6.key }] }, `flows-${mode}`);
      const want = [...b.packets, ...u.packets, ...c6.packets].sort((x, y) => x - y);
      const back = await readPackets(out.file);
      assert.equal(out.packets, want.length);
      assert.deepEqual(back.map((p) => p.data), want.map((i) => packets[i]!.data));
      assert.deepEqual(back.map((p) => [p.tsSec, p.tsNsec]), want.map((i) => [packets[i]!.tsSec, packets[i]!.tsNsec]));
      ring.close();
    });
  }

  test('a per-flow window picks the whole TCP connection it overlaps, not the earlier one on the same 5-tuple', async () => {
    const ring = fill('records');
    assert.deepEqual(a.key, a2.key);
    // A window around the request of the second connection only (its 4th packet).
    const i = a2.packets[3]!;
    const out = await exportToFile(ring, { flows: [{ key: a.key, from: ms(i), to: ms(i) + 0.5 }] }, 'reuse');
    const back = await readPackets(out.file);
    assert.deepEqual(back.map((p) => p.data), a2.packets.map((k) => packets[k]!.data));
    // Without a window both connections come out.
    const both = await exportToFile(ring, { flows: [{ key: a.key }] }, 'reuse-all');
    assert.equal(both.packets, a.packets.length + a2.packets.length);
    // The global window clips: only the first connection's time.
    const clipped = await exportToFile(ring, { from: ms(a.packets[0]!), to: ms(a.packets.at(-1)!), flows: [{ key: a.key }] }, 'clip');
    assert.equal(clipped.packets, a.packets.length);
    ring.close();
  });

  test('flowsFromEntries: one request per 5-tuple spanning its entries; UDP exported by the window', async () => {
    const ring = fill('records');
    const ts = (i: number): number => Math.floor(ms(i));
    const entries = [
      { src: { ip: '10.0.0.3', port: 5353 }, dst: { ip: '10.0.0.53', port: 53 }, protocol: { name: 'dns', version: '', abbr: 'DNS', layer4: 'udp' as const }, timestamp: ts(u2.packets[0]!), elapsedTime: ms(u2.packets[1]!) - ms(u2.packets[0]!) },
      { src: { ip: '10.0.0.2', port: 40002 }, dst: { ip: '10.0.0.9', port: 80 }, protocol: { name: 'http', version: '1.1', abbr: 'HTTP', layer4: 'tcp' as const }, timestamp: ts(b.packets[3]!), elapsedTime: 1 },
      { src: { ip: '10.0.0.9', port: 80 }, dst: { ip: '10.0.0.2', port: 40002 }, protocol: { name: 'http', version: '1.1', abbr: 'HTTP', layer4: 'tcp' as const }, timestamp: ts(b.packets[4]!), elapsedTime: 0 },
    ];
    const flows = flowsFromEntries(entries);
    assert.equal(flows.length, 2);
    assert.deepEqual(flows[1]!.key, b.key);
    assert.equal(flows[1]!.from, ts(b.packets[3]!));
    assert.equal(flows[1]!.to, ts(b.packets[4]!) + 1);
    const out = await exportToFile(ring, { flows }, 'entries');
    const want = [...u2.packets, ...b.packets].sort((x, y) => x - y);
    assert.deepEqual((await readPackets(out.file)).map((p) => p.data), want.map((i) => packets[i]!.data));
    ring.close();
  });

  test('window and filter: both ends included to the nanosecond, predicate applied', async () => {
    const ring = fill('records');
    const lo = 5;
    const hi = 20;
    const out = await exportToFile(ring, { from: ms(lo), to: ms(hi) }, 'window');
    assert.equal(out.packets, hi - lo + 1);
    const udpOnly = await exportToFile(ring, { filter: (pkt) => pkt[23] === 17 && pkt[12] === 0x08 }, 'filter');
    const wantUdp = [...u.packets, ...u2.packets].sort((x, y) => x - y);
    assert.deepEqual((await readPackets(udpOnly.file)).map((p) => p.data), wantUdp.map((i) => packets[i]!.data));
    ring.close();
  });

  test('section comment, names and packet comments reach tshark', async () => {
    const ring = fill('packets');
    const out = await exportToFile(
      ring,
      {
        flows: [{ key: b.key }],
        comment: "tapline export --kfl 'http and response.status == 500' from 2023-11-14T22:13:20Z to 2023-11-14T22:13:21Z",
        names: new Map([['10.0.0.2', ['frontend-7d9f-x2.shop']], ['10.0.0.9', ['cart.shop']]]),
        packetComment: (p) => (p.data.length > 70 ? `payload packet of ${p.data.length} bytes` : undefined),
      },
      'comments',
    );
    const rows = tsharkFields(out.file, ['ip.src_host', 'ip.dst_host', 'frame.comment', 'frame.len'], ['-N', 'n']);
    assert.equal(rows.length, b.packets.length);
    for (const [src, dst, comment, len] of rows) {
      assert.ok([src, dst].includes('frontend-7d9f-x2.shop') && [src, dst].includes('cart.shop'));
      assert.equal(comment, Number(len) > 70 ? `payload packet of ${len} bytes` : '');
    }
    assert.equal(capinfos(out.file).get('Capture comment'), "tapline export --kfl 'http and response.status == 500' from 2023-11-14T22:13:20Z to 2023-11-14T22:13:21Z");
    assert.ok(rows.some((r) => r[2] !== ''));
    ring.close();
  });

  test('two flows with the same 31-bit hash: the export keeps only the asked one', async () => {
    // Birthday search over UDP port pairs between two fixed hosts (~16 collisions expected in 262144).
    const seen = new Map<number, [number, number]>();
    let pair: [[number, number], [number, number]] | null = null;
    for (let sport = 1024; sport < 2048 && !pair; sport++) {
      for (let dport = 1; dport <= 256; dport++) {
        const h = flowHash('10.7.0.1', sport, '10.7.0.2', dport, 17);
        const other = seen.get(h);
        if (other) {
          pair = [other, [sport, dport]];
          break;
        }
        seen.set(h, [sport, dport]);
      }
    }
    assert.ok(pair, 'a colliding pair exists');
    const [[s1, d1], [s2, d2]] = pair;
    assert.equal(flowHash('10.7.0.1', s1, '10.7.0.2', d1, 17), flowHash('10.7.0.2', d2, '10.7.0.1', s2, 17));
    const ring = openPacketRing({ dir: freshDir(), maxBytes: 1 << 20, maxAgeSec: 1e6, segmentBytes: 1024, flushIntervalMs: 0 });
    const sent: RawPacket[] = [];
    for (let i = 0; i < 20; i++) {
      const [sp, dp] = i % 2 === 0 ? [s1, d1] : [s2, d2];
      const data = ethernetIpUdp({ src: '10.7.0.1', dst: '10.7.0.2', sport: sp, dport: dp, payload: Buffer.from([i]) });
      const p = rawPacket(data, BASE_SEC, i * 1000);
      sent.push(p);
      ring.write(p);
    }
    const out = await exportToFile(ring, { flows: [{ key: flowKey('10.7.0.1', s2, '10.7.0.2', d2, 17) }] }, 'collision');
    assert.deepEqual((await readPackets(out.file)).map((p) => p.data), sent.filter((_, i) => i % 2 === 1).map((p) => p.data));
    ring.close();
  });

  test('the flow key of a decoded packet is symmetric', () => {
    const d = createDecoder();
    const k1 = flowKeyOf({ ...d.decode(packets[b.packets[0]!]!)! });
    const k2 = flowKeyOf({ ...d.decode(packets[b.packets[1]!]!)! });
    assert.deepEqual(k1, k2);
    assert.deepEqual(k1, { ipA: '10.0.0.2', portA: 40002, ipB: '10.0.0.9', portB: 80, proto: 6 });
  });
});

describe('restart', () => {
  test('a cleanly closed ring is adopted with its indexes; a missing index is rebuilt; a torn tail is cut', async () => {
    const dir = freshDir();
    const opts = { dir, maxBytes: 8 << 20, maxAgeSec: 1e9, segmentBytes: 64 * 1024, flushIntervalMs: 0 };
    const first = openPacketRing(opts);
    for (let i = 0; i < 1000; i++) first.write(numberedPacket(i));
    first.close();
    const segs = first.segments();
    assert.ok(segs.length >= 3);

    const second = openPacketRing(opts);
    assert.equal(second.stats().segmentsAdopted, segs.length);
    assert.equal(second.stats().segmentsRebuilt, 0);
    for (let i = 1000; i < 1200; i++) second.write(numberedPacket(i));
    second.close();
    assert.equal(second.segments().at(-1)!.seq, segs.at(-1)!.seq + 1, 'new segments continue the numbering');

    // Damage: drop one index, mark another as version 1 (whose flow hashes were of address text), cut 10 bytes off the last segment.
    const all = second.segments();
    unlinkSync(all[1]!.path.replace(/\.pcapng$/, '.idx'));
    const v1 = openSync(all[2]!.path.replace(/\.pcapng$/, '.idx'), 'r+');
    writeSync(v1, Buffer.from([1, 0, 0, 0]), 0, 4, 4);
    closeSync(v1);
    const last = all.at(-1)!;
    truncateSync(last.path, statSync(last.path).size - 10);

    const third = openPacketRing(opts);
    const st = third.stats();
    assert.equal(st.segmentsAdopted, all.length);
    assert.equal(st.segmentsRebuilt, 3, 'the one without an index, the one of version 1 and the one whose size no longer matches');
    // A numbered packet is 242 bytes: its EPB is 28 + 244 (padded) + 4 = 276 bytes, 10 of them cut.
    assert.equal(st.tornBytes, 276 - 10, 'the rest of the torn last block is dropped');
    const out = await exportToFile(third, {}, 'adopted');
    const numbers = (await readPackets(out.file)).map((p) => packetNumber(p.data));
    assert.deepEqual(numbers, Array.from({ length: 1199 }, (_, i) => i));
    // Flow lookups work on the rebuilt index too: port 1007 carries every 50th packet.
    const flow = await exportToFile(third, { flows: [{ key: { ipA: '10.9.0.1', portA: 1007, ipB: '10.9.0.2', portB: 7, proto: 17 } }] }, 'adopted-flow');
    assert.deepEqual((await readPackets(flow.file)).map((p) => packetNumber(p.data)), Array.from({ length: 24 }, (_, i) => 7 + 50 * i));
    third.close();
  });

  test('after SIGKILL of a process writing packets, the reopened ring exports a gap-free run tshark reads', async () => {
    const dir = freshDir();
    // Runs from src/ (tsx) and from dist/ (compiled) alike.
    const self = fileURLToPath(import.meta.url);
    const script = self.replace(/ring\.test\.(ts|js)$/, 'ring-child.$1');
    const args = self.endsWith('.ts') ? ['--import', 'tsx', script] : [script];
    const child = spawn(process.execPath, [...args, dir, '3000'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (d: string) => {
        out += d;
        if (out.includes('flushed 3000\n')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    const ring = openPacketRing({ dir, maxBytes: 64 << 20, maxAgeSec: 1e9, flushIntervalMs: 0 });
    const st = ring.stats();
    assert.ok(st.segmentsRebuilt >= 1, 'the segment open at the kill had no index');
    const out = await exportToFile(ring, {}, 'killed');
    const back = await readPackets(out.file);
    const numbers = back.map((p) => packetNumber(p.data));
    assert.ok(numbers.length >= 3000, `only ${numbers.length} packets survived`);
    assert.deepEqual(numbers, Array.from({ length: numbers.length }, (_, i) => i));
    for (const p of back) assert.deepEqual(p.data, numberedPacket(packetNumber(p.data)).data);
    // tshark reads the export whole (a damaged file makes it exit non-zero).
    execFileSync('tshark', ['-r', out.file, '-c', '1'], { stdio: 'ignore' });
    assert.equal(capinfos(out.file).get('Number of packets'), String(numbers.length));
    ring.close();
  });
});

const canMount = (() => {
  if (process.getuid?.() !== 0) return 'mounting a small tmpfs needs root';
  return false;
})();

describe('full disk', { skip: canMount }, () => {
  for (const how of ['packets', 'record batches, native writes', 'record batches, copied'] as const) test(`writes failing with ENOSPC are counted, capture goes on, what reached the disk stays exportable (${how})`, async () => {
    const mnt = freshDir();
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]);
    try {
      const issues = new IssueCounter();
      const ring = openPacketRing({ dir: join(mnt, 'ring'), maxBytes: 8 << 20, maxAgeSec: 1e9, segmentBytes: 64 * 1024, bufferBytes: 8192, flushIntervalMs: 0, issues, nativeWrites: how !== 'record batches, copied' });
      const total = 3000; // ~830 KB into 256 KiB
      // never throws
      if (how === 'packets') for (let i = 0; i < total; i++) ring.write(numberedPacket(i));
      else for (let i = 0; i < total; i += 10) ring.writeRecords(recordBatch(Array.from({ length: 10 }, (_, k) => numberedPacket(i + k))), numberedPacket(0).linkType, true, 0);
      ring.flush();
      const st = ring.stats();
      assert.ok(st.writeErrors > 0);
      assert.equal(issues.get('ring.write_failed'), st.writeErrors);
      assert.match(st.lastWriteError ?? '', /ENOSPC/);
      assert.ok(st.packetsLost > 0 && st.packetsLost < total, `lost ${st.packetsLost}`);
      const out = await exportToFile(ring, {}, `full-${how.replace(/\W+/g, '-')}`);
      const back = await readPackets(out.file);
      assert.ok(back.length > 500, `${back.length} packets kept`);
      assert.equal(back.length + st.packetsLost, total, 'every packet is kept or counted lost');
      const numbers = back.map((p) => packetNumber(p.data));
      for (let i = 1; i < numbers.length; i++) assert.ok(numbers[i]! > numbers[i - 1]!);
      for (const p of back) assert.deepEqual(p.data, numberedPacket(packetNumber(p.data)).data);
      assert.equal(capinfos(out.file).get('Number of packets'), String(back.length));
      ring.close();
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

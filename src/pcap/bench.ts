/**
 * The packet ring's write rate, on the benchmark capture: packets are read into memory
 * first, so the numbers are the ring's own cost (encode, index, write, roll, delete).
 * `npm run bench` calls benchRing(); `node --import tsx src/pcap/bench.ts [FILE]` runs it
 * alone. Beside it, `tcpdump -r FILE -w OUT` (reading and writing a pcap) as a yardstick.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RawPacket } from '../capture/types.js';
import { readCaptureFile } from '../capture/index.js';
import { createDecoder } from '../decode/index.js';
import { repoRoot } from '../../test/support/paths.js';
import { flowsFromEntries, type FlowFields } from './flow.js';
import { openPacketRing } from './ring.js';
import { recordBatch } from './test-support.js';

export interface RingBenchRow {
  name: string;
  packets: number;
  /** Captured bytes written (sum of capLen). */
  bytes: number;
  seconds: number;
  packetsPerSec: number;
  mbPerSec: number;
}

export interface RingBenchResult {
  capture: string;
  rows: RingBenchRow[];
  /** Export of one TCP connection's packets (flow index) from the filled ring. */
  exportFlowMs: number;
  exportFlowPackets: number;
  /** Export of every packet (sequential read). */
  exportAllMs: number;
  exportAllPackets: number;
  /** `tcpdump -r FILE -w OUT` wall time, for scale. */
  tcpdumpSeconds: number | null;
}

export const DEFAULT_BENCH_CAPTURE = join(repoRoot, '.cache', 'bench', 'capture-v1.pcap');

function row(name: string, packets: number, bytes: number, seconds: number): RingBenchRow {
  return { name, packets, bytes, seconds, packetsPerSec: packets / seconds, mbPerSec: bytes / 1e6 / seconds };
}

export async function benchRing(opts: { capture?: string; log?: (line: string) => void } = {}): Promise<RingBenchResult> {
  const capture = opts.capture ?? DEFAULT_BENCH_CAPTURE;
  const log = opts.log ?? ((l: string) => console.log(l));
  const packets: RawPacket[] = [];
  await readCaptureFile(capture, (p) => packets.push({ ...p }));
  let bytes = 0;
  for (const p of packets) bytes += p.capLen;
  // Each packet's decoded 5-tuple, to pick a connection to export below.
  const decoder = createDecoder();
  const flows: (FlowFields | null)[] = packets.map((p) => {
    const d = decoder.decode(p);
    return d === null ? null : { srcIp: d.srcIp, dstIp: d.dstIp, srcPort: d.srcPort, dstPort: d.dstPort, ipProto: d.ipProto };
  });
  const dir = mkdtempSync(join(tmpdir(), 'tapline-ring-bench-'));
  const rows: RingBenchRow[] = [];
  let exportFlowMs = 0;
  let exportFlowPackets = 0;
  let exportAllMs = 0;
  let exportAllPackets = 0;
  try {
    // What the live capture delivers: batches of bare pcap records, about 1 MiB each.
    const batches: Buffer[] = [];
    for (let i = 0, bytesIn = 0, start = 0; i <= packets.length; i++) {
      if (i === packets.length || bytesIn > 1 << 20) {
        batches.push(recordBatch(packets.slice(start, i)));
        start = i;
        bytesIn = 0;
      }
      if (i < packets.length) bytesIn += 16 + packets[i]!.capLen;
    }
    const linkType = packets[0]?.linkType ?? 1;
    const cases: { name: string; maxBytes: number; records: boolean }[] = [
      { name: 'record batches, no rolling', maxBytes: 4 * 2 ** 30, records: true },
      { name: 'packet by packet, no rolling', maxBytes: 4 * 2 ** 30, records: false },
      { name: 'record batches, rolling in 64 MiB', maxBytes: 64 << 20, records: true },
    ];
    for (const c of cases) {
      const ringDir = join(dir, c.name.replace(/[^a-z0-9]+/gi, '-'));
      const ring = openPacketRing({ dir: ringDir, maxBytes: c.maxBytes, maxAgeSec: 1e9, segmentBytes: c.maxBytes > 2 ** 30 ? 64 << 20 : 8 << 20, flushIntervalMs: 0 });
      const t0 = process.hrtime.bigint();
      if (c.records) for (const batch of batches) ring.writeRecords(batch, linkType, true, 0);
      else for (let i = 0; i < packets.length; i++) ring.write(packets[i]!);
      ring.close();
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const r = row(c.name, packets.length, bytes, seconds);
      rows.push(r);
      log(`ring write (${c.name}): ${Math.round(r.packetsPerSec).toLocaleString('en-US')} packets/s, ${r.mbPerSec.toFixed(0)} MB/s (${seconds.toFixed(2)} s)`);
      if (c === cases[0]) {
        const reopened = openPacketRing({ dir: ringDir, maxBytes: c.maxBytes, maxAgeSec: 1e9, segmentBytes: 64 << 20, flushIntervalMs: 0 });
        // One mid-capture TCP connection, as a KFL export would ask for it.
        const mid = flows.findIndex((f, i) => i > packets.length / 2 && f !== null && f.ipProto === 6);
        const f = flows[mid]!;
        const p = packets[mid]!;
        const ts = p.tsSec * 1000 + p.tsNsec / 1e6;
        const req = flowsFromEntries([{ src: { ip: f.srcIp, port: f.srcPort }, dst: { ip: f.dstIp, port: f.dstPort }, protocol: { name: 'http', version: '1.1', abbr: 'HTTP', layer4: 'tcp' }, timestamp: Math.floor(ts), elapsedTime: 0 }]);
        const out = join(dir, 'export.pcapng');
        let fd = openSync(out, 'w');
        let t1 = process.hrtime.bigint();
        exportFlowPackets = (await reopened.export({ from: 0, to: Number.MAX_SAFE_INTEGER, flows: req, comment: 'bench' }, fd)).packets;
        exportFlowMs = Number(process.hrtime.bigint() - t1) / 1e6;
        closeSync(fd);
        fd = openSync(out, 'w');
        t1 = process.hrtime.bigint();
        exportAllPackets = (await reopened.export({ from: 0, to: Number.MAX_SAFE_INTEGER, comment: 'bench' }, fd)).packets;
        exportAllMs = Number(process.hrtime.bigint() - t1) / 1e6;
        closeSync(fd);
        reopened.close();
        log(`export one connection: ${exportFlowPackets} packets in ${exportFlowMs.toFixed(1)} ms; export all: ${exportAllPackets} packets in ${exportAllMs.toFixed(0)} ms (${(statSync(out).size / 1e6 / (exportAllMs / 1000)).toFixed(0)} MB/s)`);
      }
      rmSync(ringDir, { recursive: true, force: true });
    }
    let tcpdumpSeconds: number | null = null;
    const t2 = process.hrtime.bigint();
    const td = spawnSync('tcpdump', ['-r', capture, '-w', join(dir, 'tcpdump.pcap')], { stdio: 'ignore' });
    if (td.status === 0) {
      tcpdumpSeconds = Number(process.hrtime.bigint() - t2) / 1e9;
      log(`tcpdump -r -w (read + write, for scale): ${Math.round(packets.length / tcpdumpSeconds).toLocaleString('en-US')} packets/s, ${(bytes / 1e6 / tcpdumpSeconds).toFixed(0)} MB/s`);
    }
    return { capture, rows, exportFlowMs, exportFlowPackets, exportAllMs, exportAllPackets, tcpdumpSeconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await benchRing({ capture: process.argv[2] });
}

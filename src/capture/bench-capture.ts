/**
 * Throughput of the capture reader (not a test; no timing belongs in a test).
 *
 *   node --import tsx src/capture/bench-capture.ts [FILE]
 *
 * Without FILE it writes /tmp/tapline-bench.pcap (about 1 GiB of records of mixed sizes,
 * 60..1514 bytes) and /tmp/tapline-bench.pcapng (same packets as EPBs) first. Reports
 * MB/s of record iteration from memory and of readCaptureFile from the page cache.
 */
import { closeSync, existsSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { createCaptureParser } from './capture-parser.js';
import { pcapFileHeader } from './capture-writer.js';
import { readCaptureFile } from './read-file.js';

const TARGET_BYTES = 1 << 30;

function writeBenchFiles(pcapPath: string, ngPath: string): void {
  const sizes = [60, 66, 1514, 590, 1514, 74, 1200, 342];
  const pcap = openSync(pcapPath, 'w');
  const ng = openSync(ngPath, 'w');
  writeSync(pcap, pcapFileHeader(1));
  const shbIdb = Buffer.from('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000' + '01000000140000000100000000000400' + '14000000', 'hex');
  writeSync(ng, shbIdb);
  const batch = 1 << 22;
  let written = 0;
  let i = 0;
  while (written < TARGET_BYTES) {
    const a = Buffer.alloc(batch + 2000);
    const b = Buffer.alloc(batch * 2);
    let ao = 0;
    let bo = 0;
    while (ao < batch) {
      const n = sizes[i % sizes.length];
      const usec = i % 1_000_000;
      a.writeUInt32LE(1_700_000_000 + Math.floor(i / 1000), ao);
      a.writeUInt32LE(usec, ao + 4);
      a.writeUInt32LE(n, ao + 8);
      a.writeUInt32LE(n, ao + 12);
      a.fill(i & 0xff, ao + 16, ao + 16 + n);
      ao += 16 + n;
      const padded = (n + 3) & ~3;
      const total = 32 + padded;
      const ts = BigInt(1_700_000_000_000_000 + i * 1000);
      b.writeUInt32LE(6, bo);
      b.writeUInt32LE(total, bo + 4);
      b.writeUInt32LE(0, bo + 8);
      b.writeUInt32LE(Number(ts >> 32n), bo + 12);
      b.writeUInt32LE(Number(ts & 0xffffffffn), bo + 16);
      b.writeUInt32LE(n, bo + 20);
      b.writeUInt32LE(n, bo + 24);
      b.fill(i & 0xff, bo + 28, bo + 28 + n);
      b.writeUInt32LE(total, bo + total - 4);
      bo += total;
      i++;
    }
    writeSync(pcap, a, 0, ao);
    writeSync(ng, b, 0, bo);
    written += ao;
  }
  closeSync(pcap);
  closeSync(ng);
}

async function bench(path: string): Promise<void> {
  const size = statSync(path).size;
  let packets = 0;
  let checksum = 0;
  const sink = (p: { capLen: number; tsNsec: number; data: Buffer }): void => {
    packets++;
    checksum = (checksum + p.capLen + p.data[0]) | 0;
  };
  // From memory: the file in 4 MiB chunks already read.
  const whole = readFileSync(path);
  const chunks: Buffer[] = [];
  for (let at = 0; at < whole.length; at += 4 << 20) chunks.push(whole.subarray(at, at + (4 << 20)));
  for (let round = 0; round < 3; round++) {
    packets = 0;
    const t0 = process.hrtime.bigint();
    const parser = createCaptureParser(sink);
    for (const c of chunks) parser.push(c);
    parser.end();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`${path}: memory  ${(size / 1e6 / s).toFixed(0)} MB/s, ${(packets / 1e6 / s).toFixed(2)} Mpkt/s (${packets} packets, ${s.toFixed(2)} s)`);
  }
  for (let round = 0; round < 2; round++) {
    packets = 0;
    const t0 = process.hrtime.bigint();
    await readCaptureFile(path, sink);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`${path}: file    ${(size / 1e6 / s).toFixed(0)} MB/s, ${(packets / 1e6 / s).toFixed(2)} Mpkt/s (${s.toFixed(2)} s)`);
  }
  void checksum;
}

const arg = process.argv[2];
if (arg) await bench(arg);
else {
  const pcapPath = '/tmp/tapline-bench.pcap';
  const ngPath = '/tmp/tapline-bench.pcapng';
  if (!existsSync(pcapPath) || !existsSync(ngPath)) writeBenchFiles(pcapPath, ngPath);
  await bench(pcapPath);
  await bench(ngPath);
}

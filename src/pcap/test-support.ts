/** Test helpers of src/pcap: run tshark/capinfos (the oracles) and read capture files back. */
import { execFileSync } from 'node:child_process';
import type { RawPacket } from '../capture/types.js';
import { readCaptureFile } from '../capture/index.js';

/** `tshark -r file [args] -T fields -E separator=| -e …` → one array of values per packet. */
export function tsharkFields(file: string, fields: string[], args: string[] = []): string[][] {
  const out = execFileSync('tshark', ['-r', file, ...args, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 << 20,
  });
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('|'));
}

/** capinfos -M output as "Key: value" pairs (first occurrence of each key). */
export function capinfos(file: string): Map<string, string> {
  const out = execFileSync('capinfos', ['-M', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const k = line.slice(0, i).trim();
    if (!m.has(k)) m.set(k, line.slice(i + 1).trim());
  }
  return m;
}

/** A copy of one packet as a reader delivered it. */
export interface StoredPacket {
  linkType: number;
  tsSec: number;
  tsNsec: number;
  origLen: number;
  data: Buffer;
}

/** Every packet of a pcap/pcapng file, read by src/capture's reader. */
export async function readPackets(file: string): Promise<StoredPacket[]> {
  const out: StoredPacket[] = [];
  await readCaptureFile(file, (p: RawPacket) => {
    out.push({ linkType: p.linkType, tsSec: p.tsSec, tsNsec: p.tsNsec, origLen: p.origLen, data: Buffer.from(p.data) });
  });
  return out;
}

/** A RawPacket for ring.write. */
export function rawPacket(data: Buffer, tsSec: number, tsNsec: number, linkType = 1, interfaceId = 0, origLen = data.length): RawPacket {
  return { linkType, interfaceId, tsSec, tsNsec, capLen: data.length, origLen, data, recordOffset: -1 };
}

/** Packets as one batch of bare pcap records, as the live capture delivers them (16-byte little-endian header, then the frame). */
export function recordBatch(packets: readonly RawPacket[], nanos = true): Buffer {
  const parts: Buffer[] = [];
  for (const p of packets) {
    const head = Buffer.alloc(16);
    head.writeUInt32LE(p.tsSec, 0);
    head.writeUInt32LE(nanos ? p.tsNsec : Math.floor(p.tsNsec / 1000), 4);
    head.writeUInt32LE(p.data.length, 8);
    head.writeUInt32LE(p.origLen, 12);
    parts.push(head, p.data);
  }
  return Buffer.concat(parts);
}

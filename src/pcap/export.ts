/**
 * Cutting one PCAPNG out of the ring. Two passes over the segments that overlap the
 * window: the first picks packets (through the flow index when flows are asked, else a
 * sequential read from the time index's mark) and keeps only (segment, offset, time);
 * the second reads the picked blocks in timestamp order and writes them out. Memory is
 * a few numbers per picked packet, never the packets themselves.
 */
import type { RawPacket } from '../capture/types.js';
import { createDecoder } from '../decode/index.js';
import { TcpFlag } from '../decode/types.js';
import { flowKeyHash, sameFlow, type FlowRequest } from './flow.js';
import { EPB_HEADER_BYTES, hiLoToNanos, PcapngWriter, BLOCK_EPB, type PcapngTarget } from './pcapng-writer.js';
import type { SegmentIndexView } from './segment-index.js';
import { BlockReader } from './segment-reader.js';
import type { ExportOptions, ExportPacket, ExportResult } from './types.js';

export interface ExportSegment {
  seq: number;
  fd: number;
  /** Bytes of the segment file to read (a snapshot of its size). */
  size: number;
  index: SegmentIndexView;
}

/** A picked packet. */
interface Pick {
  seg: number;
  offset: number;
  sec: number;
  nsec: number;
}

interface Candidate extends Pick {
  ms: number;
  /** A pure SYN (SYN without ACK): the start of a TCP connection. */
  syn: boolean;
}

/** Packets out of capture-time order by less than this still start a window read in time. */
const TIME_SLACK_MS = 2000;
/** Bytes written between waits on the output's back-pressure. */
const YIELD_BYTES = 4 << 20;

const byTime = (a: Pick, b: Pick): number => a.sec - b.sec || a.nsec - b.nsec || a.seg - b.seg || a.offset - b.offset;

export async function exportPackets(segs: ExportSegment[], opts: ExportOptions, out: PcapngTarget, userAppl: string): Promise<ExportResult> {
  const readers = segs.map((s) => new BlockReader(s.fd, s.size));
  const picks = opts.flows ? await pickFlows(segs, readers, opts, opts.flows) : await pickWindow(segs, readers, opts);
  picks.sort(byTime);

  const writer = new PcapngWriter(out);
  writer.writeSectionHeader({ comment: opts.comment, userAppl });
  if (opts.names && opts.names.size > 0) writer.writeNameResolution(opts.names);
  // (segment, its interface id) → interface id in the export, made on first use.
  const outIfaces = new Map<string, number>();
  const view: ExportPacket = { linkType: 0, tsSec: 0, tsNsec: 0, origLen: 0, data: Buffer.alloc(0) };
  const max = opts.maxPackets ?? Infinity;
  let packets = 0;
  let sinceYield = 0;
  for (const p of picks) {
    if (packets >= max) break;
    const seg = segs[p.seg]!;
    const block = readers[p.seg]!.read(p.offset);
    if (!block) continue;
    const segIface = block.readUInt32LE(8);
    const iface = seg.index.interfaces[segIface];
    if (!iface) continue;
    const ifKey = `${iface.linkType}/${iface.sourceId}/${iface.name ?? ''}`;
    let outId = outIfaces.get(ifKey);
    if (outId === undefined) {
      outId = writer.addInterface({ linkType: iface.linkType, name: iface.name });
      outIfaces.set(ifKey, outId);
    }
    let comment: string | undefined;
    if (opts.packetComment) {
      view.linkType = iface.linkType;
      view.tsSec = p.sec;
      view.tsNsec = p.nsec;
      view.origLen = block.readUInt32LE(24);
      view.data = block.subarray(EPB_HEADER_BYTES, EPB_HEADER_BYTES + block.readUInt32LE(20));
      comment = opts.packetComment(view);
    }
    const before = writer.offset;
    writer.writeRawPacketBlock(outId, block, comment);
    packets++;
    sinceYield += writer.offset - before;
    if (sinceYield >= YIELD_BYTES) {
      sinceYield = 0;
      writer.flush();
      await (writer.ready() ?? new Promise<void>((r) => setImmediate(r)));
    }
  }
  await writer.end();
  return { packets, bytes: writer.offset, cut: Math.max(0, picks.length - packets) };
}

/** Reads an EPB's timestamp into `t`; false when the block is not a packet. */
function readPacket(block: Buffer, t: { sec: number; nsec: number }): boolean {
  if (block.readUInt32LE(0) !== BLOCK_EPB || block.length < EPB_HEADER_BYTES + 4) return false;
  hiLoToNanos(block.readUInt32LE(12), block.readUInt32LE(16), t);
  return true;
}

/** Lets the event loop run now and then while picking (the capture may share this thread). */
const PICK_YIELD_EVERY = 8192;
const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Every packet in the window that passes the filter, in segment order. */
async function pickWindow(segs: ExportSegment[], readers: BlockReader[], opts: ExportOptions): Promise<Pick[]> {
  const picks: Pick[] = [];
  const t = { sec: 0, nsec: 0 };
  let work = 0;
  for (let si = 0; si < segs.length; si++) {
    const seg = segs[si]!;
    const reader = readers[si]!;
    let off = seg.index.startOffset(opts.from, TIME_SLACK_MS);
    if (off === 0) {
      // Skip the section header to the first block after it.
      const shb = reader.read(0);
      if (!shb) continue;
      off = shb.length;
    }
    while (off < seg.size) {
      if (++work % PICK_YIELD_EVERY === 0) await yieldNow();
      const block = reader.read(off);
      if (!block) break;
      const len = block.length;
      if (readPacket(block, t)) {
        const ms = t.sec * 1000 + t.nsec / 1e6;
        if (ms > opts.to + TIME_SLACK_MS) break;
        if (ms >= opts.from && ms <= opts.to && passes(block, seg, opts)) picks.push({ seg: si, offset: off, sec: t.sec, nsec: t.nsec });
      }
      off += len;
    }
  }
  return picks;
}

function passes(block: Buffer, seg: ExportSegment, opts: ExportOptions): boolean {
  if (!opts.filter) return true;
  const iface = seg.index.interfaces[block.readUInt32LE(8)];
  if (!iface) return false;
  return opts.filter(block.subarray(EPB_HEADER_BYTES, EPB_HEADER_BYTES + block.readUInt32LE(20)), iface.linkType);
}

/** The packets of the asked flows (see ExportOptions.flows for the rules). */
async function pickFlows(segs: ExportSegment[], readers: BlockReader[], opts: ExportOptions, flows: FlowRequest[]): Promise<Pick[]> {
  const decoder = createDecoder();
  const raw: RawPacket = { linkType: 0, interfaceId: 0, tsSec: 0, tsNsec: 0, capLen: 0, origLen: 0, data: Buffer.alloc(0), recordOffset: -1 };
  const t = { sec: 0, nsec: 0 };
  // Requests grouped by hash: one index lookup per hash, and collisions sorted out by the 5-tuple.
  const byHash = new Map<number, number[]>();
  flows.forEach((f, i) => {
    const h = flowKeyHash(f.key);
    const list = byHash.get(h);
    if (list) list.push(i);
    else byHash.set(h, [i]);
  });
  const candidates: Candidate[][] = flows.map(() => []);
  let work = 0;
  for (let si = 0; si < segs.length; si++) {
    const seg = segs[si]!;
    const reader = readers[si]!;
    // Offsets of every asked hash, visited in file order so reads go forward.
    const visits: { offset: number; hash: number }[] = [];
    for (const h of byHash.keys()) for (const offset of seg.index.offsetsOf(h)) if (offset < seg.size) visits.push({ offset, hash: h });
    visits.sort((a, b) => a.offset - b.offset);
    for (const v of visits) {
      if (++work % PICK_YIELD_EVERY === 0) await yieldNow();
      const block = reader.read(v.offset);
      if (!block || !readPacket(block, t)) continue;
      const ms = t.sec * 1000 + t.nsec / 1e6;
      if (ms < opts.from || ms > opts.to) continue;
      const iface = seg.index.interfaces[block.readUInt32LE(8)];
      if (!iface) continue;
      raw.linkType = iface.linkType;
      raw.interfaceId = iface.sourceId;
      raw.tsSec = t.sec;
      raw.tsNsec = t.nsec;
      raw.capLen = block.readUInt32LE(20);
      raw.origLen = block.readUInt32LE(24);
      raw.data = block.subarray(EPB_HEADER_BYTES, EPB_HEADER_BYTES + raw.capLen);
      const d = decoder.decode(raw);
      if (opts.filter && !opts.filter(raw.data, iface.linkType)) continue;
      for (const fi of byHash.get(v.hash)!) {
        // A fragment decodes to nothing on its own: the index (filled by the capture's
        // decoder, which saw the whole train) is trusted for it.
        if (d !== null && !sameFlow(d, flows[fi]!.key)) continue;
        const syn = d !== null && (d.tcpFlags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN;
        candidates[fi]!.push({ seg: si, offset: v.offset, sec: t.sec, nsec: t.nsec, ms, syn });
      }
    }
  }
  const picks: Pick[] = [];
  const seen = new Set<string>();
  flows.forEach((f, fi) => {
    const list = candidates[fi]!.sort(byTime);
    for (const c of selectInWindow(list, f)) {
      // Two requests for one flow must not write its packets twice.
      const id = `${c.seg}:${c.offset}`;
      if (seen.has(id)) continue;
      seen.add(id);
      picks.push(c);
    }
  });
  return picks;
}

/** Applies a flow request's own window: whole TCP connections overlapping it, else packets inside it. */
function selectInWindow(list: Candidate[], f: FlowRequest): Candidate[] {
  if (f.from === undefined && f.to === undefined) return list;
  const from = f.from ?? -Infinity;
  const to = f.to ?? Infinity;
  if (f.key.proto !== 6) return list.filter((c) => c.ms >= from && c.ms <= to);
  // Connections: a new one starts at a pure SYN unless the packet before was one too
  // (a retransmitted SYN belongs to the connection it tries to open).
  const out: Candidate[] = [];
  let start = 0;
  const flush = (end: number): void => {
    if (end <= start) return;
    if (list[start]!.ms <= to && list[end - 1]!.ms >= from) for (let i = start; i < end; i++) out.push(list[i]!);
  };
  for (let i = 1; i < list.length; i++) {
    if (list[i]!.syn && !list[i - 1]!.syn) {
      flush(i);
      start = i;
    }
  }
  flush(list.length);
  return out;
}

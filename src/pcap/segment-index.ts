/**
 * The per-segment index: time range, interfaces, and for each flow hash the offsets of
 * its packets, plus a sparse time index (one (offset, ms) pair every TIME_MARK_BYTES)
 * so a time window starts reading near where it begins.
 *
 * The open segment keeps it in memory (a Map of arrays, one push per packet); when the
 * segment closes it is written beside it as `seg-N.idx` (to a temporary name, then
 * renamed, so a crash never leaves half an index). A lookup in a closed segment reads
 * the file and binary-searches the sorted flow table.
 *
 * File layout (little-endian):
 *    0 u32 magic "TLRX"   4 u32 version   8 f64 segment bytes covered
 *   16 f64 min ms   24 f64 max ms   32 u32 packets   36 u32 interfaces
 *   40 u32 flows   44 u32 offsets   48 u32 time marks   52 u32 packets without a flow
 *   56 interfaces: u16 link type, u16 name length, u32 source interface id, name (padded to 4)
 *      flows: u32 hash, u32 first offset slot, u32 count   (sorted by hash)
 *      offsets: u32 each   time marks: u32 offset, f64 ms   then u32 magic again (end mark)
 */
import { closeSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';

export const INDEX_MAGIC = 0x5852_4c54; // "TLRX" read as little-endian bytes
/** 2: flow hashes of decode/flow-hash.ts (1 hashed address text); an index of another version is rebuilt from its segment. */
export const INDEX_VERSION = 2;
const HEADER_BYTES = 56;
/** A time mark every this many bytes of segment. */
export const TIME_MARK_BYTES = 256 * 1024;

export interface SegmentInterface {
  linkType: number;
  /** RawPacket.interfaceId of the source. */
  sourceId: number;
  name?: string;
}

/** What both the in-memory and the on-disk index answer. */
export interface SegmentIndexView {
  readonly bytes: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly packets: number;
  readonly interfaces: readonly SegmentInterface[];
  /** Offsets (ascending) of the packets whose flow hash is `hash`. */
  offsetsOf(hash: number): readonly number[];
  /** Offset to start reading at for packets at or after `ms` (a mark at least `slackMs` before it). */
  startOffset(ms: number, slackMs: number): number;
}

export class SegmentIndexBuilder implements SegmentIndexView {
  bytes = 0;
  minMs = Infinity;
  maxMs = -Infinity;
  packets = 0;
  noFlowPackets = 0;
  readonly interfaces: SegmentInterface[] = [];
  private readonly flows = new Map<number, number[]>();
  private readonly markOffsets: number[] = [];
  private readonly markMs: number[] = [];
  private nextMark = 0;

  /** One packet block at `offset`; `hash` < 0 when the packet has no flow. */
  add(offset: number, ms: number, hash: number): void {
    this.packets++;
    if (ms < this.minMs) this.minMs = ms;
    if (ms > this.maxMs) this.maxMs = ms;
    if (hash >= 0) {
      const list = this.flows.get(hash);
      if (list === undefined) this.flows.set(hash, [offset]);
      else list.push(offset);
    } else this.noFlowPackets++;
    if (offset >= this.nextMark) {
      this.markOffsets.push(offset);
      this.markMs.push(ms);
      this.nextMark = offset + TIME_MARK_BYTES;
    }
  }

  offsetsOf(hash: number): readonly number[] {
    return this.flows.get(hash) ?? [];
  }

  startOffset(ms: number, slackMs: number): number {
    return markStart(this.markOffsets, this.markMs, this.markOffsets.length, ms - slackMs);
  }

  get flowCount(): number {
    return this.flows.size;
  }

  encode(): Buffer {
    let ifaceBytes = 0;
    const names = this.interfaces.map((i) => Buffer.from(i.name ?? '', 'utf8').subarray(0, 0xffff));
    for (const n of names) ifaceBytes += 8 + ((n.length + 3) & ~3);
    const hashes = [...this.flows.keys()].sort((a, b) => a - b);
    let offsetCount = 0;
    for (const h of hashes) offsetCount += this.flows.get(h)!.length;
    const marks = this.markOffsets.length;
    const size = HEADER_BYTES + ifaceBytes + 12 * hashes.length + 4 * offsetCount + 12 * marks + 4;
    const b = Buffer.alloc(size);
    b.writeUInt32LE(INDEX_MAGIC, 0);
    b.writeUInt32LE(INDEX_VERSION, 4);
    b.writeDoubleLE(this.bytes, 8);
    b.writeDoubleLE(this.minMs, 16);
    b.writeDoubleLE(this.maxMs, 24);
    b.writeUInt32LE(this.packets, 32);
    b.writeUInt32LE(this.interfaces.length, 36);
    b.writeUInt32LE(hashes.length, 40);
    b.writeUInt32LE(offsetCount, 44);
    b.writeUInt32LE(marks, 48);
    b.writeUInt32LE(this.noFlowPackets, 52);
    let o = HEADER_BYTES;
    this.interfaces.forEach((iface, i) => {
      b.writeUInt16LE(iface.linkType, o);
      b.writeUInt16LE(names[i]!.length, o + 2);
      b.writeUInt32LE(iface.sourceId >>> 0, o + 4);
      names[i]!.copy(b, o + 8);
      o += 8 + ((names[i]!.length + 3) & ~3);
    });
    let slot = 0;
    const offStart = o + 12 * hashes.length;
    for (const h of hashes) {
      const list = this.flows.get(h)!;
      b.writeUInt32LE(h, o);
      b.writeUInt32LE(slot, o + 4);
      b.writeUInt32LE(list.length, o + 8);
      o += 12;
      for (const off of list) b.writeUInt32LE(off, offStart + 4 * slot++);
    }
    o = offStart + 4 * offsetCount;
    for (let i = 0; i < marks; i++) {
      b.writeUInt32LE(this.markOffsets[i]!, o);
      b.writeDoubleLE(this.markMs[i]!, o + 4);
      o += 12;
    }
    b.writeUInt32LE(INDEX_MAGIC, o);
    return b;
  }
}

/** Offset of the last mark at or before `ms` (0 when none is). */
function markStart(offsets: ArrayLike<number>, ms: ArrayLike<number>, n: number, at: number): number {
  let best = 0;
  // Marks are in file order; capture order is near time order, so the last mark before `at` is the start.
  for (let i = 0; i < n; i++) {
    if (ms[i]! <= at) best = offsets[i]!;
    else break;
  }
  return best;
}

/** A closed segment's index read back from its file. */
export class StoredSegmentIndex implements SegmentIndexView {
  private constructor(
    readonly bytes: number,
    readonly minMs: number,
    readonly maxMs: number,
    readonly packets: number,
    readonly interfaces: readonly SegmentInterface[],
    private readonly hashes: Uint32Array,
    private readonly starts: Uint32Array,
    private readonly counts: Uint32Array,
    private readonly offsets: Uint32Array,
    private readonly markOffsets: Uint32Array,
    private readonly markMs: Float64Array,
  ) {}

  /** Parses an index file's bytes; null when it is not a complete index of this version. */
  static decode(b: Buffer): StoredSegmentIndex | null {
    if (b.length < HEADER_BYTES + 4) return null;
    if (b.readUInt32LE(0) !== INDEX_MAGIC || b.readUInt32LE(4) !== INDEX_VERSION) return null;
    if (b.readUInt32LE(b.length - 4) !== INDEX_MAGIC) return null;
    const ifaceCount = b.readUInt32LE(36);
    const flowCount = b.readUInt32LE(40);
    const offsetCount = b.readUInt32LE(44);
    const markCount = b.readUInt32LE(48);
    let o = HEADER_BYTES;
    const interfaces: SegmentInterface[] = [];
    for (let i = 0; i < ifaceCount; i++) {
      if (o + 8 > b.length) return null;
      const nameLen = b.readUInt16LE(o + 2);
      const iface: SegmentInterface = { linkType: b.readUInt16LE(o), sourceId: b.readUInt32LE(o + 4) };
      if (nameLen > 0) iface.name = b.toString('utf8', o + 8, o + 8 + nameLen);
      interfaces.push(iface);
      o += 8 + ((nameLen + 3) & ~3);
    }
    if (o + 12 * flowCount + 4 * offsetCount + 12 * markCount + 4 !== b.length) return null;
    const hashes = new Uint32Array(flowCount);
    const starts = new Uint32Array(flowCount);
    const counts = new Uint32Array(flowCount);
    for (let i = 0; i < flowCount; i++, o += 12) {
      hashes[i] = b.readUInt32LE(o);
      starts[i] = b.readUInt32LE(o + 4);
      counts[i] = b.readUInt32LE(o + 8);
    }
    const offsets = new Uint32Array(offsetCount);
    for (let i = 0; i < offsetCount; i++, o += 4) offsets[i] = b.readUInt32LE(o);
    const markOffsets = new Uint32Array(markCount);
    const markMs = new Float64Array(markCount);
    for (let i = 0; i < markCount; i++, o += 12) {
      markOffsets[i] = b.readUInt32LE(o);
      markMs[i] = b.readDoubleLE(o + 4);
    }
    return new StoredSegmentIndex(
      b.readDoubleLE(8),
      b.readDoubleLE(16),
      b.readDoubleLE(24),
      b.readUInt32LE(32),
      interfaces,
      hashes,
      starts,
      counts,
      offsets,
      markOffsets,
      markMs,
    );
  }

  static read(path: string): StoredSegmentIndex | null {
    try {
      return StoredSegmentIndex.decode(readFileSync(path));
    } catch {
      return null;
    }
  }

  offsetsOf(hash: number): readonly number[] {
    let lo = 0;
    let hi = this.hashes.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const h = this.hashes[mid]!;
      if (h === hash) {
        const s = this.starts[mid]!;
        return Array.from(this.offsets.subarray(s, s + this.counts[mid]!));
      }
      if (h < hash) lo = mid + 1;
      else hi = mid - 1;
    }
    return [];
  }

  startOffset(ms: number, slackMs: number): number {
    return markStart(this.markOffsets, this.markMs, this.markOffsets.length, ms - slackMs);
  }
}

/** Writes `bytes` to `path` through a temporary file and a rename, so readers see all or nothing. */
export function writeFileAtomic(path: string, bytes: Buffer): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

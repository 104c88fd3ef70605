/**
 * The rolling packet ring: every captured packet goes to the open PCAPNG segment
 * (`seg-0000000042.pcapng`); a segment closes when it reaches its size or time span and
 * its flow/time index is written beside it (`seg-0000000042.idx`). Oldest segments are
 * deleted first, continuously, to keep the ring under its byte and age bounds.
 *
 * Writes are buffered (one write per buffer, default 1 MiB; with O_DIRECT where the addon
 * is built, common/append-file.ts) and pushed out at least every flushIntervalMs, so a
 * SIGKILL loses at most that much. On open, segments left in the folder are adopted: a
 * missing or stale index is rebuilt by scanning the segment, and a torn last block (a
 * write cut by the kill) is truncated away.
 */
import { closeSync, existsSync, ftruncateSync, openSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { RawPacket } from '../capture/types.js';
import { IssueCounter } from '../common/index.js';
import { createDecoder, flowHashAt, flowHashOf, type Decoder } from '../decode/index.js';
import { exportPackets, type ExportSegment } from './export.js';
import { u32le } from '../common/bytes.js';
import { hiLoToNanos, PcapngWriter, type PcapngTarget } from './pcapng-writer.js';
import { nativeAppendFiles, openAppendFile, type AppendFile } from '../common/append-file.js';
import { SegmentIndexBuilder, StoredSegmentIndex, writeFileAtomic, type SegmentIndexView } from './segment-index.js';
import { scanSegment } from './segment-reader.js';
import { RingConfigError, type ExportOptions, type ExportResult, type PacketRing, type RingOptions, type RingStats, type SegmentInfo } from './types.js';
import { makeDirs } from '../common/make-dirs.js';

const SEGMENT_RE = /^seg-(\d{10})\.pcapng$/;
const MAX_SEGMENT_BYTES = 0x7fff_ffff; // offsets are u32 in the index; keep well inside
const MIN_SEGMENT_BYTES = 1024;

interface ClosedSegment {
  /** Set when the index file could not be written. */
  memIndex?: SegmentIndexView;
  seq: number;
  path: string;
  idxPath: string;
  /** Segment + index bytes. */
  bytes: number;
  fileBytes: number;
  packets: number;
  minMs: number;
  maxMs: number;
}

interface OpenSegment {
  seq: number;
  path: string;
  idxPath: string;
  file: AppendFile;
  writer: PcapngWriter;
  index: SegmentIndexBuilder;
  /** (source interface id, link type) → interface id in this segment. */
  ifaces: Map<number, number>;
  firstMs: number;
}

const segName = (seq: number): string => `seg-${String(seq).padStart(10, '0')}`;

export function openPacketRing(opts: RingOptions): PacketRing {
  return new Ring(opts);
}

class Ring implements PacketRing {
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly maxAgeMs: number;
  private readonly segmentBytes: number;
  private readonly segmentMs: number;
  private readonly bufferBytes: number;
  private readonly userAppl: string;
  private readonly issues: IssueCounter;
  private readonly clock: (() => number) | undefined;
  private readonly interfaceName: RingOptions['interfaceName'];
  private readonly closed: ClosedSegment[] = [];
  private open: OpenSegment | null = null;
  private nextSeq = 1;
  private decoder: Decoder | null = null;
  /** Segment files are native (common/append-file.ts) unless `nativeWrites: false`; without appendEpbs live batches are copied like single packets. */
  private readonly nativeWrites: boolean;
  /** Records of the live batch being written whose blocks are not in the file yet (put, flushPending). */
  private readonly pending = { batch: null as Buffer | null, start: 0, end: 0, nanos: false, iface: 0, bytes: 0 };
  private timer: NodeJS.Timeout | null = null;
  private isClosed = false;
  /** Bytes of closed segments and their indexes. */
  private closedBytes = 0;
  private newestMs = -Infinity;
  // Last interface looked up: nearly every packet of a capture comes from the same one.
  private lastIfaceKey = -1;
  private lastIfaceId = 0;
  private readonly st: RingStats = {
    packets: 0,
    bytes: 0,
    diskBytes: 0,
    segments: 0,
    oldestMs: null,
    newestMs: null,
    segmentsDeletedBySize: 0,
    segmentsDeletedByAge: 0,
    segmentsAdopted: 0,
    segmentsRebuilt: 0,
    tornBytes: 0,
    writeErrors: 0,
    packetsLost: 0,
    lastWriteError: null,
  };

  constructor(opts: RingOptions) {
    if (!(opts.maxBytes > 0)) throw new RingConfigError('ring.bad_max_bytes', `maxBytes must be a positive number of bytes, got ${opts.maxBytes}`);
    if (!(opts.maxAgeSec > 0)) throw new RingConfigError('ring.bad_max_age', `maxAgeSec must be a positive number of seconds, got ${opts.maxAgeSec}`);
    const segmentBytes = opts.segmentBytes ?? Math.max(MIN_SEGMENT_BYTES, Math.min(64 << 20, Math.floor(opts.maxBytes / 8)));
    if (!(segmentBytes >= MIN_SEGMENT_BYTES && segmentBytes <= MAX_SEGMENT_BYTES)) {
      throw new RingConfigError('ring.bad_segment_bytes', `segmentBytes must be ${MIN_SEGMENT_BYTES}..${MAX_SEGMENT_BYTES}, got ${segmentBytes}`);
    }
    // Retention deletes whole closed segments: with fewer than two per ring the bound could not hold.
    if (segmentBytes * 2 > opts.maxBytes) {
      throw new RingConfigError('ring.segment_too_large', `segmentBytes (${segmentBytes}) must be at most half of maxBytes (${opts.maxBytes})`);
    }
    const segmentSeconds = opts.segmentSeconds ?? Math.min(300, Math.max(1, opts.maxAgeSec / 8));
    if (!(segmentSeconds > 0)) throw new RingConfigError('ring.bad_segment_seconds', `segmentSeconds must be positive, got ${segmentSeconds}`);
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes;
    this.maxAgeMs = opts.maxAgeSec * 1000;
    this.segmentBytes = segmentBytes;
    this.segmentMs = segmentSeconds * 1000;
    this.bufferBytes = Math.min(opts.bufferBytes ?? 1 << 20, segmentBytes);
    this.userAppl = opts.userAppl ?? 'Tapline';
    this.issues = opts.issues ?? new IssueCounter();
    this.clock = opts.clock;
    this.interfaceName = opts.interfaceName;
    this.nativeWrites = opts.nativeWrites !== false;
    makeDirs(this.dir);
    this.adopt();
    this.enforceRetention();
    const every = opts.flushIntervalMs ?? 1000;
    if (every > 0) {
      this.timer = setInterval(() => this.tick(), every);
      this.timer.unref();
    }
  }

  write(p: RawPacket): void {
    if (this.isClosed) return;
    try {
      this.put(p.data, 0, p.capLen, p.origLen, p.tsSec, p.tsNsec, p.linkType, p.interfaceId, this.hashOf(p.data, 0, p.capLen, p.linkType, p.tsSec, p.tsNsec, p.origLen));
    } catch (e) {
      // A full disk or an I/O error must not stop capture (see writeFailed).
      this.st.packetsLost++;
      this.writeFailed(e);
    }
  }

  writeRecords(batch: Buffer, linkType: number, nanos: boolean, interfaceId: number): { packets: number; bytes: number } {
    const len = batch.length;
    const direct = this.nativeWrites && nativeAppendFiles;
    // The batch's timestamp unit, for the blocks put() leaves pending (flushed before this returns).
    this.pending.nanos = nanos;
    let packets = 0;
    let bytes = 0;
    let o = 0;
    while (o + 16 <= len) {
      const capLen = u32le(batch, o + 8);
      const at = o + 16;
      if (at + capLen > len) break;
      packets++;
      bytes += capLen;
      const record = o;
      o = at + capLen;
      if (this.isClosed) continue;
      const tsSec = u32le(batch, record);
      const tsNsec = nanos ? u32le(batch, record + 4) : u32le(batch, record + 4) * 1000;
      const origLen = u32le(batch, record + 12);
      try {
        const hash = this.hashOf(batch, at, capLen, linkType, tsSec, tsNsec, origLen, interfaceId);
        this.put(batch, at, capLen, origLen, tsSec, tsNsec, linkType, interfaceId, hash, direct ? record : -1);
      } catch (e) {
        this.st.packetsLost++;
        this.writeFailed(e);
      }
    }
    try {
      this.flushPending();
    } catch (e) {
      this.writeFailed(e);
    }
    if (o < len) this.issues.count('capture.batch_cut');
    return { packets, bytes };
  }

  /**
   * Writes the records of the current batch that put() left pending (appendEpbs: straight
   * from the batch, no copy here). On failure the range is dropped and the error thrown
   * for writeFailed, which counts what did not reach the file by scanning it.
   */
  private flushPending(): void {
    const pend = this.pending;
    if (pend.batch === null) return;
    const seg = this.open!;
    const { batch, start, end, nanos, iface } = pend;
    pend.batch = null;
    pend.bytes = 0;
    seg.writer.flush();
    seg.writer.wroteDirectly(seg.file.appendEpbs!(batch, start, end, nanos, iface));
  }

  /**
   * The flow hash the packet is indexed by (-1: none): read from its headers, or, where
   * they do not tell it (fragments, tunnels), from what this ring's own decoder makes of
   * a copy of it (a fragment is kept until its datagram is whole; the batch it came in
   * may be handed to another thread once written).
   */
  private hashOf(b: Buffer, off: number, capLen: number, linkType: number, tsSec: number, tsNsec: number, origLen: number, interfaceId = 0): number {
    const hash = flowHashAt(b, off, capLen, linkType);
    if (hash >= 0) return hash;
    this.decoder ??= createDecoder({ issues: this.issues });
    const d = this.decoder.decode({ linkType, interfaceId, tsSec, tsNsec, capLen, origLen, data: Buffer.from(b.subarray(off, off + capLen)), recordOffset: -1 });
    return d === null ? -1 : flowHashOf(d);
  }

  /**
   * Stores one packet. `record` >= 0: the packet is the record at that offset of a live
   * batch (`b`), and its block joins the pending range flushPending writes (the offsets
   * the index gets count the pending bytes); -1: it is copied into the writer's buffer.
   */
  private put(b: Buffer, off: number, capLen: number, origLen: number, tsSec: number, tsNsec: number, linkType: number, interfaceId: number, hash: number, record = -1): void {
    const ms = tsSec * 1000 + tsNsec / 1e6;
    const pend = this.pending;
    let seg = this.open;
    // EPB size: 28 header + padded data + 4 trailer.
    const blockLen = 32 + ((capLen + 3) & ~3);
    if (seg !== null && seg.index.packets > 0 && (seg.writer.offset + pend.bytes + blockLen > this.segmentBytes || ms - seg.firstMs >= this.segmentMs)) {
      this.flushPending();
      this.closeOpen();
      seg = null;
    }
    if (seg === null) seg = this.startSegment(ms);
    const key = interfaceId * 65536 + linkType;
    let iface: number;
    if (key === this.lastIfaceKey) iface = this.lastIfaceId;
    else {
      iface = seg.ifaces.get(key) ?? (this.flushPending(), this.addInterface(seg, interfaceId, linkType, key));
      this.lastIfaceKey = key;
      this.lastIfaceId = iface;
    }
    let offset: number;
    if (record < 0) offset = seg.writer.writePacketAt(iface, tsSec, tsNsec, b, off, capLen, origLen);
    else {
      if (pend.batch !== null && (pend.batch !== b || pend.end !== record || pend.iface !== iface)) this.flushPending();
      if (pend.batch === null) {
        pend.batch = b;
        pend.start = record;
        pend.iface = iface;
      }
      pend.end = off + capLen;
      offset = seg.writer.offset + pend.bytes;
      pend.bytes += blockLen;
    }
    seg.index.add(offset, ms, hash);
    seg.index.bytes = seg.writer.offset + pend.bytes;
    this.st.packets++;
    this.st.bytes += capLen;
    if (ms > this.newestMs) this.newestMs = ms;
    const total = this.closedBytes + seg.index.bytes;
    if (total > this.maxBytes || (this.closed.length > 0 && this.newestMs - this.closed[0]!.maxMs > this.maxAgeMs)) this.enforceRetention();
  }

  flush(): void {
    if (this.open === null) return;
    try {
      this.open.writer.flush();
      this.open.file.flush();
    } catch (e) {
      this.writeFailed(e);
    }
  }

  /**
   * A write to the segment failed (disk full, I/O error): capture must go on. What the
   * file holds is kept as a closed segment (indexed by scanning it, as at adoption); the
   * buffered packets are lost and counted; the next packet starts a new segment.
   */
  private writeFailed(e: unknown): void {
    const seg = this.open;
    this.issues.count('ring.write_failed');
    this.st.writeErrors++;
    this.st.lastWriteError = (e as Error).message;
    if (!seg) return;
    this.open = null;
    this.st.packetsLost += seg.index.packets;
    try {
      seg.file.close();
    } catch {
      /* what could not be written is what the rebuild below does not find */
    }
    const size = existsSync(seg.path) ? statSync(seg.path).size : 0;
    let index: SegmentIndexBuilder | null = null;
    try {
      if (size > 0) index = this.rebuild(seg.path, size);
    } catch {
      index = null;
    }
    if (!index || index.packets === 0) {
      unlinkQuietly(seg.path);
      return;
    }
    this.st.packetsLost -= index.packets;
    let memIndex: SegmentIndexView | undefined;
    let idxBytes = 0;
    try {
      const bytes = index.encode();
      writeFileAtomic(seg.idxPath, bytes);
      idxBytes = bytes.length;
    } catch {
      unlinkQuietly(`${seg.idxPath}.tmp`);
      memIndex = index;
    }
    const c: ClosedSegment = { memIndex, seq: seg.seq, path: seg.path, idxPath: seg.idxPath, bytes: index.bytes + idxBytes, fileBytes: index.bytes, packets: index.packets, minMs: index.minMs, maxMs: index.maxMs };
    this.closed.push(c);
    this.closedBytes += c.bytes;
    this.enforceRetention();
  }

  stats(): RingStats {
    const st = { ...this.st };
    st.diskBytes = this.closedBytes + (this.open?.writer.offset ?? 0);
    st.segments = this.closed.length + (this.open ? 1 : 0);
    const all = this.segments().filter((s) => s.packets > 0);
    st.oldestMs = all.length ? Math.min(...all.map((s) => s.minMs)) : null;
    st.newestMs = all.length ? Math.max(...all.map((s) => s.maxMs)) : null;
    return st;
  }

  segments(): SegmentInfo[] {
    const out: SegmentInfo[] = this.closed.map((c) => ({ seq: c.seq, path: c.path, bytes: c.bytes, packets: c.packets, minMs: c.minMs, maxMs: c.maxMs, open: false }));
    const o = this.open;
    if (o) out.push({ seq: o.seq, path: o.path, bytes: o.writer.offset, packets: o.index.packets, minMs: o.index.minMs, maxMs: o.index.maxMs, open: true });
    return out;
  }

  async export(opts: ExportOptions, out: PcapngTarget): Promise<ExportResult> {
    this.flush();
    // Each segment gets its own read descriptor now: one deleted by retention while the
    // export runs stays readable (Linux keeps an unlinked file while it is open).
    const segs: ExportSegment[] = [];
    try {
      for (const c of this.closed) {
        if (c.maxMs < opts.from || c.minMs > opts.to || c.packets === 0) continue;
        const index = c.memIndex ?? StoredSegmentIndex.read(c.idxPath);
        if (!index) {
          this.issues.count('ring.index_unreadable');
          continue;
        }
        segs.push({ seq: c.seq, fd: openSync(c.path, 'r'), size: c.fileBytes, index });
      }
      const o = this.open;
      if (o && o.index.packets > 0 && o.index.maxMs >= opts.from && o.index.minMs <= opts.to) {
        segs.push({ seq: o.seq, fd: openSync(o.path, 'r'), size: o.writer.offset, index: snapshotIndex(o.index) });
      }
      return await exportPackets(segs, opts, out, this.userAppl);
    } finally {
      for (const s of segs) closeSync(s.fd);
    }
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.timer) clearInterval(this.timer);
    this.closeOpen();
  }

  // -------------------------------------------------------------------------

  private tick(): void {
    if (this.isClosed) return;
    this.flush();
    if (this.clock) {
      const now = this.clock();
      // An idle open segment past the age bound is closed so retention can remove it.
      if (this.open && this.open.index.packets > 0 && now - this.open.index.maxMs > this.maxAgeMs) this.closeOpen();
      this.enforceRetention();
    }
  }

  private nowMs(): number {
    const c = this.clock ? this.clock() : -Infinity;
    return Math.max(c, this.newestMs);
  }

  /** Deletes oldest closed segments while the ring is over its size, or they are over the age bound. */
  private enforceRetention(): void {
    const now = this.nowMs();
    while (this.closed.length > 0) {
      const oldest = this.closed[0]!;
      const total = this.closedBytes + (this.open === null ? 0 : this.open.writer.offset + this.pending.bytes);
      if (total > this.maxBytes) this.st.segmentsDeletedBySize++;
      else if (now - oldest.maxMs > this.maxAgeMs) this.st.segmentsDeletedByAge++;
      else break;
      this.closed.shift();
      this.closedBytes -= oldest.bytes;
      unlinkQuietly(oldest.path);
      unlinkQuietly(oldest.idxPath);
    }
  }

  private startSegment(ms: number): OpenSegment {
    const seq = this.nextSeq++;
    const base = join(this.dir, segName(seq));
    const path = `${base}.pcapng`;
    const file = openAppendFile(path, { bufferBytes: this.bufferBytes, native: this.nativeWrites });
    const writer = new PcapngWriter(file, { bufferBytes: this.bufferBytes });
    writer.writeSectionHeader({ comment: `Tapline packet ring segment ${seq}`, userAppl: this.userAppl });
    const seg: OpenSegment = { seq, path, idxPath: `${base}.idx`, file, writer, index: new SegmentIndexBuilder(), ifaces: new Map(), firstMs: ms };
    seg.index.bytes = writer.offset;
    this.open = seg;
    this.lastIfaceKey = -1;
    return seg;
  }

  private addInterface(seg: OpenSegment, interfaceId: number, linkType: number, key: number): number {
    const name = this.interfaceName?.(interfaceId, linkType);
    const id = seg.writer.addInterface({ linkType, name });
    seg.index.interfaces.push(name === undefined ? { linkType, sourceId: interfaceId } : { linkType, sourceId: interfaceId, name });
    seg.ifaces.set(key, id);
    return id;
  }

  private closeOpen(): void {
    const seg = this.open;
    if (!seg) return;
    try {
      seg.writer.flush();
      seg.file.flush();
    } catch (e) {
      this.writeFailed(e);
      return;
    }
    this.open = null;
    seg.file.close();
    if (seg.index.packets === 0) {
      unlinkQuietly(seg.path);
      return;
    }
    seg.index.bytes = seg.writer.offset;
    const idx = seg.index.encode();
    let memIndex: SegmentIndexView | undefined;
    try {
      writeFileAtomic(seg.idxPath, idx);
    } catch (e) {
      // The segment itself is whole: keep its index in memory (a restart rebuilds it).
      this.issues.count('ring.write_failed');
      this.st.writeErrors++;
      this.st.lastWriteError = (e as Error).message;
      unlinkQuietly(`${seg.idxPath}.tmp`);
      memIndex = seg.index;
    }
    const c: ClosedSegment = {
      memIndex,
      seq: seg.seq,
      path: seg.path,
      idxPath: seg.idxPath,
      bytes: seg.writer.offset + (memIndex ? 0 : idx.length),
      fileBytes: seg.writer.offset,
      packets: seg.index.packets,
      minMs: seg.index.minMs,
      maxMs: seg.index.maxMs,
    };
    this.closed.push(c);
    this.closedBytes += c.bytes;
    this.enforceRetention();
  }

  /** Takes in the segments a previous run left (see the file comment). */
  private adopt(): void {
    const found: number[] = [];
    for (const name of readdirSync(this.dir)) {
      const m = SEGMENT_RE.exec(name);
      if (m) found.push(Number(m[1]));
      else if (name.endsWith('.tmp')) unlinkQuietly(join(this.dir, name));
    }
    found.sort((a, b) => a - b);
    for (const seq of found) {
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
      const base = join(this.dir, segName(seq));
      const path = `${base}.pcapng`;
      const idxPath = `${base}.idx`;
      const size = statSync(path).size;
      let index: SegmentIndexView | null = existsSync(idxPath) ? StoredSegmentIndex.read(idxPath) : null;
      let idxBytes = index ? statSync(idxPath).size : 0;
      if (!index || index.bytes !== size) {
        const rebuilt = this.rebuild(path, size);
        if (!rebuilt) {
          this.issues.count('ring.segment_unreadable');
          unlinkQuietly(path);
          unlinkQuietly(idxPath);
          continue;
        }
        if (rebuilt.packets === 0) {
          unlinkQuietly(path);
          unlinkQuietly(idxPath);
          continue;
        }
        const bytes = rebuilt.encode();
        writeFileAtomic(idxPath, bytes);
        index = rebuilt;
        idxBytes = bytes.length;
        this.st.segmentsRebuilt++;
      }
      const c: ClosedSegment = { seq, path, idxPath, bytes: index.bytes + idxBytes, fileBytes: index.bytes, packets: index.packets, minMs: index.minMs, maxMs: index.maxMs };
      this.closed.push(c);
      this.closedBytes += c.bytes;
      if (index.maxMs > this.newestMs) this.newestMs = index.maxMs;
      this.st.segmentsAdopted++;
    }
  }

  /** Scans a segment into a fresh index, truncating a torn tail; null when it is not a segment. */
  private rebuild(path: string, size: number): SegmentIndexBuilder | null {
    const fd = openSync(path, 'r+');
    try {
      const index = new SegmentIndexBuilder();
      const decoder = createDecoder({ issues: this.issues });
      const t = { sec: 0, nsec: 0 };
      const raw: RawPacket = { linkType: 0, interfaceId: 0, tsSec: 0, tsNsec: 0, capLen: 0, origLen: 0, data: Buffer.alloc(0), recordOffset: -1 };
      const res = scanSegment(
        fd,
        size,
        (linkType, block) => {
          const name = ifName(block);
          index.interfaces.push(name === undefined ? { linkType, sourceId: index.interfaces.length } : { linkType, sourceId: index.interfaces.length, name });
        },
        (p) => {
          const iface = index.interfaces[p.interfaceId];
          if (!iface) return;
          hiLoToNanos(p.tsHi, p.tsLo, t);
          raw.linkType = iface.linkType;
          raw.interfaceId = iface.sourceId;
          raw.tsSec = t.sec;
          raw.tsNsec = t.nsec;
          raw.capLen = p.capLen;
          raw.origLen = p.origLen;
          // As hashOf: from the headers, else from the decoder, given a copy (it keeps
          // fragments, and p.data is a view of the scan's window, which the next read reuses).
          let hash = flowHashAt(p.data, 0, p.capLen, iface.linkType);
          if (hash < 0) {
            raw.data = Buffer.from(p.data);
            const d = decoder.decode(raw);
            hash = d === null ? -1 : flowHashOf(d);
          }
          index.add(p.offset, t.sec * 1000 + t.nsec / 1e6, hash);
        },
      );
      if (!res.valid) return null;
      if (res.goodEnd < size) {
        this.st.tornBytes += size - res.goodEnd;
        this.issues.count('ring.torn_segment');
        ftruncateSync(fd, res.goodEnd);
      }
      index.bytes = res.goodEnd;
      return index;
    } finally {
      closeSync(fd);
    }
  }
}

/** if_name (option 2) of an IDB, if present. */
function ifName(block: Buffer): string | undefined {
  let o = 16;
  const end = block.length - 4;
  while (o + 4 <= end) {
    const code = block.readUInt16LE(o);
    const len = block.readUInt16LE(o + 2);
    if (code === 0) break;
    if (code === 2 && o + 4 + len <= end) return block.toString('utf8', o + 4, o + 4 + len);
    o += 4 + ((len + 3) & ~3);
  }
  return undefined;
}

/** The open segment's index as it is now (later packets are past the export's size snapshot anyway). */
function snapshotIndex(b: SegmentIndexBuilder): SegmentIndexView {
  return StoredSegmentIndex.decode(b.encode())!;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

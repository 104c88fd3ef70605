/**
 * A streaming PCAPNG writer (draft-ietf-opsawg-pcapng): one Section Header Block,
 * Interface Description Blocks, Name Resolution Blocks and Enhanced Packet Blocks,
 * little-endian, every block and option padded to 32 bits.
 *
 * Blocks are encoded into one reusable buffer that goes out when full (or on flush),
 * so writing a packet costs a few stores and one copy, not a syscall. The target is a
 * file descriptor or a BlockSink (written synchronously: the packet ring writes from the
 * capture thread and must know each block's file offset) or a Writable (back-pressure
 * through `ready()`).
 */
import { writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { ipv4Bytes, ipv6Bytes } from '../decode/ip-bytes.js';
import { put32le } from '../common/bytes.js';

export const BLOCK_SHB = 0x0a0d0d0a;
export const BLOCK_IDB = 0x00000001;
export const BLOCK_NRB = 0x00000004;
export const BLOCK_EPB = 0x00000006;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

// Option codes (pcapng draft, section 3.5 and the block sections).
const OPT_ENDOFOPT = 0;
const OPT_COMMENT = 1;
const SHB_HARDWARE = 2;
const SHB_OS = 3;
const SHB_USERAPPL = 4;
const IF_NAME = 2;
const IF_DESCRIPTION = 3;
const IF_TSRESOL = 9;
const NRB_RECORD_END = 0;
const NRB_RECORD_IPV4 = 1;
const NRB_RECORD_IPV6 = 2;

/** Fixed part of an EPB before the packet data: type, length, interface, ts high, ts low, caplen, origlen. */
export const EPB_HEADER_BYTES = 28;

export interface SectionHeaderOptions {
  /** shb_comment: what this file is (for an export: what was asked). */
  comment?: string;
  /** shb_userappl, e.g. "Tapline 0.1.0". */
  userAppl?: string;
  hardware?: string;
  os?: string;
}

export interface InterfaceOptions {
  linkType: number;
  /** 0 means "no limit" (the pcapng draft's convention). */
  snapLen?: number;
  name?: string;
  description?: string;
  comment?: string;
}

/** A target that takes each flushed range at once (the ring's segment files, common/append-file.ts). */
export interface BlockSink {
  append(bytes: Uint8Array, start: number, end: number): void;
}

export type PcapngTarget = number | Writable | BlockSink;

export interface PcapngWriterOptions {
  /** Bytes buffered before a write to the target (default 1 MiB). */
  bufferBytes?: number;
  /** Offset in the target of the first byte this writer writes (appending to a file). */
  startOffset?: number;
}

const pad4 = (n: number): number => (n + 3) & ~3;

/**
 * Splits `sec * 1e9 + nsec` (up to 2^64) into two 32-bit halves without BigInt: a double
 * holds integers only to 2^53, nanoseconds since 1970 are ~2^61.
 */
export function nanosToHiLo(sec: number, nsec: number, out: { hi: number; lo: number }): void {
  const sh = Math.floor(sec / 65536);
  const sl = sec - sh * 65536;
  const low = sl * 1e9 + nsec; // < 2^46 + 2^30: exact
  const high = sh * 1e9; // counts units of 2^16; < 2^46: exact
  const hH = Math.floor(high / 65536);
  const hL = high - hH * 65536;
  const m = hL * 65536 + low; // < 2^48: exact
  const carry = Math.floor(m / 4294967296);
  out.hi = hH + carry;
  out.lo = m - carry * 4294967296;
}

/** The inverse of nanosToHiLo: long division of the 64-bit count by 1e9 in 16-bit steps. */
export function hiLoToNanos(hi: number, lo: number, out: { sec: number; nsec: number }): void {
  const q0 = Math.floor(hi / 1e9);
  const t1 = (hi - q0 * 1e9) * 65536 + (lo >>> 16);
  const q1 = Math.floor(t1 / 1e9);
  const t2 = (t1 - q1 * 1e9) * 65536 + (lo & 0xffff);
  const q2 = Math.floor(t2 / 1e9);
  out.sec = q0 * 4294967296 + q1 * 65536 + q2;
  out.nsec = t2 - q2 * 1e9;
}

export class PcapngWriter {
  private buf: Buffer;
  private pos = 0;
  private flushed: number;
  private interfaces = 0;
  private readonly bufferBytes: number;
  private readonly fd: number;
  private readonly sink: BlockSink | null;
  private readonly stream: Writable | null;
  private waiting: Promise<void> | null = null;
  private streamError: Error | null = null;
  private readonly ts = { hi: 0, lo: 0 };

  constructor(target: PcapngTarget, opts: PcapngWriterOptions = {}) {
    this.bufferBytes = Math.max(4096, opts.bufferBytes ?? 1 << 20);
    this.buf = Buffer.allocUnsafe(this.bufferBytes);
    this.flushed = opts.startOffset ?? 0;
    this.fd = -1;
    this.sink = null;
    this.stream = null;
    if (typeof target === 'number') this.fd = target;
    else if ('append' in target) this.sink = target;
    else {
      this.stream = target;
      target.on('error', (e: Error) => (this.streamError ??= e));
    }
  }

  /** Bytes written so far, buffered ones included: the offset the next block will have. */
  get offset(): number {
    return this.flushed + this.pos;
  }

  get bufferedBytes(): number {
    return this.pos;
  }

  get interfaceCount(): number {
    return this.interfaces;
  }

  /** Starts a section. Interfaces are numbered per section, so the count restarts. */
  writeSectionHeader(opts: SectionHeaderOptions = {}): void {
    const options = encodeOptions([
      [OPT_COMMENT, opts.comment],
      [SHB_HARDWARE, opts.hardware],
      [SHB_OS, opts.os],
      [SHB_USERAPPL, opts.userAppl],
    ]);
    const len = 28 + options.length;
    const b = this.reserve(len);
    let o = this.pos;
    o = b.writeUInt32LE(BLOCK_SHB, o);
    o = b.writeUInt32LE(len, o);
    o = b.writeUInt32LE(BYTE_ORDER_MAGIC, o);
    o = b.writeUInt16LE(1, o); // major version
    o = b.writeUInt16LE(0, o); // minor version
    // Section length -1: not given (the file is streamed).
    o = b.writeInt32LE(-1, o);
    o = b.writeInt32LE(-1, o);
    o += options.copy(b, o);
    b.writeUInt32LE(len, o);
    this.pos += len;
    this.interfaces = 0;
  }

  /** Adds an interface whose timestamps are in nanoseconds (if_tsresol = 9); returns its id. */
  addInterface(opts: InterfaceOptions): number {
    const options = encodeOptions([
      [IF_NAME, opts.name],
      [IF_DESCRIPTION, opts.description],
      [IF_TSRESOL, Buffer.from([9])],
      [OPT_COMMENT, opts.comment],
    ]);
    const len = 20 + options.length;
    const b = this.reserve(len);
    let o = this.pos;
    o = b.writeUInt32LE(BLOCK_IDB, o);
    o = b.writeUInt32LE(len, o);
    o = b.writeUInt16LE(opts.linkType & 0xffff, o);
    o = b.writeUInt16LE(0, o);
    o = b.writeUInt32LE((opts.snapLen ?? 0) >>> 0, o);
    o += options.copy(b, o);
    b.writeUInt32LE(len, o);
    this.pos += len;
    return this.interfaces++;
  }

  /**
   * Name Resolution Blocks: one record per address, holding every name given for it
   * (Wireshark shows the first of the list).
   * Addresses that are neither dotted quads nor IPv6 text are skipped (returned count).
   */
  writeNameResolution(names: Iterable<readonly [string, readonly string[]]>): number {
    const records: Buffer[] = [];
    let skipped = 0;
    for (const [ip, list] of names) {
      const addr = ip.includes(':') ? ipv6Bytes(ip) : ipv4Bytes(ip);
      const good = list.filter((n) => n.length > 0 && !n.includes('\0'));
      if (!addr || good.length === 0) {
        skipped++;
        continue;
      }
      // Wireshark keeps the last name of a record (each one overwrites the one before):
      // written last-to-first, the caller's first (preferred) name is the one shown.
      const value = Buffer.concat([addr, ...good.reverse().map((n) => Buffer.from(n + '\0', 'utf8'))]);
      if (value.length > 0xffff) {
        skipped++;
        continue;
      }
      const rec = Buffer.alloc(4 + pad4(value.length));
      rec.writeUInt16LE(addr.length === 4 ? NRB_RECORD_IPV4 : NRB_RECORD_IPV6, 0);
      rec.writeUInt16LE(value.length, 2);
      value.copy(rec, 4);
      records.push(rec);
    }
    // One block can hold at most 4 GiB, but keep blocks modest so readers never choke.
    const MAX_BLOCK_RECORDS = 4096;
    for (let i = 0; i < records.length; i += MAX_BLOCK_RECORDS) {
      const body = Buffer.concat([...records.slice(i, i + MAX_BLOCK_RECORDS), Buffer.from([NRB_RECORD_END, 0, 0, 0])]);
      const len = 12 + body.length;
      const b = this.reserve(len);
      let o = this.pos;
      o = b.writeUInt32LE(BLOCK_NRB, o);
      o = b.writeUInt32LE(len, o);
      o += body.copy(b, o);
      b.writeUInt32LE(len, o);
      this.pos += len;
    }
    return skipped;
  }

  /**
   * An Enhanced Packet Block; returns its offset in the target. The timestamp is written
   * in nanoseconds exactly as given.
   */
  writePacket(interfaceId: number, tsSec: number, tsNsec: number, data: Buffer, origLen: number, comment?: string): number {
    if (comment === undefined || comment.length === 0) return this.writePacketAt(interfaceId, tsSec, tsNsec, data, 0, data.length, origLen);
    const commentBytes = Buffer.byteLength(comment, 'utf8');
    const len = EPB_HEADER_BYTES + pad4(data.length) + 4 + pad4(commentBytes) + 4 + 4;
    let o = this.epbStart(len, interfaceId, tsSec, tsNsec, data, 0, data.length, origLen);
    const start = this.pos; // after epbStart: making room may have flushed the buffer
    const b = this.buf;
    b.writeUInt16LE(OPT_COMMENT, o);
    b.writeUInt16LE(commentBytes, o + 2);
    b.write(comment, o + 4, 'utf8');
    o += 4 + commentBytes;
    for (const end = o + pad4(commentBytes) - commentBytes; o < end; o++) b[o] = 0;
    b.writeUInt32LE(0, o); // opt_endofopt
    put32le(b, o + 4, len);
    this.pos += len;
    return this.flushed + start;
  }

  /** writePacket, without a comment, of the frame at `src[off, off + capLen)` (a record inside a capture batch). */
  writePacketAt(interfaceId: number, tsSec: number, tsNsec: number, src: Uint8Array, off: number, capLen: number, origLen: number): number {
    const len = EPB_HEADER_BYTES + pad4(capLen) + 4;
    const o = this.epbStart(len, interfaceId, tsSec, tsNsec, src, off, capLen, origLen);
    const start = this.pos; // after epbStart: making room may have flushed the buffer
    put32le(this.buf, o, len);
    this.pos += len;
    return this.flushed + start;
  }

  /**
   * Room for an EPB of `len` bytes at `pos` (flushing first when the buffer is full), its
   * header and its frame (padded to 4) written; `pos` is left at the block's start.
   * Returns where the options (or the trailing length) go.
   */
  private epbStart(len: number, interfaceId: number, tsSec: number, tsNsec: number, src: Uint8Array, off: number, capLen: number, origLen: number): number {
    const b = this.reserve(len);
    const start = this.pos;
    nanosToHiLo(tsSec, tsNsec, this.ts);
    put32le(b, start, BLOCK_EPB);
    put32le(b, start + 4, len);
    put32le(b, start + 8, interfaceId >>> 0);
    put32le(b, start + 12, this.ts.hi >>> 0);
    put32le(b, start + 16, this.ts.lo >>> 0);
    put32le(b, start + 20, capLen);
    put32le(b, start + 24, Math.max(origLen, capLen) >>> 0);
    // A plain Uint8Array view: Buffer#copy with offsets builds one through Buffer's species, a few times slower.
    b.set(new Uint8Array(src.buffer, src.byteOffset + off, capLen), start + EPB_HEADER_BYTES);
    let o = start + EPB_HEADER_BYTES + capLen;
    for (const end = start + EPB_HEADER_BYTES + pad4(capLen); o < end; o++) b[o] = 0;
    return o;
  }

  /**
   * An EPB copied from another pcapng file's block bytes (little-endian, ns resolution),
   * with its interface id replaced and, optionally, its options replaced by one comment.
   */
  writeRawPacketBlock(interfaceId: number, block: Buffer, comment?: string): number {
    if (comment === undefined) {
      const b = this.reserve(block.length);
      const start = this.pos;
      block.copy(b, start);
      b.writeUInt32LE(interfaceId >>> 0, start + 8);
      this.pos += block.length;
      return this.flushed + start;
    }
    const capLen = block.readUInt32LE(20);
    const hi = block.readUInt32LE(12);
    const lo = block.readUInt32LE(16);
    const t = { sec: 0, nsec: 0 };
    hiLoToNanos(hi, lo, t);
    return this.writePacket(interfaceId, t.sec, t.nsec, block.subarray(EPB_HEADER_BYTES, EPB_HEADER_BYTES + capLen), block.readUInt32LE(24), comment);
  }

  /** `bytes` were written to the target by someone else, after a flush(): they count in `offset`. */
  wroteDirectly(bytes: number): void {
    if (this.pos !== 0) throw new Error('wroteDirectly: flush() first');
    this.flushed += bytes;
  }

  /** Sends what is buffered. For a Writable, wait on `ready()` before writing much more. */
  flush(): void {
    if (this.pos === 0) return;
    if (this.stream) {
      if (this.streamError) throw this.streamError;
      // The stream keeps the chunk until it is written: hand it over and start a new buffer.
      const chunk = this.buf.subarray(0, this.pos);
      this.flushed += this.pos;
      this.buf = Buffer.allocUnsafe(this.bufferBytes);
      this.pos = 0;
      if (!this.stream.write(chunk) && !this.waiting) {
        this.waiting = new Promise<void>((resolve) => {
          const done = (): void => {
            this.stream!.off('drain', done);
            this.stream!.off('close', done);
            this.stream!.off('error', done);
            this.waiting = null;
            resolve();
          };
          this.stream!.on('drain', done);
          this.stream!.on('close', done);
          this.stream!.on('error', done);
        });
      }
      return;
    }
    if (this.sink) this.sink.append(this.buf, 0, this.pos);
    else for (let off = 0; off < this.pos; ) off += writeSync(this.fd, this.buf, off, this.pos - off);
    this.flushed += this.pos;
    this.pos = 0;
  }

  /** A promise while a Writable target is over its high-water mark, else undefined. */
  ready(): Promise<void> | undefined {
    if (this.streamError) return Promise.reject(this.streamError);
    return this.waiting ?? undefined;
  }

  /** Flushes and, for a Writable, ends it and waits until it has finished. An fd stays open. */
  async end(): Promise<void> {
    this.flush();
    if (!this.stream) return;
    const s = this.stream;
    await new Promise<void>((resolve, reject) => {
      if (this.streamError) return reject(this.streamError);
      s.once('error', reject);
      s.end(() => resolve());
    });
  }

  /** The buffer with room for `len` more bytes at `pos`. */
  private reserve(len: number): Buffer {
    if (this.pos + len <= this.buf.length) return this.buf;
    this.flush();
    if (len > this.buf.length) this.buf = Buffer.allocUnsafe(len);
    return this.buf;
  }
}

/** Options as code, length, value padded to 4, then opt_endofopt; empty when none is set. */
function encodeOptions(list: [number, string | Buffer | undefined][]): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of list) {
    if (value === undefined || value.length === 0) continue;
    const v = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    if (v.length > 0xffff) continue;
    const opt = Buffer.alloc(4 + pad4(v.length));
    opt.writeUInt16LE(code, 0);
    opt.writeUInt16LE(v.length, 2);
    v.copy(opt, 4);
    parts.push(opt);
  }
  if (parts.length === 0) return Buffer.alloc(0);
  parts.push(Buffer.from([OPT_ENDOFOPT, 0, 0, 0]));
  return Buffer.concat(parts);
}

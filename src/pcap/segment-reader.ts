/**
 * Reading the ring's own segment files back: little-endian pcapng that this package
 * wrote, so only the block framing is checked, not every variant a foreign file may use.
 */
import { readSync } from 'node:fs';
import { BLOCK_EPB, BLOCK_IDB, BLOCK_SHB, BYTE_ORDER_MAGIC, EPB_HEADER_BYTES } from './pcapng-writer.js';

/** Smallest read issued, so neighbouring packets come from one syscall. */
const MIN_READ_BYTES = 64 * 1024;

/**
 * Serves whole blocks by offset from a window over the file. Reads go forward in
 * practice (offsets ascend), so each window is used for many blocks.
 */
export class BlockReader {
  private win: Buffer = Buffer.alloc(0);
  private winStart = 0;
  private winLen = 0;

  constructor(
    private readonly fd: number,
    /** Bytes of the file that may be read (a snapshot of its size). */
    readonly size: number,
    private readonly windowBytes = 1 << 20,
  ) {}

  /**
   * The block at `offset` (a view valid until the next call), or null when its framing
   * is damaged or it runs past `size`.
   */
  read(offset: number): Buffer | null {
    if (offset + 12 > this.size) return null;
    let head = this.view(offset, 8);
    if (!head) return null;
    const len = head.readUInt32LE(4);
    if (len < 12 || len % 4 !== 0 || offset + len > this.size) return null;
    const block = this.view(offset, len);
    if (!block || block.readUInt32LE(len - 4) !== len) return null;
    return block;
  }

  private view(offset: number, len: number): Buffer | null {
    if (offset >= this.winStart && offset + len <= this.winStart + this.winLen) {
      return this.win.subarray(offset - this.winStart, offset - this.winStart + len);
    }
    const want = Math.min(Math.max(len, MIN_READ_BYTES, this.windowBytes), this.size - offset);
    if (want < len) return null;
    if (this.win.length < want) this.win = Buffer.allocUnsafe(Math.max(want, this.windowBytes));
    let got = 0;
    while (got < want) {
      const n = readSync(this.fd, this.win, got, want - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    this.winStart = offset;
    this.winLen = got;
    if (got < len) return null;
    return this.win.subarray(0, len);
  }
}

export interface ScannedPacket {
  offset: number;
  interfaceId: number;
  tsHi: number;
  tsLo: number;
  capLen: number;
  origLen: number;
  /** The packet bytes (a view valid during the callback). */
  data: Buffer;
}

export interface ScanResult {
  /** End of the last whole block: where a torn tail begins. */
  goodEnd: number;
  /** The file started with a little-endian SHB. */
  valid: boolean;
}

/**
 * Walks every block from the start; IDBs report their link type, EPBs their packet.
 * Stops at the first block whose framing is broken (a write cut short by a crash).
 */
export function scanSegment(
  fd: number,
  size: number,
  onInterface: (linkType: number, block: Buffer) => void,
  onPacket: (p: ScannedPacket) => void,
): ScanResult {
  const reader = new BlockReader(fd, size, 4 << 20);
  const first = reader.read(0);
  if (!first || first.readUInt32LE(0) !== BLOCK_SHB || first.readUInt32LE(8) !== BYTE_ORDER_MAGIC) return { goodEnd: 0, valid: false };
  let off = first.length;
  const p: ScannedPacket = { offset: 0, interfaceId: 0, tsHi: 0, tsLo: 0, capLen: 0, origLen: 0, data: first };
  while (off < size) {
    const b = reader.read(off);
    if (!b) break;
    const type = b.readUInt32LE(0);
    if (type === BLOCK_SHB) break; // the ring writes one section per segment
    if (type === BLOCK_IDB) onInterface(b.readUInt16LE(8), b);
    else if (type === BLOCK_EPB) {
      if (b.length < EPB_HEADER_BYTES + 4) break;
      const capLen = b.readUInt32LE(20);
      if (EPB_HEADER_BYTES + capLen + 4 > b.length) break;
      p.offset = off;
      p.interfaceId = b.readUInt32LE(8);
      p.tsHi = b.readUInt32LE(12);
      p.tsLo = b.readUInt32LE(16);
      p.capLen = capLen;
      p.origLen = b.readUInt32LE(24);
      p.data = b.subarray(EPB_HEADER_BYTES, EPB_HEADER_BYTES + capLen);
      onPacket(p);
    }
    off += b.length;
  }
  return { goodEnd: off, valid: true };
}

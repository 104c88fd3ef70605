import type { RawPacket } from '../capture/types.js';
import { u32le } from '../common/bytes.js';
import type { DecodedPacket } from '../decode/types.js';

/**
 * Packets cross from the thread that hands them out to the dissecting threads packed into
 * transferable batches: one ArrayBuffer holds many records, never one message per packet.
 * A record is a decoded packet, or, when the hand-out sends raw frames (parallel.ts,
 * `rawDispatch`), a raw frame that the receiving thread decodes; packets the handing-out
 * thread still decodes itself (an IP fragment, a tunnel: see decode/flow-hash.ts) travel decoded
 * among them.
 *
 * Record layout (little endian), byte 46 says which:
 *   decoded (46 = 0):
 *   0 u32 record length   4 f64 tsSec   12 u32 tsNsec
 *  16 u8 ipVersion  17 u8 ipProto  18 u8 tcpFlags  19 u8 bits (1 truncated, 2 vxlan, 4 geneve)
 *  20 u16 srcPort   22 u16 dstPort  24 u32 seq  28 u32 ack  32 u16 window
 *  34 u8 srcIp length  35 u8 dstIp length  36 u32 tunnelId  40 u32 wireLen
 *  44 u8 vlan count  45 u8 issue count  46 u8 kind  47 u8 reserved  48 u32 payload length
 *  52 srcIp, dstIp (ASCII), vlans (u16 each), issues (u8 length + ASCII each), payload
 *   raw (46 = 1):
 *   0 u32 record length   4 f64 tsSec   12 u32 tsNsec  16 u32 origLen  20 u16 linkType
 *  24 u32 interfaceId  46 u8 kind  48 u32 capLen  52 the frame
 */
const FIXED = 52;
const KIND_DECODED = 0;
const KIND_RAW = 1;

export class BatchWriter {
  private buf: Buffer;
  private view: DataView;
  private pos = 0;
  count = 0;

  constructor(private readonly capacity: number) {
    this.buf = Buffer.allocUnsafeSlow(capacity);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Bytes a record for `p` takes. */
  static sizeOf(p: DecodedPacket): number {
    let n = FIXED + p.srcIp.length + p.dstIp.length + 2 * p.vlans.length + p.payload.length;
    for (const issue of p.issues) n += 1 + Math.min(issue.length, 255);
    return n;
  }

  /** Makes room for a record of `size` bytes; false when the batch must be taken first. */
  private room(size: number): boolean {
    if (this.pos + size > this.capacity) {
      if (this.pos > 0) return false;
      this.grow(size); // a record larger than a batch gets a batch of its own
    }
    return true;
  }

  /** Appends the raw frame of `p` (the receiver decodes it); false when it does not fit (take() the batch, then append again). */
  appendRaw(p: RawPacket): boolean {
    const frame = p.frame;
    if (frame !== undefined) return this.appendFrame(frame, p.frameOffset!, p.capLen, p.origLen, p.tsSec, p.tsNsec, p.linkType, p.interfaceId);
    return this.appendFrame(p.data, 0, p.data.length, p.origLen, p.tsSec, p.tsNsec, p.linkType, p.interfaceId);
  }

  /** appendRaw for a frame at `src[off, off + capLen)`, such as a record inside a capture batch. */
  appendFrame(src: Uint8Array, off: number, capLen: number, origLen: number, tsSec: number, tsNsec: number, linkType: number, interfaceId: number): boolean {
    const size = FIXED + capLen;
    if (!this.room(size)) return false;
    const v = this.view;
    const o = this.pos;
    v.setUint32(o, size, true);
    v.setFloat64(o + 4, tsSec, true);
    v.setUint32(o + 12, tsNsec, true);
    v.setUint32(o + 16, origLen >>> 0, true);
    v.setUint16(o + 20, linkType, true);
    v.setUint32(o + 24, interfaceId >>> 0, true);
    this.buf[o + 46] = KIND_RAW;
    v.setUint32(o + 48, capLen, true);
    // A plain Uint8Array view: Buffer#subarray and Buffer#copy build theirs through Buffer's species, a few times slower.
    this.buf.set(new Uint8Array(src.buffer, src.byteOffset + off, capLen), o + FIXED);
    this.pos = o + size;
    this.count++;
    return true;
  }

  /** Appends decoded `p`; false when it does not fit (take() the batch, then append again). */
  append(p: DecodedPacket): boolean {
    const size = BatchWriter.sizeOf(p);
    if (!this.room(size)) return false;
    const v = this.view;
    const b = this.buf;
    const o = this.pos;
    v.setUint32(o, size, true);
    v.setFloat64(o + 4, p.tsSec, true);
    v.setUint32(o + 12, p.tsNsec, true);
    b[o + 16] = p.ipVersion;
    b[o + 17] = p.ipProto;
    b[o + 18] = p.tcpFlags;
    b[o + 19] = (p.truncated ? 1 : 0) | (p.tunnel === 'vxlan' ? 2 : p.tunnel === 'geneve' ? 4 : 0);
    v.setUint16(o + 20, p.srcPort, true);
    v.setUint16(o + 22, p.dstPort, true);
    v.setUint32(o + 24, p.seq >>> 0, true);
    v.setUint32(o + 28, p.ack >>> 0, true);
    v.setUint16(o + 32, p.window & 0xffff, true);
    b[o + 34] = p.srcIp.length;
    b[o + 35] = p.dstIp.length;
    v.setUint32(o + 36, p.tunnelId >>> 0, true);
    v.setUint32(o + 40, p.wireLen >>> 0, true);
    b[o + 44] = p.vlans.length;
    b[o + 45] = p.issues.length;
    b[o + 46] = KIND_DECODED;
    v.setUint32(o + 48, p.payload.length, true);
    let w = o + FIXED;
    w += b.write(p.srcIp, w, 'latin1');
    w += b.write(p.dstIp, w, 'latin1');
    for (const id of p.vlans) {
      v.setUint16(w, id, true);
      w += 2;
    }
    for (const issue of p.issues) {
      const n = Math.min(issue.length, 255);
      b[w++] = n;
      w += b.write(issue.slice(0, n), w, 'latin1');
    }
    p.payload.copy(b, w);
    this.pos = o + size;
    this.count++;
    return true;
  }

  get bytes(): number {
    return this.pos;
  }

  /**
   * The batch as a transferable ArrayBuffer (records fill its first `length` bytes); the
   * writer starts a new one. A batch at least half full is handed over itself, not copied;
   * a smaller one (a live source flushes often) is copied out, so that a few packets do
   * not pin a whole batch's memory while they wait.
   */
  take(): { batch: ArrayBuffer; length: number } {
    const length = this.pos;
    let batch: ArrayBuffer;
    if (length * 2 >= this.buf.length) {
      batch = this.buf.buffer as ArrayBuffer;
      this.grow(this.capacity);
    } else {
      batch = this.buf.buffer.slice(0, length) as ArrayBuffer;
      if (this.buf.length !== this.capacity) this.grow(this.capacity);
    }
    this.pos = 0;
    this.count = 0;
    return { batch, length };
  }

  private grow(size: number): void {
    // allocUnsafeSlow: a buffer of its own, never a slice of Node's shared pool, so that
    // take() can transfer its whole ArrayBuffer.
    this.buf = Buffer.allocUnsafeSlow(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }
}

/**
 * Calls `onPacket` for each record of `batch`'s first `length` bytes: a decoded record
 * with `p` (reused), a raw one with what `decode` makes of it (skipped when null).
 * Payloads are views of `batch`.
 */
export function readBatch(
  batch: ArrayBuffer,
  length: number,
  p: DecodedPacket,
  decode: (raw: RawPacket) => DecodedPacket | null,
  onPacket: (p: DecodedPacket) => void,
): void {
  const b = Buffer.from(batch, 0, length);
  const v = new DataView(batch, 0, length);
  const raw: RawPacket = { linkType: 0, interfaceId: 0, tsSec: 0, tsNsec: 0, capLen: 0, origLen: 0, data: b, recordOffset: -1 };
  let o = 0;
  while (o + FIXED <= b.length) {
    const size = v.getUint32(o, true);
    if (b[o + 46] === KIND_RAW) {
      raw.tsSec = v.getFloat64(o + 4, true);
      raw.tsNsec = v.getUint32(o + 12, true);
      raw.origLen = v.getUint32(o + 16, true);
      raw.linkType = v.getUint16(o + 20, true);
      raw.interfaceId = v.getUint32(o + 24, true);
      raw.capLen = v.getUint32(o + 48, true);
      raw.data = b.subarray(o + FIXED, o + FIXED + raw.capLen);
      const d = decode(raw);
      if (d !== null) onPacket(d);
      o += size;
      continue;
    }
    p.tsSec = v.getFloat64(o + 4, true);
    p.tsNsec = v.getUint32(o + 12, true);
    p.ipVersion = b[o + 16] as 0 | 4 | 6;
    p.ipProto = b[o + 17];
    p.tcpFlags = b[o + 18];
    const bits = b[o + 19];
    p.truncated = (bits & 1) !== 0;
    p.tunnel = bits & 2 ? 'vxlan' : bits & 4 ? 'geneve' : '';
    p.srcPort = v.getUint16(o + 20, true);
    p.dstPort = v.getUint16(o + 22, true);
    p.seq = v.getUint32(o + 24, true);
    p.ack = v.getUint32(o + 28, true);
    p.window = v.getUint16(o + 32, true);
    const srcLen = b[o + 34];
    const dstLen = b[o + 35];
    p.tunnelId = v.getUint32(o + 36, true);
    p.wireLen = v.getUint32(o + 40, true);
    const vlanCount = b[o + 44];
    const issueCount = b[o + 45];
    const payloadLen = v.getUint32(o + 48, true);
    let r = o + FIXED;
    p.srcIp = b.toString('latin1', r, r + srcLen);
    r += srcLen;
    p.dstIp = b.toString('latin1', r, r + dstLen);
    r += dstLen;
    p.vlans.length = 0;
    for (let i = 0; i < vlanCount; i++, r += 2) p.vlans.push(v.getUint16(r, true));
    if (p.issues.length > 0) p.issues = [];
    for (let i = 0; i < issueCount; i++) {
      const n = b[r++];
      p.issues.push(b.toString('latin1', r, r + n));
      r += n;
    }
    p.payload = b.subarray(r, r + payloadLen);
    onPacket(p);
    o += size;
  }
}

/**
 * A record of a live batch where it lies. Plain fields and a getter on the prototype: the
 * file readers' packet object (own properties made with defineProperty) made reading and
 * decoding the batches slower, 42–44 → 49–50 ms, where this takes 38.
 */
class RecordPacket implements RawPacket {
  tsSec = 0;
  tsNsec = 0;
  capLen = 0;
  origLen = 0;
  recordOffset = -1;
  frameOffset = 0;

  constructor(
    public frame: Buffer,
    public linkType: number,
    public interfaceId: number,
  ) {}

  get data(): Buffer {
    return this.frame.subarray(this.frameOffset, this.frameOffset + this.capLen);
  }
}

/**
 * Calls `onPacket` for each record of a batch of bare pcap records (16-byte little-endian
 * header, then the frame: what the live capture delivers) in `batch`'s first `length`
 * bytes, with one reused RawPacket whose frame is left where it is in `batch`, as the file
 * readers leave theirs (`data` is a view made only when read): reading and decoding the
 * benchmark capture's batches 42–44 → 38 ms (medians of 10 passes), no view per packet.
 * A record cut short at the end is left out (the sender counted it).
 */
export function readRecords(batch: ArrayBuffer, length: number, linkType: number, nanos: boolean, interfaceId: number, onPacket: (raw: RawPacket) => void): void {
  const b = Buffer.from(batch, 0, length);
  const raw = new RecordPacket(b, linkType, interfaceId);
  let o = 0;
  while (o + 16 <= length) {
    const capLen = u32le(b, o + 8);
    const at = o + 16;
    if (at + capLen > length) break;
    raw.tsSec = u32le(b, o);
    raw.tsNsec = nanos ? u32le(b, o + 4) : u32le(b, o + 4) * 1000;
    raw.capLen = capLen;
    raw.origLen = u32le(b, o + 12);
    raw.frameOffset = at;
    onPacket(raw);
    o = at + capLen;
  }
}

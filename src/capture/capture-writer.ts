/**
 * Test support: a tiny writer of pcap and pcapng bytes, so tests can build every variant
 * (byte orders, resolutions, block kinds, damage) without binary fixtures. Not part of
 * the public API (the real pcapng writer lives in src/pcap/).
 */
import { createCaptureParser, type CaptureParserOptions } from './capture-parser.js';
import { CaptureFileError, type CaptureSummary } from './types.js';

/** Appends fixed-width integers in one byte order. */
class Bytes {
  private readonly parts: Buffer[] = [];
  constructor(private readonly le: boolean) {}

  u8(v: number): this {
    this.parts.push(Buffer.from([v & 0xff]));
    return this;
  }

  u16(v: number): this {
    const b = Buffer.alloc(2);
    if (this.le) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    this.parts.push(b);
    return this;
  }

  u32(v: number): this {
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    this.parts.push(b);
    return this;
  }

  i64(v: bigint): this {
    const b = Buffer.alloc(8);
    if (this.le) b.writeBigInt64LE(v);
    else b.writeBigInt64BE(v);
    this.parts.push(b);
    return this;
  }

  bytes(data: Buffer | number[]): this {
    this.parts.push(Buffer.from(data));
    return this;
  }

  /** Zero bytes up to the next multiple of 4 of what has been written. */
  pad4(): this {
    const n = this.length % 4;
    if (n !== 0) this.parts.push(Buffer.alloc(4 - n));
    return this;
  }

  get length(): number {
    return this.parts.reduce((s, b) => s + b.length, 0);
  }

  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

// ---------------------------------------------------------------- pcap

export interface PcapRecordSpec {
  tsSec: number;
  /** Microseconds or nanoseconds, by the file's magic. */
  tsFrac: number;
  data: Buffer | number[];
  /** Length on the wire; data.length by default. */
  origLen?: number;
  /** Overrides the incl_len field (to write damage). */
  inclLen?: number;
}

export interface PcapFileSpec {
  littleEndian?: boolean;
  magic?: 'us' | 'ns' | 'modified';
  linkType: number;
  snapLen?: number;
  major?: number;
  records: PcapRecordSpec[];
}

const PCAP_MAGIC_VALUE = { us: 0xa1b2c3d4, ns: 0xa1b23c4d, modified: 0xa1b2cd34 } as const;

export function pcapFile(spec: PcapFileSpec): Buffer {
  const w = new Bytes(spec.littleEndian ?? true);
  w.u32(PCAP_MAGIC_VALUE[spec.magic ?? 'us'])
    .u16(spec.major ?? 2)
    .u16(4)
    .u32(0) // thiszone
    .u32(0) // sigfigs
    .u32(spec.snapLen ?? 65535)
    .u32(spec.linkType);
  for (const r of spec.records) {
    const data = Buffer.from(r.data);
    w.u32(r.tsSec).u32(r.tsFrac).u32(r.inclLen ?? data.length).u32(r.origLen ?? data.length);
    if (spec.magic === 'modified') w.u32(3).u16(0x0800).u8(0).u8(0); // ifindex, protocol, pkt_type, pad
    w.bytes(data);
  }
  return w.build();
}

/** The 24-byte header of a little-endian, microsecond pcap file (version 2.4). */
export function pcapFileHeader(linkType: number, snapLen = 65535): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(PCAP_MAGIC_VALUE.us, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(snapLen, 16);
  head.writeUInt32LE(linkType, 20);
  return head;
}

/** Bare pcap records (no file header): what a live source's batch holds. */
export function pcapRecords(records: PcapRecordSpec[], littleEndian = true): Buffer {
  const w = new Bytes(littleEndian);
  for (const r of records) {
    const data = Buffer.from(r.data);
    w.u32(r.tsSec).u32(r.tsFrac).u32(r.inclLen ?? data.length).u32(r.origLen ?? data.length).bytes(data);
  }
  return w.build();
}

// ---------------------------------------------------------------- pcapng

/** One pcapng block: type, total length, body padded to 4, total length again. */
export function block(le: boolean, type: number, body: Buffer, lengthOverride?: { leading?: number; trailing?: number }): Buffer {
  const padded = new Bytes(le).bytes(body).pad4().build();
  const total = padded.length + 12;
  return new Bytes(le)
    .u32(type)
    .u32(lengthOverride?.leading ?? total)
    .bytes(padded)
    .u32(lengthOverride?.trailing ?? total)
    .build();
}

function options(le: boolean, opts: [code: number, value: Buffer][]): Buffer {
  if (opts.length === 0) return Buffer.alloc(0);
  const w = new Bytes(le);
  for (const [code, value] of opts) w.u16(code).u16(value.length).bytes(value).pad4();
  return w.u16(0).u16(0).build(); // opt_endofopt
}

export function shb(le: boolean, major = 1): Buffer {
  const body = new Bytes(le).u32(0x1a2b3c4d).u16(major).u16(0).i64(-1n).build();
  return block(le, 0x0a0d0d0a, body);
}

export interface IdbSpec {
  linkType: number;
  snapLen?: number;
  name?: string;
  /** Raw if_tsresol byte (6 = µs, 9 = ns, 0x94 = 2^-20 s). */
  tsresol?: number;
  /** if_tsoffset in seconds. */
  tsoffset?: bigint;
}

export function idb(le: boolean, spec: IdbSpec): Buffer {
  const opts: [number, Buffer][] = [];
  if (spec.name !== undefined) opts.push([2, Buffer.from(spec.name, 'utf8')]);
  if (spec.tsresol !== undefined) opts.push([9, Buffer.from([spec.tsresol])]);
  if (spec.tsoffset !== undefined) opts.push([14, new Bytes(le).i64(spec.tsoffset).build()]);
  const body = new Bytes(le)
    .u16(spec.linkType)
    .u16(0)
    .u32(spec.snapLen ?? 0)
    .bytes(options(le, opts))
    .build();
  return block(le, 1, body);
}

export interface EpbSpec {
  interfaceId: number;
  /** Timestamp in the interface's units. */
  ts: bigint;
  data: Buffer | number[];
  origLen?: number;
  /** Overrides the captured length field (to write damage). */
  capLen?: number;
}

export function epb(le: boolean, spec: EpbSpec): Buffer {
  const data = Buffer.from(spec.data);
  const body = new Bytes(le)
    .u32(spec.interfaceId)
    .u32(Number(spec.ts >> 32n))
    .u32(Number(spec.ts & 0xffffffffn))
    .u32(spec.capLen ?? data.length)
    .u32(spec.origLen ?? data.length)
    .bytes(data)
    .pad4()
    .bytes(options(le, [[1, Buffer.from('a comment')]])) // opt_comment, to be skipped
    .build();
  return block(le, 6, body);
}

/** The obsolete Packet Block (type 2): 16-bit interface id and drops count. */
export function packetBlock(le: boolean, spec: EpbSpec): Buffer {
  const data = Buffer.from(spec.data);
  const body = new Bytes(le)
    .u16(spec.interfaceId)
    .u16(0)
    .u32(Number(spec.ts >> 32n))
    .u32(Number(spec.ts & 0xffffffffn))
    .u32(data.length)
    .u32(spec.origLen ?? data.length)
    .bytes(data)
    .build();
  return block(le, 2, body);
}

/** A Simple Packet Block holding `data` (already cut to the snaplen by the caller). */
export function spb(le: boolean, origLen: number, data: Buffer | number[]): Buffer {
  return block(le, 3, new Bytes(le).u32(origLen).bytes(data).build());
}

/** A Name Resolution Block with one IPv4 record (192.0.2.1 → "host.example"). */
export function nrb(le: boolean): Buffer {
  const name = Buffer.from('host.example\0');
  const body = new Bytes(le)
    .u16(1)
    .u16(4 + name.length)
    .bytes([192, 0, 2, 1])
    .bytes(name)
    .pad4()
    .u16(0)
    .u16(0)
    .build();
  return block(le, 4, body);
}

/** An Interface Statistics Block with no options. */
export function isb(le: boolean, interfaceId: number): Buffer {
  return block(le, 5, new Bytes(le).u32(interfaceId).u32(0).u32(0).build());
}

// ---------------------------------------------------------------- reading back

/** A delivered packet, copied out of the reused RawPacket (data as hex). */
export interface SeenPacket {
  linkType: number;
  interfaceId: number;
  tsSec: number;
  tsNsec: number;
  capLen: number;
  origLen: number;
  data: string;
  recordOffset: number;
}

export interface Collected {
  packets: SeenPacket[];
  summary?: CaptureSummary;
  error?: { code: string; offset: number; message: string };
}

/** Pushes `chunks` through a fresh capture parser and records everything it tells. */
export function collect(chunks: Buffer[], opts: CaptureParserOptions = {}): Collected {
  const packets: SeenPacket[] = [];
  const parser = createCaptureParser((p) => {
    assert(p.data.length === p.capLen, 'data.length must equal capLen');
    packets.push({ ...p, data: p.data.toString('hex') });
  }, opts);
  try {
    for (const c of chunks) parser.push(c);
    return { packets, summary: parser.end() };
  } catch (err) {
    if (!(err instanceof CaptureFileError)) throw err;
    return { packets, error: { code: err.code, offset: err.offset, message: err.message } };
  }
}

function assert(ok: boolean, msg: string): asserts ok {
  if (!ok) throw new Error(msg);
}

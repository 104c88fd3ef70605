/**
 * The classic libpcap file format (draft-ietf-opsawg-pcap): a 24-byte file header, then
 * records of a 16-byte header (ts_sec, ts_frac, incl_len, orig_len) and incl_len bytes.
 *
 * The same reader parses the record stream of a live source, which has no file header
 * (see createPcapRecordParser).
 */
import { CaptureFileError, type CaptureInterface } from './types.js';
import type { ReaderContext, RecordReader } from './record-reader.js';
import { u16be, u16le, u32be, u32le } from '../common/bytes.js';

export const PCAP_FILE_HEADER_LENGTH = 24;

/** Magic numbers as read little-endian from the first four bytes of the file. */
export const PCAP_MAGIC = {
  MICROS: 0xa1b2c3d4,
  NANOS: 0xa1b23c4d,
  /** Alexey Kuznetzov's patched libpcap: 8 more bytes per record header (ifindex, protocol, pkt_type, pad). */
  MODIFIED: 0xa1b2cd34,
} as const;

/** The magic with its bytes reversed: how it reads in a file of the other byte order. */
function swap32(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

export interface PcapVariant {
  littleEndian: boolean;
  nanos: boolean;
  recordHeaderLength: number;
}

/** The pcap variant a file's first four bytes announce, or undefined when they are no pcap magic. */
export function pcapVariantOf(magicLE: number): PcapVariant | undefined {
  for (const littleEndian of [true, false]) {
    const m = littleEndian ? magicLE : swap32(magicLE);
    if (m === PCAP_MAGIC.MICROS) return { littleEndian, nanos: false, recordHeaderLength: 16 };
    if (m === PCAP_MAGIC.NANOS) return { littleEndian, nanos: true, recordHeaderLength: 16 };
    if (m === PCAP_MAGIC.MODIFIED) return { littleEndian, nanos: false, recordHeaderLength: 24 };
  }
  return undefined;
}

export interface PcapReaderSetup extends PcapVariant {
  /** False for a live source: records start at once, and record offsets are -1. */
  withFileHeader: boolean;
  /** Known up front for a live source; read from the file header otherwise. */
  linkType?: number;
  snapLen?: number;
}

export class PcapReader implements RecordReader {
  need: number;
  private headerDone: boolean;
  private readonly le: boolean;
  private readonly hdrLen: number;
  /** Multiplier from the record's fraction field to nanoseconds (1000 for µs, 1 for ns). */
  private readonly fracToNsec: number;
  private readonly fracLimit: number;
  private linkType = 0;
  /** The file's snaplen, or the packet limit when the file gives none (0) or an absurd one. */
  private snapLen = 0;
  private readonly live: boolean;

  constructor(
    private readonly ctx: ReaderContext,
    setup: PcapReaderSetup,
  ) {
    this.le = setup.littleEndian;
    this.hdrLen = setup.recordHeaderLength;
    this.fracToNsec = setup.nanos ? 1 : 1000;
    this.fracLimit = setup.nanos ? 1e9 : 1e6;
    this.headerDone = !setup.withFileHeader;
    this.live = !setup.withFileHeader;
    this.need = setup.withFileHeader ? PCAP_FILE_HEADER_LENGTH : this.hdrLen;
    if (!setup.withFileHeader) this.describe(setup.linkType ?? 0, setup.snapLen ?? 0);
  }

  private describe(linkType: number, snapLen: number): void {
    this.linkType = linkType;
    this.snapLen = snapLen === 0 || snapLen > this.ctx.limits.maxPacketBytes ? this.ctx.limits.maxPacketBytes : snapLen;
    const iface: CaptureInterface = {
      linkType,
      snapLen,
      tsUnitsPerSec: this.fracToNsec === 1 ? 1e9 : 1e6,
    };
    this.ctx.interfaces.push(iface);
  }

  private readHeader(buf: Buffer, pos: number, base: number): void {
    const le = this.le;
    const major = le ? u16le(buf, pos + 4) : u16be(buf, pos + 4);
    // draft-ietf-opsawg-pcap §4: "Major Version (16 bits): ... The value for the current
    // version of the format is 2."
    if (major !== 2) {
      throw new CaptureFileError('pcap.bad_version', base + pos + 4, `pcap major version ${major} is not 2`);
    }
    const snapLen = le ? u32le(buf, pos + 16) : u32be(buf, pos + 16);
    const linkField = le ? u32le(buf, pos + 20) : u32be(buf, pos + 20);
    // draft-ietf-opsawg-pcap §4: "LinkType (16 bits): ... the link-layer header type"
    // sits in the low 16 bits; the upper bits carry the optional FCS length.
    this.describe(linkField & 0xffff, snapLen);
    this.headerDone = true;
  }

  parse(buf: Buffer, pos: number, end: number, base: number): number {
    if (!this.headerDone) {
      if (end - pos < PCAP_FILE_HEADER_LENGTH) {
        this.need = PCAP_FILE_HEADER_LENGTH;
        return pos;
      }
      this.readHeader(buf, pos, base);
      pos += PCAP_FILE_HEADER_LENGTH;
    }
    const ctx = this.ctx;
    const p = ctx.packet;
    const onPacket = ctx.onPacket;
    const le = this.le;
    const hdrLen = this.hdrLen;
    const maxCap = ctx.limits.maxPacketBytes;
    const snapLen = this.snapLen;
    const fracToNsec = this.fracToNsec;
    const live = this.live;
    p.linkType = this.linkType;
    p.interfaceId = 0;
    for (;;) {
      const avail = end - pos;
      if (avail < hdrLen) {
        this.need = hdrLen;
        return pos;
      }
      const capLen = le ? u32le(buf, pos + 8) : u32be(buf, pos + 8);
      if (capLen > snapLen) this.overSnapLen(capLen, maxCap, base + pos);
      const total = hdrLen + capLen;
      if (avail < total) {
        this.need = total;
        return pos;
      }
      const origLen = le ? u32le(buf, pos + 12) : u32be(buf, pos + 12);
      let tsSec = le ? u32le(buf, pos) : u32be(buf, pos);
      let frac = le ? u32le(buf, pos + 4) : u32be(buf, pos + 4);
      if (frac >= this.fracLimit) {
        // A fraction of a whole second or more: carry it into the seconds so tsNsec
        // stays within 0..999_999_999.
        const carry = Math.floor(frac / this.fracLimit);
        tsSec += carry;
        frac -= carry * this.fracLimit;
        ctx.count('pcap.timestamp_fraction_overflow');
      }
      if (origLen < capLen) ctx.count('capture.orig_len_below_cap_len');
      else if (origLen > capLen) ctx.truncatedRecords++;
      p.tsSec = tsSec;
      p.tsNsec = frac * fracToNsec;
      p.capLen = capLen;
      p.origLen = origLen;
      p.frame = buf;
      p.frameOffset = pos + hdrLen;
      p.recordOffset = live ? -1 : base + pos;
      ctx.packets++;
      ctx.bytes += capLen;
      pos += total;
      onPacket(p);
    }
  }

  /** capLen above the file's snaplen: damage past the hard limit, a counted oddity below it. */
  private overSnapLen(capLen: number, maxCap: number, offset: number): void {
    if (capLen > maxCap) {
      throw new CaptureFileError(
        'pcap.bad_record_length',
        offset,
        `pcap record captured length ${capLen} exceeds the limit maxPacketBytes=${maxCap}`,
      );
    }
    if (this.ctx.strictSnapLen) {
      throw new CaptureFileError(
        'pcap.bad_record_length',
        offset,
        `pcap record captured length ${capLen} exceeds the file's snaplen ${this.snapLen}`,
      );
    }
    this.ctx.count('pcap.cap_len_above_snaplen');
  }
}

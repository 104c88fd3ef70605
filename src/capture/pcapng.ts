/**
 * pcapng (draft-ietf-opsawg-pcapng): a sequence of blocks, each
 *   type (4) | total length (4) | body | total length again (4),
 * grouped in sections that each start with a Section Header Block fixing the byte order
 * and resetting the interface list. Packets come in Enhanced, Simple and (obsolete)
 * Packet Blocks and refer to the section's Interface Description Blocks.
 */
import { CaptureFileError, type CaptureInterface } from './types.js';
import type { ReaderContext, RecordReader } from './record-reader.js';
import { TimestampScale, unitsForTsresol } from './timestamps.js';

export const BlockType = {
  SECTION_HEADER: 0x0a0d0d0a,
  INTERFACE_DESCRIPTION: 0x00000001,
  PACKET: 0x00000002, // obsolete
  SIMPLE_PACKET: 0x00000003,
  NAME_RESOLUTION: 0x00000004,
  INTERFACE_STATISTICS: 0x00000005,
  ENHANCED_PACKET: 0x00000006,
  DECRYPTION_SECRETS: 0x0000000a,
  CUSTOM: 0x00000bad,
  CUSTOM_NO_COPY: 0x40000bad,
} as const;

export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

export const OptionCode = {
  END_OF_OPT: 0,
  IF_NAME: 2,
  IF_TSRESOL: 9,
  IF_TSOFFSET: 14,
} as const;

/** Smallest legal length of each block: 12 bytes of framing plus its fixed fields. */
const MIN_LENGTH = {
  ANY: 12,
  SHB: 28,
  IDB: 20,
  EPB: 32,
  SPB: 16,
  PB: 32,
} as const;

/** An interface of the current section. */
interface SectionInterface {
  /** Index in ReaderContext.interfaces: what packets carry as interfaceId. */
  globalId: number;
  linkType: number;
  snapLen: number;
  scale: TimestampScale;
}

const MICROS = new TimestampScale(1_000_000);

export class PcapngReader implements RecordReader {
  need: number = MIN_LENGTH.ANY;
  /** Byte order of the current section. */
  private le = true;
  private section: SectionInterface[] = [];
  /** Sections seen so far (a packet before the first one is impossible: the file starts with an SHB). */
  sections = 0;

  constructor(private readonly ctx: ReaderContext) {}

  private u32(buf: Buffer, at: number): number {
    return this.le ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
  }

  private u16(buf: Buffer, at: number): number {
    return this.le ? buf.readUInt16LE(at) : buf.readUInt16BE(at);
  }

  parse(buf: Buffer, pos: number, end: number, base: number): number {
    const maxBlock = this.ctx.limits.maxBlockBytes;
    for (;;) {
      const avail = end - pos;
      if (avail < MIN_LENGTH.ANY) {
        this.need = MIN_LENGTH.ANY;
        return pos;
      }
      const type = this.u32(buf, pos);
      if (type === BlockType.SECTION_HEADER) this.byteOrderOf(buf, pos, base);
      else if (this.sections === 0) {
        throw new CaptureFileError('pcapng.missing_section_header', base + pos, 'pcapng file does not start with a Section Header Block');
      }
      const len = this.u32(buf, pos + 4);
      // pcapng §3.1: "Block Total Length: total size of this block, in octets ... the
      // value of this field MUST be a multiple of 4" and the trailer repeats it.
      if (len < MIN_LENGTH.ANY || len % 4 !== 0 || len > maxBlock) this.badLength(type, len, base + pos);
      if (avail < len) {
        this.need = len;
        return pos;
      }
      const trailer = this.u32(buf, pos + len - 4);
      if (trailer !== len) {
        throw new CaptureFileError(
          'pcapng.bad_block_length',
          base + pos,
          `pcapng block of type 0x${type.toString(16)}: trailing length ${trailer} differs from the leading length ${len}`,
        );
      }
      switch (type) {
        case BlockType.ENHANCED_PACKET:
          this.enhancedPacket(buf, pos, len, base);
          break;
        case BlockType.SIMPLE_PACKET:
          this.simplePacket(buf, pos, len, base);
          break;
        case BlockType.INTERFACE_DESCRIPTION:
          this.interfaceDescription(buf, pos, len, base);
          break;
        case BlockType.SECTION_HEADER:
          this.sectionHeader(buf, pos, len, base);
          break;
        case BlockType.PACKET:
          this.obsoletePacket(buf, pos, len, base);
          break;
        case BlockType.NAME_RESOLUTION:
        case BlockType.INTERFACE_STATISTICS:
        case BlockType.DECRYPTION_SECRETS:
        case BlockType.CUSTOM:
        case BlockType.CUSTOM_NO_COPY:
          break; // nothing a packet needs
        default:
          // pcapng §3.1: blocks a reader does not know are skipped by their length.
          this.ctx.count('pcapng.unknown_block');
      }
      pos += len;
    }
  }

  private badLength(type: number, len: number, offset: number): never {
    const what =
      len < MIN_LENGTH.ANY
        ? `is below the minimum of ${MIN_LENGTH.ANY}`
        : len % 4 !== 0
          ? 'is not a multiple of 4'
          : `exceeds the limit maxBlockBytes=${this.ctx.limits.maxBlockBytes}`;
    throw new CaptureFileError('pcapng.bad_block_length', offset, `pcapng block of type 0x${type.toString(16)}: total length ${len} ${what}`);
  }

  private tooShort(name: string, len: number, min: number, offset: number): never {
    throw new CaptureFileError('pcapng.bad_block_length', offset, `pcapng ${name} of total length ${len} is shorter than its minimum ${min}`);
  }

  /** The SHB's byte-order magic decides how the rest of the section, its own length included, reads. */
  private byteOrderOf(buf: Buffer, pos: number, base: number): void {
    // pcapng §4.1: "Byte-Order Magic (32 bits): an unsigned magic number, whose value is
    // the hexadecimal number 0x1A2B3C4D ... used to detect the section's byte order."
    if (buf.readUInt32LE(pos + 8) === BYTE_ORDER_MAGIC) this.le = true;
    else if (buf.readUInt32BE(pos + 8) === BYTE_ORDER_MAGIC) this.le = false;
    else {
      throw new CaptureFileError(
        'pcapng.bad_byte_order_magic',
        base + pos + 8,
        `pcapng Section Header Block byte-order magic 0x${buf.readUInt32BE(pos + 8).toString(16)} is not 0x1a2b3c4d`,
      );
    }
  }

  private sectionHeader(buf: Buffer, pos: number, len: number, base: number): void {
    if (len < MIN_LENGTH.SHB) this.tooShort('Section Header Block', len, MIN_LENGTH.SHB, base + pos);
    const major = this.u16(buf, pos + 12);
    // pcapng §4.1: "Major Version (16 bits): ... a number that identifies the major version
    // of the format. The current value is 1."
    if (major !== 1) {
      throw new CaptureFileError('pcapng.bad_version', base + pos + 12, `pcapng major version ${major} is not 1`);
    }
    this.sections++;
    // pcapng §4.2: interface ids are "unique within the section"; a new section starts over.
    this.section = [];
  }

  private interfaceDescription(buf: Buffer, pos: number, len: number, base: number): void {
    if (len < MIN_LENGTH.IDB) this.tooShort('Interface Description Block', len, MIN_LENGTH.IDB, base + pos);
    const linkType = this.u16(buf, pos + 8);
    const snapLen = this.u32(buf, pos + 12);
    let name: string | undefined;
    let units: bigint = 1_000_000n; // pcapng §4.2: "If the if_tsresol option is not present, a resolution of 10^-6 is assumed"
    let offsetSec = 0;
    const optEnd = pos + len - 4;
    let o = pos + 16;
    while (o + 4 <= optEnd) {
      const code = this.u16(buf, o);
      const optLen = this.u16(buf, o + 2);
      if (code === OptionCode.END_OF_OPT) break;
      const value = o + 4;
      if (value + optLen > optEnd) {
        throw new CaptureFileError(
          'pcapng.bad_option',
          base + o,
          `pcapng Interface Description Block option ${code} of length ${optLen} runs past the block's end`,
        );
      }
      if (code === OptionCode.IF_NAME) {
        name = buf.toString('utf8', value, value + optLen).replace(/\0+$/, '');
      } else if (code === OptionCode.IF_TSRESOL && optLen >= 1) {
        units = unitsForTsresol(buf[value]);
      } else if (code === OptionCode.IF_TSOFFSET && optLen >= 8) {
        // pcapng §4.2: "if_tsoffset ... a 64-bit signed integer value that specifies an
        // offset (in seconds) that must be added to the timestamp of each packet".
        const hi = this.le ? buf.readInt32LE(value + 4) : buf.readInt32BE(value);
        const lo = this.le ? buf.readUInt32LE(value) : buf.readUInt32BE(value + 4);
        offsetSec = hi * 4294967296 + lo;
      }
      o = value + ((optLen + 3) & ~3);
    }
    const globalId = this.ctx.interfaces.length;
    const tsUnitsPerSec = Number(units);
    const iface: CaptureInterface = { linkType, snapLen, tsUnitsPerSec };
    if (name !== undefined) iface.name = name;
    this.ctx.interfaces.push(iface);
    const scale = units === 1_000_000n && offsetSec === 0 ? MICROS : new TimestampScale(units, offsetSec);
    this.section.push({ globalId, linkType, snapLen, scale });
  }

  private interfaceOf(id: number, offset: number, block: string): SectionInterface {
    const iface = this.section[id];
    if (iface === undefined) {
      throw new CaptureFileError(
        'pcapng.unknown_interface',
        offset,
        `pcapng ${block} refers to interface ${id}, but its section describes ${this.section.length}`,
      );
    }
    return iface;
  }

  private checkCapLen(capLen: number, room: number, offset: number, block: string): void {
    if (capLen > room) {
      throw new CaptureFileError(
        'pcapng.bad_packet_length',
        offset,
        `pcapng ${block} captured length ${capLen} exceeds the ${room} bytes of packet data the block holds`,
      );
    }
    if (capLen > this.ctx.limits.maxPacketBytes) {
      throw new CaptureFileError(
        'pcapng.bad_packet_length',
        offset,
        `pcapng ${block} captured length ${capLen} exceeds the limit maxPacketBytes=${this.ctx.limits.maxPacketBytes}`,
      );
    }
  }

  private enhancedPacket(buf: Buffer, pos: number, len: number, base: number): void {
    if (len < MIN_LENGTH.EPB) this.tooShort('Enhanced Packet Block', len, MIN_LENGTH.EPB, base + pos);
    const le = this.le;
    const ifId = le ? buf.readUInt32LE(pos + 8) : buf.readUInt32BE(pos + 8);
    const hi = le ? buf.readUInt32LE(pos + 12) : buf.readUInt32BE(pos + 12);
    const lo = le ? buf.readUInt32LE(pos + 16) : buf.readUInt32BE(pos + 16);
    const capLen = le ? buf.readUInt32LE(pos + 20) : buf.readUInt32BE(pos + 20);
    const origLen = le ? buf.readUInt32LE(pos + 24) : buf.readUInt32BE(pos + 24);
    this.checkCapLen(capLen, len - MIN_LENGTH.EPB, base + pos, 'Enhanced Packet Block');
    const iface = this.interfaceOf(ifId, base + pos, 'Enhanced Packet Block');
    iface.scale.convert(hi, lo);
    this.deliver(iface, iface.scale.sec, iface.scale.nsec, capLen, origLen, buf, pos + 28, base + pos);
  }

  private obsoletePacket(buf: Buffer, pos: number, len: number, base: number): void {
    if (len < MIN_LENGTH.PB) this.tooShort('Packet Block', len, MIN_LENGTH.PB, base + pos);
    const ifId = this.u16(buf, pos + 8);
    const hi = this.u32(buf, pos + 12);
    const lo = this.u32(buf, pos + 16);
    const capLen = this.u32(buf, pos + 20);
    const origLen = this.u32(buf, pos + 24);
    this.checkCapLen(capLen, len - MIN_LENGTH.PB, base + pos, 'Packet Block');
    const iface = this.interfaceOf(ifId, base + pos, 'Packet Block');
    iface.scale.convert(hi, lo);
    this.deliver(iface, iface.scale.sec, iface.scale.nsec, capLen, origLen, buf, pos + 28, base + pos);
  }

  private simplePacket(buf: Buffer, pos: number, len: number, base: number): void {
    if (len < MIN_LENGTH.SPB) this.tooShort('Simple Packet Block', len, MIN_LENGTH.SPB, base + pos);
    // pcapng §4.4: "the Interface ID of the interface on which the packet was received
    // is implied to be 0" and "the SnapLen value MUST be used to determine the size of
    // the Packet Data field length"; it has no timestamp.
    const iface = this.interfaceOf(0, base + pos, 'Simple Packet Block');
    const origLen = this.u32(buf, pos + 8);
    const capLen = iface.snapLen !== 0 && origLen > iface.snapLen ? iface.snapLen : origLen;
    this.checkCapLen(capLen, len - MIN_LENGTH.SPB, base + pos, 'Simple Packet Block');
    this.deliver(iface, 0, 0, capLen, origLen, buf, pos + 12, base + pos);
  }

  private deliver(
    iface: SectionInterface,
    tsSec: number,
    tsNsec: number,
    capLen: number,
    origLen: number,
    buf: Buffer,
    dataAt: number,
    recordOffset: number,
  ): void {
    const ctx = this.ctx;
    const p = ctx.packet;
    if (origLen < capLen) ctx.count('capture.orig_len_below_cap_len');
    else if (origLen > capLen) ctx.truncatedRecords++;
    p.linkType = iface.linkType;
    p.interfaceId = iface.globalId;
    p.tsSec = tsSec;
    p.tsNsec = tsNsec;
    p.capLen = capLen;
    p.origLen = origLen;
    p.frame = buf;
    p.frameOffset = dataAt;
    p.recordOffset = recordOffset;
    ctx.packets++;
    ctx.bytes += capLen;
    ctx.onPacket(p);
  }
}

/**
 * A push parser for capture files: feed it the bytes of a pcap or pcapng file in chunks
 * of any size, and it calls `onPacket` for every packet, in order.
 *
 * Packets are delivered as views of the pushed chunks (callers never overwrite a chunk
 * once pushed), so the common case copies nothing. Only a record split between two
 * chunks is copied, into a fresh buffer of exactly that record's size (the carry), and
 * its packet is a view of that copy.
 */
import { PcapngReader, BlockType } from './pcapng.js';
import { PcapReader, pcapVariantOf } from './pcap.js';
import { ReaderContext, type ReaderOptions, type RecordReader } from './record-reader.js';
import { CaptureFileError, type CaptureInterface, type CaptureSummary, type PacketSink } from './types.js';

export type CaptureFormat = 'pcap' | 'pcapng';
export type CaptureParserOptions = ReaderOptions;

export interface CaptureParser {
  /** Parses what it can of `chunk`; throws a CaptureFileError at damage (and on every later call). */
  push(chunk: Buffer): void;
  /** Declares the stream complete: throws `capture.truncated_file` when it stopped inside a record. */
  end(): CaptureSummary;
  /** Undefined until the first four bytes have arrived. */
  readonly format: CaptureFormat | undefined;
  /** Every interface seen so far; a packet's interfaceId indexes this list. */
  readonly interfaces: readonly CaptureInterface[];
  readonly packets: number;
  /** Bytes of the stream consumed by complete records (where the next record starts). */
  readonly offset: number;
}

/** Bytes needed to tell the format by its magic number. */
const MAGIC_LENGTH = 4;

class StreamParser implements CaptureParser {
  private readonly ctx: ReaderContext;
  private reader: RecordReader | undefined;
  private formatName: CaptureFormat | undefined;
  /** The incomplete record at the end of the bytes pushed so far (a private copy). */
  private carry: Buffer | undefined;
  private carryLen = 0;
  /** Stream offset of the first byte not yet consumed (the carry's first byte). */
  private consumed = 0;
  private pushed = 0;
  private failure: CaptureFileError | undefined;

  constructor(onPacket: PacketSink, opts: CaptureParserOptions, preset?: { reader: (ctx: ReaderContext) => RecordReader; format: CaptureFormat }) {
    this.ctx = new ReaderContext(onPacket, opts);
    if (preset) {
      this.reader = preset.reader(this.ctx);
      this.formatName = preset.format;
    }
  }

  get format(): CaptureFormat | undefined {
    return this.formatName;
  }

  get interfaces(): readonly CaptureInterface[] {
    return this.ctx.interfaces;
  }

  get packets(): number {
    return this.ctx.packets;
  }

  get offset(): number {
    return this.consumed;
  }

  push(chunk: Buffer): void {
    if (this.failure) throw this.failure;
    try {
      this.pushChunk(chunk);
    } catch (err) {
      if (err instanceof CaptureFileError) this.failure = err;
      throw err;
    }
  }

  private pushChunk(chunk: Buffer): void {
    const base = this.pushed; // stream offset of chunk[0]
    this.pushed += chunk.length;
    let pos = 0;
    if (this.carryLen > 0) {
      pos = this.fillCarry(chunk);
      if (this.carryLen > 0) return; // the whole chunk went into the carry
    }
    if (pos === chunk.length) return;
    const stop = this.parse(chunk, pos, chunk.length, base);
    this.consumed = base + stop;
    if (stop < chunk.length) {
      const rest = chunk.length - stop;
      this.carry = Buffer.allocUnsafe(Math.max(this.need(), rest));
      chunk.copy(this.carry, 0, stop);
      this.carryLen = rest;
    }
  }

  /** Completes the carried record from the head of `chunk`; returns how much of `chunk` it took. */
  private fillCarry(chunk: Buffer): number {
    let pos = 0;
    for (;;) {
      let carry = this.carry!;
      const need = this.need();
      if (carry.length < need) {
        // The header is now complete and tells the record's full size: move to a buffer of that size.
        const grown = Buffer.allocUnsafe(need);
        carry.copy(grown, 0, 0, this.carryLen);
        this.carry = carry = grown;
      }
      const take = Math.min(need - this.carryLen, chunk.length - pos);
      chunk.copy(carry, this.carryLen, pos, pos + take);
      this.carryLen += take;
      pos += take;
      if (this.carryLen < need) return pos;
      const stop = this.parse(carry, 0, this.carryLen, this.consumed);
      if (stop === this.carryLen) {
        this.consumed += stop;
        this.carry = undefined;
        this.carryLen = 0;
        return pos;
      }
      if (stop === 0 && this.need() <= need) {
        // A reader must either take a complete record or ask for more: anything else would loop.
        throw new Error(`capture reader made no progress on a complete ${need}-byte record`);
      }
      if (stop > 0) {
        // Not reached with the readers as written (the carry holds exactly one record), kept for safety.
        this.consumed += stop;
        this.carryLen -= stop;
        this.carry = Buffer.from(carry.subarray(stop, stop + this.carryLen));
      }
    }
  }

  private need(): number {
    return this.reader ? this.reader.need : MAGIC_LENGTH;
  }

  private parse(buf: Buffer, pos: number, end: number, base: number): number {
    if (!this.reader) {
      if (end - pos < MAGIC_LENGTH) return pos;
      this.detect(buf, pos, base);
    }
    return this.reader!.parse(buf, pos, end, base);
  }

  private detect(buf: Buffer, pos: number, base: number): void {
    const magic = buf.readUInt32LE(pos);
    const variant = pcapVariantOf(magic);
    if (variant) {
      this.reader = new PcapReader(this.ctx, { ...variant, withFileHeader: true });
      this.formatName = 'pcap';
    } else if (magic === BlockType.SECTION_HEADER) {
      this.reader = new PcapngReader(this.ctx);
      this.formatName = 'pcapng';
    } else {
      throw new CaptureFileError(
        'capture.unknown_format',
        base + pos,
        `magic number ${buf.subarray(pos, pos + MAGIC_LENGTH).toString('hex')} is neither pcap nor pcapng`,
      );
    }
  }

  end(): CaptureSummary {
    if (this.failure) throw this.failure;
    if (this.pushed === 0) {
      this.failure = new CaptureFileError('capture.empty_file', 0, 'the capture file is empty');
      throw this.failure;
    }
    if (this.carryLen > 0) {
      const need = this.need();
      this.failure = new CaptureFileError(
        'capture.truncated_file',
        this.consumed,
        `the file ends ${this.carryLen} bytes into a record that needs at least ${need}`,
      );
      throw this.failure;
    }
    return this.summary();
  }

  summary(): CaptureSummary {
    const ctx = this.ctx;
    return {
      format: this.formatName ?? 'pcap',
      packets: ctx.packets,
      bytes: ctx.bytes,
      fileBytes: this.consumed,
      interfaces: ctx.interfaces,
      truncatedRecords: ctx.truncatedRecords,
    };
  }
}

/** A push parser for a pcap or pcapng file; the format is told by the first four bytes. */
export function createCaptureParser(onPacket: PacketSink, opts: CaptureParserOptions = {}): CaptureParser {
  return new StreamParser(onPacket, opts);
}

export type TsResolution = 'us' | 'ns';

export interface PcapRecordParserOptions extends ReaderOptions {
  /** Byte order of the record headers; the host's (little-endian on x86 and arm64) by default. */
  littleEndian?: boolean;
}

/**
 * A push parser for bare pcap records with no file header: what the live libpcap source
 * hands over in batches (16-byte pcap record headers, then the data). Its packets carry
 * recordOffset -1; `offset` still counts the bytes consumed.
 */
export function createPcapRecordParser(
  linkType: number,
  snapLen: number,
  tsResolution: TsResolution,
  onPacket: PacketSink,
  opts: PcapRecordParserOptions = {},
): CaptureParser {
  const littleEndian = opts.littleEndian ?? true;
  return new StreamParser(onPacket, opts, {
    format: 'pcap',
    reader: (ctx) =>
      new PcapReader(ctx, {
        littleEndian,
        nanos: tsResolution === 'ns',
        recordHeaderLength: 16,
        withFileHeader: false,
        linkType,
        snapLen,
      }),
  });
}

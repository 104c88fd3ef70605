import type { IssueCounter } from '../common/index.js';
import type { CaptureInterface, PacketSink, RawPacket } from './types.js';

/** Named limits of the capture readers; each one, when hit, stops the file with a coded error. */
export interface CaptureLimits {
  /**
   * Largest capLen accepted in one record. Default 262144 (256 KiB), libpcap's and
   * Wireshark's maximum snapshot length for ordinary link types; a larger record is
   * taken as damage (`pcap.bad_record_length`, `pcapng.bad_packet_length`).
   */
  maxPacketBytes: number;
  /**
   * Largest pcapng block accepted. Default 16 MiB: far above any packet block within
   * maxPacketBytes, and it bounds the carry buffer that a block split across chunks
   * can need (`pcapng.bad_block_length`).
   */
  maxBlockBytes: number;
}

export const DEFAULT_LIMITS: CaptureLimits = {
  maxPacketBytes: 256 * 1024,
  maxBlockBytes: 16 * 1024 * 1024,
};

/** Options shared by every reader. */
export interface ReaderOptions extends Partial<CaptureLimits> {
  /** Odd but readable records are counted here (`pcap.cap_len_above_snaplen`, …). */
  issues?: IssueCounter;
  /**
   * Treat a pcap record whose capLen exceeds the file header's snaplen as damage
   * (`pcap.bad_record_length`) instead of counting `pcap.cap_len_above_snaplen`.
   * Off by default: libpcap and Wireshark both read such records in full.
   */
  strictSnapLen?: boolean;
}

const NO_FRAME = Buffer.alloc(0);

/**
 * A reader's packet object. `frame` and `frameOffset` are not enumerable, so that a copy
 * made with a spread (`{ ...p, data: Buffer.from(p.data) }`) is a packet of its own, with
 * `data` and without the read buffer behind it.
 */
function filePacket(): RawPacket {
  const p = { linkType: 0, interfaceId: 0, tsSec: 0, tsNsec: 0, capLen: 0, origLen: 0, recordOffset: 0 } as RawPacket;
  Object.defineProperty(p, 'frame', { value: NO_FRAME, writable: true, enumerable: false, configurable: false });
  Object.defineProperty(p, 'frameOffset', { value: 0, writable: true, enumerable: false, configurable: false });
  Object.defineProperty(p, 'data', {
    enumerable: true,
    configurable: false,
    get(this: RawPacket): Buffer {
      const at = this.frameOffset!;
      return this.frame!.subarray(at, at + this.capLen);
    },
    set(this: RawPacket, data: Buffer) {
      this.frame = data;
      this.frameOffset = 0;
      this.capLen = data.length;
    },
  });
  return p;
}

/** The state every record reader shares: the one packet object, counters and limits. */
export class ReaderContext {
  /** Refilled for every record: readers set `frame` and `frameOffset`, and `data` is a view made when read. */
  readonly packet: RawPacket = filePacket();
  packets = 0;
  bytes = 0;
  truncatedRecords = 0;
  /** Every interface seen, across sections; a packet's interfaceId indexes this list. */
  readonly interfaces: CaptureInterface[] = [];
  readonly limits: CaptureLimits;
  readonly issues: IssueCounter | undefined;
  readonly strictSnapLen: boolean;

  constructor(
    readonly onPacket: PacketSink,
    opts: ReaderOptions = {},
  ) {
    this.limits = {
      maxPacketBytes: opts.maxPacketBytes ?? DEFAULT_LIMITS.maxPacketBytes,
      maxBlockBytes: opts.maxBlockBytes ?? DEFAULT_LIMITS.maxBlockBytes,
    };
    this.issues = opts.issues;
    this.strictSnapLen = opts.strictSnapLen ?? false;
  }

  count(code: string): void {
    this.issues?.count(code);
  }
}

/**
 * A parser of one capture format's records. `parse` handles every complete record in
 * buf[pos, end), delivers its packets, and returns where the first incomplete record
 * starts; `need` then says how many bytes that record needs in all (only its header's
 * size while the header itself is incomplete). Damage throws a CaptureFileError.
 */
export interface RecordReader {
  need: number;
  /** `base` is the stream offset of buf[0] (for record offsets and error offsets). */
  parse(buf: Buffer, pos: number, end: number, base: number): number;
}

import type { RawPacket } from '../capture/types.js';
import type { IssueCounter } from '../common/index.js';
import type { FlowFields, FlowRequest } from './flow.js';
import type { PcapngTarget } from './pcapng-writer.js';

export interface RingOptions {
  /** Folder of the segment files (made when missing); segments found there are adopted. */
  dir: string;
  /** Upper bound on the bytes of all segments and their indexes together. */
  maxBytes: number;
  /** Segments whose newest packet is older than this (against the ring's clock) are deleted. */
  maxAgeSec: number;
  /** A segment closes when it would grow past this (default maxBytes / 8, at most 64 MiB). */
  segmentBytes?: number;
  /** A segment closes when its packets span this much capture time (default maxAgeSec / 8, 1..300 s). */
  segmentSeconds?: number;
  /** Buffered bytes are written at least this often (default 1000 ms; 0: only when the buffer fills). */
  flushIntervalMs?: number;
  /** Write buffer (default 1 MiB): one write syscall per this many bytes. */
  bufferBytes?: number;
  /**
   * "Now" in ms for age retention. By default the newest packet's time, so a replayed
   * capture ages like a live one; a live tap passes Date.now so an idle ring still ages.
   */
  clock?: () => number;
  /** if_name for a source interface id, written into the segments' IDBs and exports. */
  interfaceName?: (interfaceId: number, linkType: number) => string | undefined;
  /**
   * Segment files are the native addon's (default, where it is built: written with
   * O_DIRECT, live batches made into blocks in its buffer straight from the batch); false:
   * plain writes, live batches copied through the writer's buffer like single packets (the
   * files are the same, byte for byte).
   */
  nativeWrites?: boolean;
  /** shb_userappl of segments and exports (default "Tapline"). */
  userAppl?: string;
  /** Where `ring.*` issue codes are counted. */
  issues?: IssueCounter;
}

/** One packet as an export's `packetComment` and `filter` see it. */
export interface ExportPacket {
  linkType: number;
  tsSec: number;
  tsNsec: number;
  origLen: number;
  /** The captured bytes (a view valid during the call). */
  data: Buffer;
}

export interface ExportOptions {
  /** Window, ms since the epoch, both ends included. */
  from: number;
  to: number;
  /**
   * Only these flows. A request with its own window selects, for TCP, every connection
   * of that 5-tuple (delimited by its SYN) that overlaps the window, whole; for UDP the
   * packets inside the window. Without its own window: every packet of the 5-tuple.
   * Always clipped to from..to.
   */
  flows?: FlowRequest[];
  /** A capture-filter predicate (e.g. compiled pcap-filter); applied on top of `flows`. */
  filter?: (packet: Buffer, linkType: number) => boolean;
  /** The section comment: what was asked, e.g. `tapline export --kfl '…' from … to …`. */
  comment: string;
  /** Name Resolution records: address → names (pod, service, …). */
  names?: Map<string, string[]>;
  packetComment?(p: ExportPacket): string | undefined;
  /** Largest number of packets written; the rest are counted in `ExportResult.cut` (default unlimited). */
  maxPackets?: number;
}

export interface ExportResult {
  packets: number;
  /** Bytes of the PCAPNG written. */
  bytes: number;
  /** Packets that matched beyond maxPackets. */
  cut: number;
}

export interface SegmentInfo {
  seq: number;
  path: string;
  /** Segment file bytes plus index bytes. */
  bytes: number;
  packets: number;
  minMs: number;
  maxMs: number;
  open: boolean;
}

export interface RingStats {
  /** Packets written since open. */
  packets: number;
  /** Captured bytes written since open (sum of capLen). */
  bytes: number;
  /** Bytes on disk now (segments and indexes). */
  diskBytes: number;
  segments: number;
  oldestMs: number | null;
  newestMs: number | null;
  segmentsDeletedBySize: number;
  segmentsDeletedByAge: number;
  segmentsAdopted: number;
  /** Adopted segments whose index was rebuilt by scanning (no or stale sidecar). */
  segmentsRebuilt: number;
  /** Bytes cut from torn segment tails at adoption. */
  tornBytes: number;
  /** Failed writes to a segment file (disk full, I/O error); issue `ring.write_failed`. */
  writeErrors: number;
  /** Packets accepted but lost to a failed write. */
  packetsLost: number;
  lastWriteError: string | null;
}

export interface PacketRing {
  /** Stores one packet, indexed by its flow hash (decode/flow-hash.ts). */
  write(p: RawPacket): void;
  /**
   * Stores every packet of a batch of bare pcap records (16-byte little-endian header,
   * then the frame: what the live capture delivers), with no object made per packet.
   * A record cut short at the end is counted (`capture.batch_cut`) and left out.
   * Returns the packets and captured bytes of the batch.
   */
  writeRecords(batch: Buffer, linkType: number, nanos: boolean, interfaceId: number): { packets: number; bytes: number };
  /** Writes buffered packets to the segment file (an export does this itself). */
  flush(): void;
  export(opts: ExportOptions, out: PcapngTarget): Promise<ExportResult>;
  stats(): RingStats;
  segments(): SegmentInfo[];
  /** Closes the open segment (writing its index). Packets written after close are ignored. */
  close(): void;
}

/** Bad ring configuration: fails at start-up. */
export class RingConfigError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RingConfigError';
  }
}

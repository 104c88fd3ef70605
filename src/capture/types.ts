/** LINKTYPE_* values from the tcpdump.org link-layer header registry that Tapline decodes. */
export const LinkType = {
  NULL: 0, // BSD loopback: 4-byte address family in host byte order
  ETHERNET: 1,
  RAW: 101, // raw IPv4 or IPv6, version from the first nibble
  LOOP: 108, // OpenBSD loopback: 4-byte address family in network byte order
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

/**
 * One captured packet as a source delivers it. Sources reuse one object for every
 * packet: read what you need inside the callback. The file readers never overwrite the
 * bytes `data` views, but a live batch goes back to the capture to be filled again once
 * dissected (src/pipeline/batch-reuse.test.ts), so what dissection keeps past the
 * packet's turn must be a copy.
 */
export interface RawPacket {
  linkType: number;
  /** pcapng interface id (0 for pcap files and single-interface sources). */
  interfaceId: number;
  /** Seconds since the epoch. */
  tsSec: number;
  /** Nanoseconds within the second (0..999_999_999). */
  tsNsec: number;
  /** Bytes captured (= data.length). */
  capLen: number;
  /** Length of the packet on the wire (>= capLen when the snaplen cut it). */
  origLen: number;
  data: Buffer;
  /** Byte offset of this record in the (decompressed) capture stream; -1 for live sources. */
  recordOffset: number;
  /**
   * Set (not enumerable) by the file readers, which leave a frame where it was read, and
   * by readRecords for a live batch (src/pipeline/packet-codec.ts): its bytes are
   * frame[frameOffset, frameOffset + capLen), and `data` is made from them only when
   * asked for. A view per packet was a tenth of what `tapline read` allocated.
   */
  frame?: Buffer;
  frameOffset?: number;
}

export type PacketSink = (packet: RawPacket) => void;

/** An interface described by a pcapng IDB (or the single implied interface of a pcap file). */
export interface CaptureInterface {
  linkType: number;
  snapLen: number;
  name?: string;
  /** Units per second of this interface's timestamps (1e6 for µs, 1e9 for ns, …). */
  tsUnitsPerSec: number;
}

/** What a capture file reader tells at the end (or at the damage). */
export interface CaptureSummary {
  format: 'pcap' | 'pcapng';
  packets: number;
  /** Bytes of captured packet data delivered (sum of capLen). */
  bytes: number;
  /** Bytes of the (decompressed) file consumed. */
  fileBytes: number;
  interfaces: CaptureInterface[];
  /** Records whose capLen < origLen (cut short by the capture's snaplen). */
  truncatedRecords: number;
}

/**
 * A capture file that cannot be read further. `offset` is the byte offset (in the
 * decompressed stream) where the trouble starts; every packet before it was delivered.
 */
export class CaptureFileError extends Error {
  constructor(
    readonly code: string,
    readonly offset: number,
    message: string,
  ) {
    super(`${message} (at byte offset ${offset})`);
    this.name = 'CaptureFileError';
  }
}

/** 0 = client → server, 1 = server → client. */
export type Direction = 0 | 1;

export interface Endpoint {
  ip: string;
  port: number;
}

/** One L4 connection (TCP) or flow (UDP 5-tuple), as the flow table saw it begin. */
export interface ConnectionInfo {
  /** Stream id: 12 decimal digits, unique within one flow table (`000000000123`). */
  id: string;
  transport: 'tcp' | 'udp';
  client: Endpoint;
  server: Endpoint;
  /**
   * How the client was told from the server: `syn` (the handshake was seen),
   * `port` (picked up mid-stream; the side with the well-known / lower port is the server),
   * `first` (UDP: the sender of the first datagram, unless ports say otherwise).
   */
  roleBy: 'syn' | 'port' | 'first';
  startSec: number;
  startNsec: number;
  vlans: number[];
  tunnel: '' | 'vxlan' | 'geneve';
  tunnelId: number;
}

export type CloseReason = 'fin' | 'rst' | 'timeout' | 'end' | 'evicted';

/**
 * What the flow table drives for each connection. For TCP, `onData` gets the bytes of
 * one direction in order; for UDP, each call is one datagram. `data` is never
 * overwritten by the source, but a small view pins a large buffer: copy what you keep long.
 */
export interface FlowHandler {
  onData(dir: Direction, data: Buffer, tsSec: number, tsNsec: number): void;
  /** `length` bytes of direction `dir` are missing (lost, over a limit, or before the capture began). */
  onGap(dir: Direction, length: number, tsSec: number, tsNsec: number): void;
  onClose(reason: CloseReason, tsSec: number, tsNsec: number): void;
  /**
   * No packet of the flow for longer than the table's `idleNoticeSec`, at table time
   * `tsSec`/`tsNsec`: what waits for an answer may be overdue. Once per idle spell.
   */
  onIdle?(tsSec: number, tsNsec: number): void;
}

/** Named limits of the flow table and TCP reassembly; each is counted as an issue when hit. */
export interface ReassemblyLimits {
  /** Connections tracked at once; the idlest is evicted past it (`flow.table_full`). */
  maxFlows: number;
  /** Out-of-order bytes held per direction before a gap is declared (`tcp.ooo_flow_limit`). */
  maxBufferedPerDirection: number;
  /** Out-of-order segments held per direction (`tcp.ooo_segments_limit`). */
  maxSegmentsPerDirection: number;
  /** Out-of-order bytes held across all flows (`tcp.ooo_global_limit`). */
  maxBufferedTotal: number;
  /** A TCP connection with no packet for this long is closed (`timeout`). */
  tcpIdleTimeoutSec: number;
  /** A UDP flow with no datagram for this long is closed. */
  udpIdleTimeoutSec: number;
  /** Seconds a connection lingers after FIN/RST to collect retransmissions. */
  closeLingerSec: number;
}

export const defaultReassemblyLimits: ReassemblyLimits = {
  maxFlows: 200_000,
  maxBufferedPerDirection: 4 << 20,
  maxSegmentsPerDirection: 1024,
  maxBufferedTotal: 256 << 20,
  tcpIdleTimeoutSec: 120,
  udpIdleTimeoutSec: 30,
  closeLingerSec: 2,
};

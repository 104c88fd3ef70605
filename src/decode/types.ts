/** IP protocol numbers the decoder knows by name. */
export const IpProto = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;

/** TCP flag bits as they sit in the 13th byte of the header. */
export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

/**
 * A packet decoded down to the transport layer. The decoder reuses one object for
 * every packet: copy what you keep. When a packet is a tunnel (VXLAN, Geneve), these
 * are the fields of the innermost packet; `tunnel` names the encapsulation.
 */
export interface DecodedPacket {
  tsSec: number;
  tsNsec: number;
  /** 4 or 6; 0 when the packet carried no IP layer that could be decoded. */
  ipVersion: 0 | 4 | 6;
  /** Dotted quad or RFC 5952 text. */
  srcIp: string;
  dstIp: string;
  /** IP protocol number of the transport layer (6 TCP, 17 UDP, …). */
  ipProto: number;
  srcPort: number;
  dstPort: number;
  /** TCP only. */
  tcpFlags: number;
  seq: number;
  ack: number;
  window: number;
  /** Transport payload (a view). Empty when there is none. */
  payload: Buffer;
  /** The transport payload was cut by the snaplen: payload.length < what the headers announce. */
  truncated: boolean;
  /** Outermost VLAN ids, outermost first (802.1Q / QinQ). */
  vlans: number[];
  /** 'vxlan' | 'geneve' when the fields above come from inside a tunnel; VNI in tunnelId. */
  tunnel: '' | 'vxlan' | 'geneve';
  tunnelId: number;
  /** Length of the frame on the wire. */
  wireLen: number;
  /** Issue codes met while decoding this packet (e.g. `ipv4.bad_checksum`); reset per packet. */
  issues: string[];
}

/** A blank DecodedPacket, for whoever fills one object again and again. */
export function emptyDecodedPacket(): DecodedPacket {
  return {
    tsSec: 0,
    tsNsec: 0,
    ipVersion: 0,
    srcIp: '',
    dstIp: '',
    ipProto: 0,
    srcPort: 0,
    dstPort: 0,
    tcpFlags: 0,
    seq: 0,
    ack: 0,
    window: 0,
    payload: Buffer.alloc(0),
    truncated: false,
    vlans: [],
    tunnel: '',
    tunnelId: 0,
    wireLen: 0,
    issues: [],
  };
}

/** Named limits of the decoder; each is counted as an issue when hit. */
export interface DecodeLimits {
  /** IP fragment trains kept at once (`ip.frag_trains_limit`). */
  maxFragmentTrains: number;
  /** Fragments kept per train (`ip.frag_count_limit`). */
  maxFragmentsPerTrain: number;
  /** Largest reassembled datagram in bytes (`ip.frag_size_limit`). */
  maxReassembledSize: number;
  /** Seconds a fragment train may wait for its missing pieces (`ip.frag_timeout`). */
  fragmentTimeoutSec: number;
  /** Tunnel nesting depth followed (`tunnel.depth_limit`). */
  maxTunnelDepth: number;
}

export const defaultDecodeLimits: DecodeLimits = {
  maxFragmentTrains: 4096,
  maxFragmentsPerTrain: 64,
  maxReassembledSize: 65535 + 40,
  fragmentTimeoutSec: 30,
  maxTunnelDepth: 4,
};

import { LinkType, type RawPacket } from '../capture/types.js';
import { IssueCounter } from '../common/index.js';
import { decodeEthernet } from './ethernet.js';
import { decodeGeneve, GENEVE_PORT } from './geneve.js';
import { FragmentTable } from './ip-fragments.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import { decodeLinuxSll, decodeLinuxSll2 } from './linux-sll.js';
import { decodeLoopback } from './loopback.js';
import { decodeMpls } from './mpls.js';
import { decodePpp, LINKTYPE_PPP, LINKTYPE_PPP_HDLC } from './ppp.js';
import { decodePppoe } from './pppoe.js';
import { decodeRawIp } from './raw-ip.js';
import { Next, Outcome, type LayerState } from './state.js';
import { decodeTcp } from './tcp.js';
import { defaultDecodeLimits, type DecodedPacket, type DecodeLimits, emptyDecodedPacket } from './types.js';
import { decodeUdp } from './udp.js';
import { decodeVlan } from './vlan.js';
import { decodeVxlan, VXLAN_LINUX_PORT, VXLAN_PORT } from './vxlan.js';

/** Packets by how their decoding ended (each packet counts in `packets` and exactly one outcome). */
export interface DecodeStats {
  packets: number;
  /** Handed on as TCP or UDP. */
  decoded: number;
  /** No IP inside: ARP, LLDP, 802.3/LLC, unknown loopback families, … */
  nonIp: number;
  /** IP without TCP or UDP: ICMP, ESP, routing protocols, … */
  otherTransport: number;
  /** IP fragments held for reassembly (or dropped by a fragment limit). */
  fragments: number;
  malformed: number;
  truncated: number;
  unsupportedLink: number;
  /** Of `decoded`: datagrams rebuilt from fragments. */
  reassembled: number;
  /** Of `decoded`: packets taken from inside a VXLAN or Geneve tunnel. */
  tunneled: number;
}

export interface Decoder {
  /**
   * Decodes one packet into the decoder's single reused DecodedPacket, or returns null
   * when there is no TCP/UDP payload to hand on (the reason is counted in `stats` and
   * as an issue code). Never throws on packet bytes.
   */
  decode(pkt: RawPacket): DecodedPacket | null;
  readonly stats: DecodeStats;
  /** Drops fragment trains older than the fragment timeout at capture time `nowSec`; returns how many. */
  expireFragments(nowSec: number): number;
}

export interface DecoderOptions {
  limits?: Partial<DecodeLimits>;
  /** Where issue codes are counted; a fresh counter when absent. */
  issues?: IssueCounter;
}

export function createDecoder(opts: DecoderOptions = {}): Decoder {
  return new PacketDecoder({ ...defaultDecodeLimits, ...opts.limits }, opts.issues ?? new IssueCounter());
}

const EMPTY = Buffer.alloc(0);

/** The outer packet's fields, kept while a tunnel's inner frame is tried. */
interface OuterSnapshot {
  ipVersion: 0 | 4 | 6;
  srcIp: string;
  dstIp: string;
  ipProto: number;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
  truncated: boolean;
  vlanCount: number;
  tunnel: '' | 'vxlan' | 'geneve';
  tunnelId: number;
  buf: Buffer;
  off: number;
  end: number;
  wantEnd: number;
}

class PacketDecoder implements Decoder, LayerState {
  readonly out: DecodedPacket = emptyDecodedPacket();
  readonly stats: DecodeStats = {
    packets: 0,
    decoded: 0,
    nonIp: 0,
    otherTransport: 0,
    fragments: 0,
    malformed: 0,
    truncated: 0,
    unsupportedLink: 0,
    reassembled: 0,
    tunneled: 0,
  };
  readonly fragments: FragmentTable;
  buf: Buffer = EMPTY;
  off = 0;
  end = 0;
  wantEnd = 0;
  outcome = 0;
  tunnelDepth = 0;
  private nextExpirySec = 0;
  private readonly snapshots: OuterSnapshot[] = [];

  constructor(
    readonly limits: DecodeLimits,
    private readonly counter: IssueCounter,
  ) {
    this.fragments = new FragmentTable(limits, counter);
  }

  /** An arrow property so it can be handed to the fragment table without binding per packet. */
  readonly issue = (code: string): void => {
    this.out.issues.push(code);
    this.counter.count(code);
  };

  fail(outcome: number, code: string): number {
    this.outcome = outcome;
    this.issue(code);
    return Next.STOP;
  }

  expireFragments(nowSec: number): number {
    return this.fragments.expire(nowSec);
  }

  decode(pkt: RawPacket): DecodedPacket | null {
    const out = this.out;
    out.tsSec = pkt.tsSec;
    out.tsNsec = pkt.tsNsec;
    out.wireLen = pkt.origLen;
    out.ipVersion = 0;
    out.srcIp = '';
    out.dstIp = '';
    out.ipProto = 0;
    out.srcPort = 0;
    out.dstPort = 0;
    out.tcpFlags = 0;
    out.seq = 0;
    out.ack = 0;
    out.window = 0;
    out.payload = EMPTY;
    out.truncated = false;
    // Setting an array's length is a runtime call; most packets have no tags to clear.
    if (out.vlans.length !== 0) out.vlans.length = 0;
    out.tunnel = '';
    out.tunnelId = 0;
    // A consumer may have kept the previous list; give it a new one rather than clear it.
    if (out.issues.length > 0) out.issues = [];

    const frame = pkt.frame;
    if (frame !== undefined) {
      // A file reader's packet: the frame where it was read, with no view made for it.
      const at = pkt.frameOffset!;
      const capLen = pkt.capLen;
      this.buf = frame;
      this.off = at;
      this.end = at + capLen;
      this.wantEnd = at + (pkt.origLen > capLen ? pkt.origLen : capLen);
    } else {
      const data = pkt.data;
      this.buf = data;
      this.off = 0;
      this.end = data.length;
      this.wantEnd = pkt.origLen > data.length ? pkt.origLen : data.length;
    }
    this.outcome = Outcome.MALFORMED;
    this.tunnelDepth = 0;
    this.stats.packets++;

    if (this.fragments.size > 0 && pkt.tsSec >= this.nextExpirySec) {
      this.fragments.expire(pkt.tsSec);
      this.nextExpirySec = pkt.tsSec + 1;
    }
    const reassembledBefore = this.fragments.reassembled;

    let next: number;
    switch (pkt.linkType) {
      case LinkType.ETHERNET:
        next = Next.ETHERNET;
        break;
      case LinkType.LINUX_SLL:
        next = decodeLinuxSll(this);
        break;
      case LinkType.LINUX_SLL2:
        next = decodeLinuxSll2(this);
        break;
      case LinkType.RAW:
        next = decodeRawIp(this);
        break;
      case LinkType.IPV4:
        next = Next.IPV4;
        break;
      case LinkType.IPV6:
        next = Next.IPV6;
        break;
      case LINKTYPE_PPP:
      case LINKTYPE_PPP_HDLC:
        next = decodePpp(this);
        break;
      case LinkType.NULL:
      case LinkType.LOOP:
        next = decodeLoopback(this);
        break;
      default:
        next = this.fail(Outcome.UNSUPPORTED_LINK, 'link.unsupported_type');
    }
    this.run(next);

    const stats = this.stats;
    switch (this.outcome) {
      case Outcome.DECODED:
        stats.decoded++;
        if (this.fragments.reassembled !== reassembledBefore) stats.reassembled++;
        if (out.tunnel !== '') stats.tunneled++;
        return out;
      case Outcome.NON_IP:
        stats.nonIp++;
        break;
      case Outcome.OTHER_TRANSPORT:
        stats.otherTransport++;
        break;
      case Outcome.FRAGMENT:
        stats.fragments++;
        break;
      case Outcome.TRUNCATED:
        stats.truncated++;
        break;
      case Outcome.UNSUPPORTED_LINK:
        stats.unsupportedLink++;
        break;
      default:
        stats.malformed++;
    }
    return null;
  }

  /** Follows layers from `next` until one stops; the result is in `this.outcome`. */
  private run(next: number): void {
    for (;;) {
      switch (next) {
        case Next.STOP:
          return;
        case Next.ETHERNET:
          next = decodeEthernet(this);
          break;
        case Next.VLAN:
          next = decodeVlan(this);
          break;
        case Next.MPLS:
          next = decodeMpls(this);
          break;
        case Next.PPPOE:
          next = decodePppoe(this);
          break;
        case Next.IPV4:
          next = decodeIpv4(this);
          break;
        case Next.IPV6:
          next = decodeIpv6(this);
          break;
        case Next.TCP:
          next = decodeTcp(this);
          break;
        case Next.UDP:
          next = decodeUdp(this);
          if (this.outcome === Outcome.DECODED) this.tunnel();
          return;
        default:
          this.fail(Outcome.MALFORMED, 'decode.bad_state');
          return;
      }
    }
  }

  /**
   * A decoded UDP datagram to a tunnel port: decode the inner frame in its place.
   * Ports are only hints (any UDP application may use them), so when the tunnel header
   * does not check out, or the inner frame is malformed or truncated, the packet stays
   * plain UDP. An inner frame that decodes but carries no TCP/UDP (ARP, ICMP) ends there.
   */
  private tunnel(): void {
    const out = this.out;
    const port = out.dstPort;
    if (port !== VXLAN_PORT && port !== VXLAN_LINUX_PORT && port !== GENEVE_PORT) return;
    if (this.tunnelDepth >= this.limits.maxTunnelDepth) {
      this.issue('tunnel.depth_limit');
      return;
    }
    const depth = this.tunnelDepth;
    let snap = this.snapshots[depth];
    if (snap === undefined) {
      snap = {} as OuterSnapshot;
      this.snapshots[depth] = snap;
    }
    snap.ipVersion = out.ipVersion;
    snap.srcIp = out.srcIp;
    snap.dstIp = out.dstIp;
    snap.ipProto = out.ipProto;
    snap.srcPort = out.srcPort;
    snap.dstPort = out.dstPort;
    snap.payload = out.payload;
    snap.truncated = out.truncated;
    snap.vlanCount = out.vlans.length;
    snap.tunnel = out.tunnel;
    snap.tunnelId = out.tunnelId;
    snap.buf = this.buf;
    snap.off = this.off;
    snap.end = this.end;
    snap.wantEnd = this.wantEnd;

    const next = port === GENEVE_PORT ? decodeGeneve(this) : decodeVxlan(this);
    if (next < 0) return;
    this.tunnelDepth = depth + 1;
    out.ipVersion = 0;
    out.payload = EMPTY;
    out.truncated = false;
    this.run(next);
    if (this.outcome === Outcome.MALFORMED || this.outcome === Outcome.TRUNCATED) {
      this.issue(port === GENEVE_PORT ? 'geneve.inner_undecodable' : 'vxlan.inner_undecodable');
      out.ipVersion = snap.ipVersion;
      out.srcIp = snap.srcIp;
      out.dstIp = snap.dstIp;
      out.ipProto = snap.ipProto;
      out.srcPort = snap.srcPort;
      out.dstPort = snap.dstPort;
      out.tcpFlags = 0;
      out.seq = 0;
      out.ack = 0;
      out.window = 0;
      out.payload = snap.payload;
      out.truncated = snap.truncated;
      if (out.vlans.length !== snap.vlanCount) out.vlans.length = snap.vlanCount;
      out.tunnel = snap.tunnel;
      out.tunnelId = snap.tunnelId;
      this.buf = snap.buf;
      this.off = snap.off;
      this.end = snap.end;
      this.wantEnd = snap.wantEnd;
      this.outcome = Outcome.DECODED;
    }
    this.tunnelDepth = depth;
  }
}

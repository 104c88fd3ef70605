/**
 * Capture filters (pcap-filter syntax) compiled by libpcap for a link type and run
 * with pcap_offline_filter: what the packet ring's export by capture filter uses, and
 * exactly what tcpdump would match.
 */
import { loadBinding } from './addon.js';
import { fromNative } from './errors.js';
import type { PacketSink } from '../types.js';

export interface CompiledCaptureFilter {
  readonly expression: string;
  readonly linkType: number;
  /** BPF instructions after libpcap's optimizer. */
  readonly instructions: number;
  /**
   * True when the filter accepts the packet. `packet` is the captured bytes (from the
   * link-layer header on); `origLen` the length on the wire when the snaplen cut it
   * (filters such as `greater 1000` look at it).
   */
  matches(packet: Uint8Array, origLen?: number): boolean;
}

/** Compiles `expr`; a bad expression throws a LiveCaptureError `capture.bad_filter` carrying libpcap's message. */
export function compileFilter(expr: string, linkType: number, snaplen = 262144): CompiledCaptureFilter {
  const binding = loadBinding();
  let native: InstanceType<typeof binding.CompiledFilter>;
  try {
    native = new binding.CompiledFilter(expr, linkType, snaplen);
  } catch (e) {
    throw fromNative(e);
  }
  return {
    expression: expr,
    linkType,
    instructions: native.instructions,
    matches: (packet, origLen) => native.matches(packet, origLen),
  };
}

/**
 * Link types a live capture here can have: Ethernet, Linux cooked v2 and v1 (the `any`
 * interface), raw IP (tunnels), BSD loopback.
 */
const LIVE_LINK_TYPES = [1, 276, 113, 101, 0];

/**
 * Throws `capture.bad_filter` (libpcap's message for Ethernet) when `expr` compiles for
 * none of the link types a live capture can have: a filter that cannot be right anywhere
 * is refused before a tap makes anything. One that fits some link types only (`ether
 * host …`) passes here, and is checked against each interface's own when the capture opens.
 */
export function checkFilterExpression(expr: string): void {
  let first: unknown;
  for (const linkType of LIVE_LINK_TYPES) {
    try {
      compileFilter(expr, linkType);
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== 'capture.bad_filter') throw e;
      first ??= e;
    }
  }
  throw first;
}

/** Packets of any link type tested against one filter expression. */
export type PacketFilter = (packet: Uint8Array, linkType: number, origLen?: number) => boolean;

/**
 * `expr` as a test of packets of any link type, compiled once for each link type as its
 * first packet comes. The expression is checked at once against Ethernet, so a bad one
 * throws here (`capture.bad_filter`), before anything is read. A link type the
 * expression cannot apply to (`ether host …` on raw IP) matches nothing: tcpdump would
 * refuse to read such an interface with it.
 */
export function packetFilter(expr: string): PacketFilter {
  const compiled = new Map<number, CompiledCaptureFilter | null>([[1, compileFilter(expr, 1)]]);
  return (packet, linkType, origLen) => {
    let f = compiled.get(linkType);
    if (f === undefined) {
      try {
        f = compileFilter(expr, linkType);
      } catch {
        f = null;
      }
      compiled.set(linkType, f);
    }
    return f !== null && f.matches(packet, origLen);
  };
}

/** `sink` for the packets `keep` matches; `sink` itself without a filter. */
export function keepPackets(sink: PacketSink, keep: PacketFilter | undefined): PacketSink {
  return keep === undefined ? sink : (p) => void (keep(p.data, p.linkType, p.origLen) && sink(p));
}

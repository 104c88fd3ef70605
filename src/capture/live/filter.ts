/**
 * Capture filters (pcap-filter syntax) compiled by libpcap for a link type and run
 * with pcap_offline_filter: what the packet ring's export by capture filter uses, and
 * exactly what tcpdump would match.
 */
import { loadBinding } from './addon.js';
import { fromNative } from './errors.js';

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

import { Next, Outcome, type LayerState } from './state.js';
import { u16be } from '../common/bytes.js';

/**
 * UDP (RFC 768): source port, destination port, "Length is the length in octets of this
 * user datagram including this header and the data", checksum (not verified).
 * The payload runs to the UDP length; the IP layer already trimmed padding.
 * Leaves `s.off`/`s.end`/`s.wantEnd` on the payload so a tunnel can be decoded from it.
 */
export function decodeUdp(s: LayerState): number {
  const buf = s.buf;
  const off = s.off;
  const out = s.out;
  if (s.end - off < 8) {
    return s.wantEnd - off < 8 ? s.fail(Outcome.MALFORMED, 'udp.bad_length') : s.fail(Outcome.TRUNCATED, 'udp.truncated');
  }
  let length = u16be(buf, off + 4);
  if (length === 0) {
    // RFC 2675 4: a UDP jumbogram sets the length to zero; so do UDP segmentation
    // offload and BIG TCP captures of tunnels (the IP layer then had a zero length too).
    s.issue('udp.zero_length');
    length = s.wantEnd - off;
  } else if (length < 8 || off + length > s.wantEnd) {
    return s.fail(Outcome.MALFORMED, 'udp.bad_length');
  }
  s.wantEnd = off + length;
  if (s.end > s.wantEnd) s.end = s.wantEnd;
  out.srcPort = u16be(buf, off);
  out.dstPort = u16be(buf, off + 2);
  s.off = off + 8;
  out.payload = buf.subarray(s.off, s.end);
  out.truncated = s.end < s.wantEnd;
  s.outcome = Outcome.DECODED;
  return Next.STOP;
}

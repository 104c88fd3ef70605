import { Next, Outcome, type LayerState } from './state.js';

/** Label stack entries walked before giving up (a looping crafted stack is bounded by bytes anyway). */
const MAX_LABELS = 16;

/**
 * MPLS label stack (RFC 3032 2.1): 20-bit label, 3-bit TC, 1-bit S, 8-bit TTL per entry.
 * "S: Bottom of Stack ... set to one for the last entry in the label stack".
 * The payload type is not announced; RFC 3032 leaves it to the label's binding, so the
 * first nibble after the stack is used, as routers and tcpdump do: 4 IPv4, 6 IPv6.
 * Anything else (pseudowire control words, Ethernet over MPLS) is skipped.
 */
export function decodeMpls(s: LayerState): number {
  const buf = s.buf;
  for (let i = 0; i < MAX_LABELS; i++) {
    if (s.end - s.off < 4) return s.fail(Outcome.TRUNCATED, 'mpls.truncated');
    const bottom = (buf[s.off + 2] & 0x01) !== 0;
    s.off += 4;
    if (bottom) {
      if (s.end - s.off < 1) return s.fail(Outcome.TRUNCATED, 'mpls.truncated');
      const version = buf[s.off] >> 4;
      if (version === 4) return Next.IPV4;
      if (version === 6) return Next.IPV6;
      return s.fail(Outcome.NON_IP, 'mpls.non_ip_payload');
    }
  }
  return s.fail(Outcome.MALFORMED, 'mpls.too_many_labels');
}

import { ipv6Text } from './ip-text.js';
import { nextForIpProto } from './ipv4.js';
import { Next, Outcome, takeFragment, type LayerState } from './state.js';

/** IPv6 extension headers and the other "next header" values the walk stops at (IANA). */
const HOP_BY_HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const ESP = 50;
const AH = 51;
const NO_NEXT_HEADER = 59;
const DESTINATION_OPTIONS = 60;

/**
 * IPv6 (RFC 8200 3) and its extension headers (RFC 8200 4). Jumbograms (RFC 2675) are
 * not parsed: a payload length of 0 means "as long as the frame", which also covers
 * BIG TCP and segmentation-offload captures that carry no jumbo option at all.
 */
export function decodeIpv6(s: LayerState): number {
  const buf = s.buf;
  const off = s.off;
  const out = s.out;
  if (s.end - off < 40) return s.fail(Outcome.TRUNCATED, 'ipv6.truncated');
  if (buf[off] >> 4 !== 6) return s.fail(Outcome.MALFORMED, 'ipv6.bad_version');
  const payloadLen = buf.readUInt16BE(off + 4);
  if (payloadLen === 0) {
    s.issue('ipv6.zero_payload_length');
  } else if (off + 40 + payloadLen > s.wantEnd) {
    return s.fail(Outcome.MALFORMED, 'ipv6.bad_payload_length');
  } else {
    s.wantEnd = off + 40 + payloadLen;
    if (s.end > s.wantEnd) s.end = s.wantEnd;
  }
  out.ipVersion = 6;
  out.srcIp = ipv6Text(buf, off + 8);
  out.dstIp = ipv6Text(buf, off + 24);
  s.off = off + 40;
  return walkExtensionHeaders(s, buf[off + 6]);
}

/**
 * Walks extension headers from `s.off` starting with next-header value `next`.
 * RFC 8200 4.2–4.6: Hop-by-Hop, Routing and Destination Options share the layout
 * "Next Header (8 bits), Hdr Ext Len (8 bits): length of the header in 8-octet units,
 * not including the first 8 octets". RFC 4302 2.2 for AH: "Payload Length ... the length
 * of AH in 32-bit words (4-byte units), minus '2'". Each header moves at least 8 bytes,
 * so the walk ends within the packet.
 */
function walkExtensionHeaders(s: LayerState, next: number): number {
  const buf = s.buf;
  for (;;) {
    switch (next) {
      case HOP_BY_HOP:
      case ROUTING:
      case DESTINATION_OPTIONS:
      case AH: {
        if (s.end - s.off < 2) return truncatedOrMalformed(s);
        const len = next === AH ? (buf[s.off + 1] + 2) * 4 : (buf[s.off + 1] + 1) * 8;
        if (s.end - s.off < len) return truncatedOrMalformed(s, len);
        next = buf[s.off];
        s.off += len;
        break;
      }
      case FRAGMENT:
        return fragment(s);
      case ESP:
        s.out.ipProto = next;
        // RFC 4303: everything after the ESP header is encrypted.
        return s.fail(Outcome.OTHER_TRANSPORT, 'ip.other_protocol');
      case NO_NEXT_HEADER:
        s.out.ipProto = next;
        // RFC 8200 4.7: "There is nothing following this header".
        return s.fail(Outcome.OTHER_TRANSPORT, 'ip.other_protocol');
      default:
        s.out.ipProto = next;
        return nextForIpProto(s, next);
    }
  }
}

/** An extension header that does not fit: cut by the snaplen, or longer than the packet. */
function truncatedOrMalformed(s: LayerState, need = 2): number {
  if (s.wantEnd - s.off >= need) return s.fail(Outcome.TRUNCATED, 'ipv6.truncated');
  return s.fail(Outcome.MALFORMED, 'ipv6.bad_extension_header');
}

/**
 * RFC 8200 4.5 Fragment header: Next Header (8), Reserved (8), Fragment Offset (13 bits,
 * 8-octet units), Res (2), M (1), Identification (32). "Fragments are reassembled on the
 * basis of Source Address, Destination Address, and Fragment Identification"; the next
 * header is part of the key here as well, like IPv4's protocol.
 */
function fragment(s: LayerState): number {
  const buf = s.buf;
  if (s.end - s.off < 8) return truncatedOrMalformed(s, 8);
  const next = buf[s.off];
  const field = buf.readUInt16BE(s.off + 2);
  const id = buf.readUInt32BE(s.off + 4);
  s.off += 8;
  const offset = field & 0xfff8;
  const more = (field & 1) !== 0;
  // RFC 6946: an "atomic fragment" (offset 0, M = 0) is processed as a whole datagram.
  if (offset === 0 && !more) return walkExtensionHeaders(s, next);
  if (s.end < s.wantEnd) return s.fail(Outcome.TRUNCATED, 'ip.frag_truncated');
  const key = '6|' + s.out.srcIp + '|' + s.out.dstIp + '|' + next + '|' + id;
  if (!takeFragment(s, key, offset, more)) return Next.STOP;
  return walkExtensionHeaders(s, next);
}

import { Next, Outcome, type LayerState } from './state.js';

/** LINKTYPE_PPP and LINKTYPE_PPP_HDLC (tcpdump.org link-layer header types). */
export const LINKTYPE_PPP = 9;
export const LINKTYPE_PPP_HDLC = 50;

/**
 * PPP (RFC 1661 2). LINKTYPE_PPP: "if the first 2 bytes are 0xff and 0x03, it's PPP in
 * HDLC-like framing, with the PPP header following those two bytes, otherwise it's PPP
 * without framing". RFC 1661 6.5: a compressed Protocol field is one byte, told by its
 * low bit ("the least significant bit of the least significant octet is 1").
 */
export function decodePpp(s: LayerState): number {
  const buf = s.buf;
  if (s.end - s.off >= 2 && buf[s.off] === 0xff && buf[s.off + 1] === 0x03) s.off += 2;
  if (s.end - s.off < 1) return s.fail(Outcome.TRUNCATED, 'ppp.truncated');
  let proto = buf[s.off];
  if ((proto & 1) === 1) {
    s.off += 1;
  } else {
    if (s.end - s.off < 2) return s.fail(Outcome.TRUNCATED, 'ppp.truncated');
    proto = buf.readUInt16BE(s.off);
    s.off += 2;
  }
  return nextForPppProtocol(s, proto);
}

/** PPP protocol numbers (IANA): 0x0021 IPv4, 0x0057 IPv6 (RFC 5072), 0x0281 MPLS unicast (RFC 3032 4.3). */
export function nextForPppProtocol(s: LayerState, proto: number): number {
  if (proto === 0x0021) return Next.IPV4;
  if (proto === 0x0057) return Next.IPV6;
  if (proto === 0x0281) return Next.MPLS;
  return s.fail(Outcome.NON_IP, 'link.non_ip');
}

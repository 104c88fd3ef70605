import { ipv4Text } from './ip-text.js';
import { Next, Outcome, takeFragment, type LayerState } from './state.js';
import { IpProto } from './types.js';
import { u16be } from '../common/bytes.js';

/**
 * IPv4 (RFC 791 3.1). The header checksum is not verified: captures taken on the
 * sending host see it before the NIC fills it in (checksum offload), so a wrong value
 * says nothing about the packet.
 */
export function decodeIpv4(s: LayerState): number {
  const buf = s.buf;
  const off = s.off;
  const out = s.out;
  if (s.end - off < 20) return s.fail(Outcome.TRUNCATED, 'ipv4.truncated');
  const b0 = buf[off];
  if (b0 >> 4 !== 4) return s.fail(Outcome.MALFORMED, 'ipv4.bad_version');
  // "Internet Header Length is the length of the internet header in 32 bit words ...
  // Note that the minimum value for a correct header is 5."
  const headerLen = (b0 & 0x0f) * 4;
  if (headerLen < 20) return s.fail(Outcome.MALFORMED, 'ipv4.bad_header_length');
  if (s.end - off < headerLen) {
    return s.wantEnd - off < headerLen ? s.fail(Outcome.MALFORMED, 'ipv4.bad_header_length') : s.fail(Outcome.TRUNCATED, 'ipv4.truncated');
  }
  let totalLen = u16be(buf, off + 2);
  if (totalLen === 0) {
    // TCP segmentation offload and BIG TCP (Linux 6.3+) hand the capture a datagram
    // larger than 65535 with a total length of 0: the frame says how long it is.
    s.issue('ipv4.zero_total_length');
    totalLen = s.wantEnd - off;
  } else if (totalLen < headerLen) {
    return s.fail(Outcome.MALFORMED, 'ipv4.bad_total_length');
  } else if (off + totalLen > s.wantEnd) {
    // The datagram claims more than the frame carried on the wire.
    return s.fail(Outcome.MALFORMED, 'ipv4.bad_total_length');
  }
  // Below the total length is Ethernet padding (frames are at least 60 bytes).
  s.wantEnd = off + totalLen;
  if (s.end > s.wantEnd) s.end = s.wantEnd;

  out.ipVersion = 4;
  const proto = buf[off + 9];
  out.ipProto = proto;
  out.srcIp = ipv4Text(buf, off + 12);
  out.dstIp = ipv4Text(buf, off + 16);
  s.off = off + headerLen;

  // "More Fragments" is bit 2 of the flags; the offset counts 8-octet units.
  const fragField = u16be(buf, off + 6);
  if ((fragField & 0x3fff) !== 0) {
    if (s.end < s.wantEnd) return s.fail(Outcome.TRUNCATED, 'ip.frag_truncated');
    const id = u16be(buf, off + 4);
    const key = '4|' + out.srcIp + '|' + out.dstIp + '|' + proto + '|' + id;
    if (!takeFragment(s, key, (fragField & 0x1fff) * 8, (fragField & 0x2000) !== 0)) return Next.STOP;
  }
  return nextForIpProto(s, proto);
}

/** The transport layer after an IP header (or its last extension header). */
export function nextForIpProto(s: LayerState, proto: number): number {
  if (proto === IpProto.TCP) return Next.TCP;
  if (proto === IpProto.UDP) return Next.UDP;
  return s.fail(Outcome.OTHER_TRANSPORT, 'ip.other_protocol');
}

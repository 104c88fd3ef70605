import { LinkType, type RawPacket } from '../capture/types.js';
import { ipv4Text, ipv6Text } from '../decode/ip-text.js';
import { GENEVE_PORT } from '../decode/geneve.js';
import { VXLAN_LINUX_PORT, VXLAN_PORT } from '../decode/vxlan.js';

/** A packet's connection: what the flow hash and the packet ring's index need. */
export interface PeekedFlow {
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  ipProto: number;
}

export function emptyPeekedFlow(): PeekedFlow {
  return { srcIp: '', dstIp: '', srcPort: 0, dstPort: 0, ipProto: 0 };
}

/**
 * The flow of a plain TCP or UDP packet read straight from its headers, without decoding
 * it: the thread that hands packets out uses it to pick a packet's dissection thread, so
 * the decoding itself happens there, in parallel.
 *
 * Returns false for everything whose flow the outer headers do not tell, or that needs
 * state across packets: IP fragments, IPv6 extension headers, VXLAN/Geneve ports, MPLS,
 * PPPoE, other link types, anything cut short. Those go through the full decoder on the
 * handing-out thread (rare on real links). When it returns true, the decoder gives that
 * packet these same five fields or no flow at all (tested on every corpus capture).
 */
export function peekFlow(p: RawPacket, out: PeekedFlow): boolean {
  const b = p.data;
  const len = b.length;
  let off: number;
  let type: number;
  switch (p.linkType) {
    case LinkType.ETHERNET: {
      if (len < 14) return false;
      type = (b[12] << 8) | b[13];
      off = 14;
      // Up to two 802.1Q / QinQ tags.
      for (let tags = 0; (type === 0x8100 || type === 0x88a8 || type === 0x9100) && tags < 2; tags++) {
        if (len < off + 4) return false;
        type = (b[off + 2] << 8) | b[off + 3];
        off += 4;
      }
      break;
    }
    case LinkType.LINUX_SLL:
      if (len < 16) return false;
      type = (b[14] << 8) | b[15];
      off = 16;
      break;
    case LinkType.LINUX_SLL2:
      if (len < 20) return false;
      type = (b[0] << 8) | b[1];
      off = 20;
      break;
    case LinkType.RAW:
      if (len < 1) return false;
      type = b[0] >> 4 === 4 ? 0x0800 : b[0] >> 4 === 6 ? 0x86dd : 0;
      off = 0;
      break;
    case LinkType.IPV4:
      type = 0x0800;
      off = 0;
      break;
    case LinkType.IPV6:
      type = 0x86dd;
      off = 0;
      break;
    default:
      return false;
  }
  let ports: number;
  if (type === 0x0800) {
    if (len < off + 20 || b[off] >> 4 !== 4) return false;
    const headerLen = (b[off] & 0x0f) * 4;
    // A fragment (more-fragments flag or an offset) needs the fragment table.
    if (headerLen < 20 || ((b[off + 6] << 8) | b[off + 7]) & 0x3fff) return false;
    out.ipProto = b[off + 9];
    ports = off + headerLen;
    if ((out.ipProto !== 6 && out.ipProto !== 17) || len < ports + 4) return false;
    out.srcIp = ipv4Text(b, off + 12);
    out.dstIp = ipv4Text(b, off + 16);
  } else if (type === 0x86dd) {
    if (len < off + 44 || b[off] >> 4 !== 6) return false;
    // Only TCP or UDP right after the fixed header: extension headers go to the decoder.
    out.ipProto = b[off + 6];
    ports = off + 40;
    if (out.ipProto !== 6 && out.ipProto !== 17) return false;
    out.srcIp = ipv6Text(b, off + 8);
    out.dstIp = ipv6Text(b, off + 24);
  } else return false;
  out.srcPort = (b[ports] << 8) | b[ports + 1];
  out.dstPort = (b[ports + 2] << 8) | b[ports + 3];
  // A tunnel's flow is the inner packet's.
  if (out.ipProto === 17 && (out.dstPort === VXLAN_PORT || out.dstPort === VXLAN_LINUX_PORT || out.dstPort === GENEVE_PORT)) return false;
  return true;
}

/**
 * The flow hash: one number per connection, the same for both directions, read straight
 * from a frame's bytes. The capture thread picks a packet's dissection thread by it and
 * the packet ring indexes the packet by it, so it must cost no allocation: no address
 * text, no key string, no packet object (flowHashAt works on a record inside a batch).
 *
 * flowHashAt returns -1 for everything whose flow the outer headers do not tell, or that
 * needs state across packets: IP fragments, IPv6 extension headers, VXLAN/Geneve ports,
 * MPLS, PPPoE, other link types, anything cut short. Those go through the decoder, and
 * flowHashOf gives the same number from the decoded flow's address text (flow-hash.test.ts
 * holds the two to agreement on every corpus capture), so a connection has one hash
 * whichever way each of its packets went.
 *
 * Murmur3's finaliser mixes each endpoint, and the two are combined by XOR, which is
 * symmetric. Linux gives connect() even ports, so without the mixing the lowest bit was
 * the same for every connection between two hosts and `% 2` put them all on one thread.
 * The result is 31 bits: a small integer, the cheapest Map key V8 has.
 */
import { LinkType } from '../capture/types.js';
import { GENEVE_PORT } from './geneve.js';
import { ipv6Bytes } from './ip-bytes.js';
import { VXLAN_LINUX_PORT, VXLAN_PORT } from './vxlan.js';

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

const portMix = (port: number): number => Math.imul(port + 0x10000, 0x9e3779b1);

/** One side of an IPv4 flow: its address as a 32-bit number and its port. */
function v4Side(addr: number, port: number): number {
  return fmix(addr ^ portMix(port));
}

/** One side of an IPv6 flow: its address as four 32-bit words and its port. */
function v6Side(w0: number, w1: number, w2: number, w3: number, port: number): number {
  return fmix(fmix(fmix(fmix(w0 ^ 0x6) ^ w1) ^ w2) ^ w3 ^ portMix(port));
}

function combine(a: number, b: number, proto: number): number {
  return fmix(a ^ b ^ Math.imul(proto + 1, 0x27d4eb2f)) & 0x7fffffff;
}

const word = (b: Uint8Array, o: number): number => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

/**
 * The flow hash of the frame at `b[off, off + len)` of link type `linkType`, or -1 when
 * its outer headers do not tell its flow (see above). Reads nothing outside that range.
 */
export function flowHashAt(b: Uint8Array, off: number, len: number, linkType: number): number {
  const end = off + len;
  let o: number;
  let type: number;
  switch (linkType) {
    case LinkType.ETHERNET: {
      if (len < 14) return -1;
      type = (b[off + 12] << 8) | b[off + 13];
      o = off + 14;
      // Up to two 802.1Q / QinQ tags.
      for (let tags = 0; (type === 0x8100 || type === 0x88a8 || type === 0x9100) && tags < 2; tags++) {
        if (end < o + 4) return -1;
        type = (b[o + 2] << 8) | b[o + 3];
        o += 4;
      }
      break;
    }
    case LinkType.LINUX_SLL:
      if (len < 16) return -1;
      type = (b[off + 14] << 8) | b[off + 15];
      o = off + 16;
      break;
    case LinkType.LINUX_SLL2:
      if (len < 20) return -1;
      type = (b[off] << 8) | b[off + 1];
      o = off + 20;
      break;
    case LinkType.RAW:
      if (len < 1) return -1;
      type = b[off] >> 4 === 4 ? 0x0800 : b[off] >> 4 === 6 ? 0x86dd : 0;
      o = off;
      break;
    case LinkType.IPV4:
      type = 0x0800;
      o = off;
      break;
    case LinkType.IPV6:
      type = 0x86dd;
      o = off;
      break;
    default:
      return -1;
  }
  let proto: number;
  let ports: number;
  if (type === 0x0800) {
    if (end < o + 20 || b[o] >> 4 !== 4) return -1;
    const headerLen = (b[o] & 0x0f) * 4;
    // A fragment (more-fragments flag or an offset) needs the fragment table.
    if (headerLen < 20 || ((b[o + 6] << 8) | b[o + 7]) & 0x3fff) return -1;
    proto = b[o + 9];
    ports = o + headerLen;
    if ((proto !== 6 && proto !== 17) || end < ports + 4) return -1;
  } else if (type === 0x86dd) {
    if (end < o + 44 || b[o] >> 4 !== 6) return -1;
    // Only TCP or UDP right after the fixed header: extension headers go to the decoder.
    proto = b[o + 6];
    ports = o + 40;
    if (proto !== 6 && proto !== 17) return -1;
  } else return -1;
  const srcPort = (b[ports] << 8) | b[ports + 1];
  const dstPort = (b[ports + 2] << 8) | b[ports + 3];
  // A tunnel's flow is the inner packet's.
  if (proto === 17 && (dstPort === VXLAN_PORT || dstPort === VXLAN_LINUX_PORT || dstPort === GENEVE_PORT)) return -1;
  if (type === 0x0800) return combine(v4Side(word(b, o + 12), srcPort), v4Side(word(b, o + 16), dstPort), proto);
  return combine(
    v6Side(word(b, o + 8), word(b, o + 12), word(b, o + 16), word(b, o + 20), srcPort),
    v6Side(word(b, o + 24), word(b, o + 28), word(b, o + 32), word(b, o + 36), dstPort),
    proto,
  );
}

/** What flowHashOf needs: a DecodedPacket fits as is. */
export interface FlowFields {
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  ipProto: number;
}

/**
 * A dotted quad as a 32-bit number, -1 when it is not one. Packets of tunnels (a
 * Kubernetes overlay can carry all pod traffic in VXLAN) take this path, so it makes
 * nothing on the heap.
 */
function ipv4Number(text: string): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39 && digits < 3) {
      octet = octet * 10 + (c - 0x30);
      digits++;
    } else if (c === 0x2e && digits > 0 && octet <= 255 && dots < 3) {
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else return -1;
  }
  return dots === 3 && digits > 0 && octet <= 255 ? value * 256 + octet : -1;
}

/** One side of a flow from its address text; null when the text is no address. */
function sideOfText(ip: string, port: number): number | null {
  if (ip.includes(':')) {
    const a = ipv6Bytes(ip);
    return a === null ? null : v6Side(word(a, 0), word(a, 4), word(a, 8), word(a, 12), port);
  }
  const a = ipv4Number(ip);
  return a < 0 ? null : v4Side(a, port);
}

/**
 * flowHashAt's number for a flow given as address text (a decoded packet, a stored
 * entry's endpoints); -1 when an address is neither a dotted quad nor IPv6 text.
 */
export function flowHashOf(f: FlowFields): number {
  const a = sideOfText(f.srcIp, f.srcPort);
  const b = sideOfText(f.dstIp, f.dstPort);
  return a === null || b === null ? -1 : combine(a, b, f.ipProto);
}

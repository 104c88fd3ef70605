/**
 * Packet builders for tests (decode, reassembly, protocols). Every builder returns a
 * fresh Buffer with correct lengths and checksums unless a field is overridden, so the
 * packets also pass tshark and tcpdump when written out with `pcapFile`.
 */
import { LinkType, type RawPacket } from '../capture/types.js';
import { pcapFileHeader } from '../capture/capture-writer.js';
import { TcpFlag } from './types.js';

export { TcpFlag };

type Bytes = Buffer | string;

const toBuf = (b: Bytes | undefined): Buffer => (b === undefined ? Buffer.alloc(0) : typeof b === 'string' ? Buffer.from(b, 'latin1') : b);

/** Bytes of an IPv4 dotted quad. */
export function ipv4Bytes(text: string): Buffer {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) throw new Error(`bad IPv4 address ${text}`);
  return Buffer.from(parts);
}

/** Bytes of an IPv6 address in any RFC 4291 2.2 text form (with `::` and a dotted tail). */
export function ipv6Bytes(text: string): Buffer {
  let groups: number[] = [];
  const toGroups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const v4 = ipv4Bytes(g);
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const halves = text.split('::');
  if (halves.length === 2) {
    const head = toGroups(halves[0]);
    const tail = toGroups(halves[1]);
    groups = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    groups = toGroups(text);
  }
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) throw new Error(`bad IPv6 address ${text}`);
  const buf = Buffer.alloc(16);
  groups.forEach((g, i) => buf.writeUInt16BE(g, 2 * i));
  return buf;
}

const isV6 = (addr: string): boolean => addr.includes(':');

/** RFC 1071 one's complement sum over the given buffers, folded and inverted. */
export function internetChecksum(...parts: Buffer[]): number {
  let sum = 0;
  for (const part of parts) {
    for (let i = 0; i + 1 < part.length; i += 2) sum += (part[i] << 8) | part[i + 1];
    if (part.length % 2 === 1) sum += part[part.length - 1] << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function pseudoHeader(src: string, dst: string, proto: number, length: number): Buffer {
  if (isV6(src)) {
    const b = Buffer.alloc(40);
    ipv6Bytes(src).copy(b, 0);
    ipv6Bytes(dst).copy(b, 16);
    b.writeUInt32BE(length, 32);
    b[39] = proto;
    return b;
  }
  const b = Buffer.alloc(12);
  ipv4Bytes(src).copy(b, 0);
  ipv4Bytes(dst).copy(b, 4);
  b[9] = proto;
  b.writeUInt16BE(length, 10);
  return b;
}

export interface TcpSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  /** TcpFlag bits; ACK when absent. */
  flags?: number;
  window?: number;
  /** Raw option bytes, padded to a multiple of 4 with NOPs (0x01). */
  options?: Buffer;
  payload?: Bytes;
}

/** A TCP header + payload with its checksum over the pseudo-header of `src`/`dst`. */
export function tcpSegment(spec: TcpSpec): Buffer {
  const payload = toBuf(spec.payload);
  let options = spec.options ?? Buffer.alloc(0);
  if (options.length % 4 !== 0) options = Buffer.concat([options, Buffer.alloc(4 - (options.length % 4), 0x01)]);
  const headerLen = 20 + options.length;
  const seg = Buffer.alloc(headerLen + payload.length);
  seg.writeUInt16BE(spec.sport, 0);
  seg.writeUInt16BE(spec.dport, 2);
  seg.writeUInt32BE((spec.seq ?? 0) >>> 0, 4);
  seg.writeUInt32BE((spec.ack ?? 0) >>> 0, 8);
  seg[12] = (headerLen / 4) << 4;
  seg[13] = spec.flags ?? TcpFlag.ACK;
  seg.writeUInt16BE(spec.window ?? 65535, 14);
  options.copy(seg, 20);
  payload.copy(seg, headerLen);
  seg.writeUInt16BE(internetChecksum(pseudoHeader(spec.src, spec.dst, 6, seg.length), seg), 16);
  return seg;
}

export interface UdpSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload?: Bytes;
  /** Overrides the length field. */
  length?: number;
}

export function udpDatagram(spec: UdpSpec): Buffer {
  const payload = toBuf(spec.payload);
  const d = Buffer.alloc(8 + payload.length);
  d.writeUInt16BE(spec.sport, 0);
  d.writeUInt16BE(spec.dport, 2);
  d.writeUInt16BE(8 + payload.length, 4);
  payload.copy(d, 8);
  const sum = internetChecksum(pseudoHeader(spec.src, spec.dst, 17, d.length), d);
  d.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
  if (spec.length !== undefined) d.writeUInt16BE(spec.length, 4);
  return d;
}

export interface Ipv4Spec {
  src: string;
  dst: string;
  proto: number;
  payload: Bytes;
  id?: number;
  ttl?: number;
  /** Don't Fragment (default true unless fragment fields are given). */
  df?: boolean;
  more?: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  fragOffset?: number;
  /** Option bytes, padded to a multiple of 4 with End of Option List (0). */
  options?: Buffer;
  /** Overrides the total length field. */
  totalLength?: number;
}

export function ipv4Packet(spec: Ipv4Spec): Buffer {
  const payload = toBuf(spec.payload);
  let options = spec.options ?? Buffer.alloc(0);
  if (options.length % 4 !== 0) options = Buffer.concat([options, Buffer.alloc(4 - (options.length % 4))]);
  const headerLen = 20 + options.length;
  const p = Buffer.alloc(headerLen + payload.length);
  p[0] = 0x40 | (headerLen / 4);
  p.writeUInt16BE(spec.totalLength ?? p.length, 2);
  p.writeUInt16BE(spec.id ?? 0x1234, 4);
  const fragmenting = spec.more !== undefined || spec.fragOffset !== undefined;
  const df = spec.df ?? !fragmenting;
  p.writeUInt16BE((df ? 0x4000 : 0) | (spec.more ? 0x2000 : 0) | ((spec.fragOffset ?? 0) >> 3), 6);
  p[8] = spec.ttl ?? 64;
  p[9] = spec.proto;
  ipv4Bytes(spec.src).copy(p, 12);
  ipv4Bytes(spec.dst).copy(p, 16);
  options.copy(p, 20);
  p.writeUInt16BE(internetChecksum(p.subarray(0, headerLen)), 10);
  payload.copy(p, headerLen);
  return p;
}

export interface Ipv6Spec {
  src: string;
  dst: string;
  /** Next header of the first header after the fixed one. */
  nextHeader: number;
  /** Extension headers and the transport, already chained. */
  payload: Bytes;
  hopLimit?: number;
  /** Overrides the payload length field. */
  payloadLength?: number;
}

export function ipv6Packet(spec: Ipv6Spec): Buffer {
  const payload = toBuf(spec.payload);
  const p = Buffer.alloc(40 + payload.length);
  p.writeUInt32BE(0x60000000, 0);
  p.writeUInt16BE(spec.payloadLength ?? payload.length, 4);
  p[6] = spec.nextHeader;
  p[7] = spec.hopLimit ?? 64;
  ipv6Bytes(spec.src).copy(p, 8);
  ipv6Bytes(spec.dst).copy(p, 24);
  payload.copy(p, 40);
  return p;
}

/**
 * An IPv6 Hop-by-Hop / Routing / Destination Options header (8-octet units) whose body
 * is padded with zeros (Pad1 options) up to a multiple of 8 bytes.
 */
export function ipv6ExtHeader(next: number, body: Buffer = Buffer.alloc(6)): Buffer {
  const len = Math.ceil((body.length + 2) / 8) * 8;
  const h = Buffer.alloc(len);
  h[0] = next;
  h[1] = len / 8 - 1;
  body.copy(h, 2);
  return h;
}

/** An IPv6 Authentication Header (RFC 4302) with an ICV of `icvLength` zero bytes. */
export function ipv6AuthHeader(next: number, icvLength = 12): Buffer {
  const h = Buffer.alloc(12 + icvLength);
  h[0] = next;
  h[1] = h.length / 4 - 2;
  h.writeUInt32BE(0x100, 4); // SPI
  h.writeUInt32BE(1, 8); // sequence number
  return h;
}

export function ipv6FragmentHeader(next: number, offset: number, more: boolean, id: number): Buffer {
  const h = Buffer.alloc(8);
  h[0] = next;
  h.writeUInt16BE(offset | (more ? 1 : 0), 2);
  h.writeUInt32BE(id >>> 0, 4);
  return h;
}

/** Splits an IPv4 datagram (no options) into fragments carrying `chunk` payload bytes each (a multiple of 8). */
export function fragmentIpv4(datagram: Buffer, chunk: number): Buffer[] {
  const headerLen = (datagram[0] & 0x0f) * 4;
  const payload = datagram.subarray(headerLen);
  const src = `${datagram[12]}.${datagram[13]}.${datagram[14]}.${datagram[15]}`;
  const dst = `${datagram[16]}.${datagram[17]}.${datagram[18]}.${datagram[19]}`;
  const out: Buffer[] = [];
  for (let off = 0; off < payload.length; off += chunk) {
    const piece = payload.subarray(off, Math.min(off + chunk, payload.length));
    out.push(
      ipv4Packet({
        src,
        dst,
        proto: datagram[9],
        id: datagram.readUInt16BE(4),
        ttl: datagram[8],
        payload: piece,
        fragOffset: off,
        more: off + chunk < payload.length,
      }),
    );
  }
  return out;
}

/**
 * Splits an IPv6 packet whose payload is `upper` (with next header `next`) into
 * fragments of `chunk` bytes (a multiple of 8), each with a Fragment header.
 */
export function fragmentIpv6(src: string, dst: string, next: number, upper: Buffer, chunk: number, id = 0xabcd): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < upper.length; off += chunk) {
    const piece = upper.subarray(off, Math.min(off + chunk, upper.length));
    const more = off + chunk < upper.length;
    out.push(ipv6Packet({ src, dst, nextHeader: 44, payload: Buffer.concat([ipv6FragmentHeader(next, off, more, id), piece]) }));
  }
  return out;
}

export interface EthernetOptions {
  /** VLAN ids, outermost first. */
  vlans?: number[];
  /** TPID per tag (default 0x88a8 for outer tags of a stack, 0x8100 for the last). */
  tpids?: number[];
  srcMac?: string;
  dstMac?: string;
}

const mac = (text: string): Buffer => Buffer.from(text.split(':').map((h) => parseInt(h, 16)));

/** An Ethernet II frame (no FCS, no padding) around `payload` of EtherType `type`. */
export function ethernetFrame(type: number, payload: Bytes, opts: EthernetOptions = {}): Buffer {
  const vlans = opts.vlans ?? [];
  const head = Buffer.alloc(12 + 4 * vlans.length + 2);
  mac(opts.dstMac ?? '02:00:00:00:00:02').copy(head, 0);
  mac(opts.srcMac ?? '02:00:00:00:00:01').copy(head, 6);
  vlans.forEach((vid, i) => {
    const tpid = opts.tpids?.[i] ?? (i < vlans.length - 1 ? 0x88a8 : 0x8100);
    head.writeUInt16BE(tpid, 12 + 4 * i);
    head.writeUInt16BE(vid & 0x0fff, 14 + 4 * i);
  });
  head.writeUInt16BE(type, 12 + 4 * vlans.length);
  return Buffer.concat([head, toBuf(payload)]);
}

/** An IP packet (v4 or v6 chosen by the source address) around a transport segment. */
export function ipPacket(src: string, dst: string, proto: number, segment: Buffer, id?: number): Buffer {
  return isV6(src) ? ipv6Packet({ src, dst, nextHeader: proto, payload: segment }) : ipv4Packet({ src, dst, proto, payload: segment, id });
}

/** Ethernet / IPv4 or IPv6 (by address) / TCP. */
export function ethernetIpTcp(spec: TcpSpec & EthernetOptions): Buffer {
  const ip = ipPacket(spec.src, spec.dst, 6, tcpSegment(spec));
  return ethernetFrame(isV6(spec.src) ? 0x86dd : 0x0800, ip, spec);
}

/** Ethernet / IPv4 or IPv6 (by address) / UDP. */
export function ethernetIpUdp(spec: UdpSpec & EthernetOptions): Buffer {
  const ip = ipPacket(spec.src, spec.dst, 17, udpDatagram(spec));
  return ethernetFrame(isV6(spec.src) ? 0x86dd : 0x0800, ip, spec);
}

export const ethernetIpv4Tcp = ethernetIpTcp;
export const ethernetIpv6Tcp = ethernetIpTcp;
export const ethernetIpv4Udp = ethernetIpUdp;
export const ethernetIpv6Udp = ethernetIpUdp;

/** VXLAN header (I flag set) + inner Ethernet frame: the payload of a UDP datagram to port 4789. */
export function vxlanPayload(vni: number, innerFrame: Buffer, flags = 0x08): Buffer {
  const h = Buffer.alloc(8);
  h[0] = flags;
  h.writeUIntBE(vni, 4, 3);
  return Buffer.concat([h, innerFrame]);
}

/** Geneve header (+ zeroed options of `optionBytes`, a multiple of 4) + inner PDU: the payload of a UDP datagram to port 6081. */
export function genevePayload(vni: number, inner: Buffer, protocolType = 0x6558, optionBytes = 0): Buffer {
  const h = Buffer.alloc(8 + optionBytes);
  h[0] = optionBytes / 4;
  h.writeUInt16BE(protocolType, 2);
  h.writeUIntBE(vni, 4, 3);
  return Buffer.concat([h, inner]);
}

/** Linux cooked header v1 (LINKTYPE_LINUX_SLL) in front of `payload`. */
export function sllFrame(protocol: number, payload: Buffer, packetType = 0): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(packetType, 0);
  h.writeUInt16BE(1, 2); // ARPHRD_ETHER
  h.writeUInt16BE(6, 4);
  mac('02:00:00:00:00:01').copy(h, 6);
  h.writeUInt16BE(protocol, 14);
  return Buffer.concat([h, payload]);
}

/** Linux cooked header v2 (LINKTYPE_LINUX_SLL2) in front of `payload`. */
export function sll2Frame(protocol: number, payload: Buffer, ifindex = 2): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(protocol, 0);
  h.writeUInt32BE(ifindex, 4);
  h.writeUInt16BE(1, 8);
  h[10] = 0;
  h[11] = 6;
  mac('02:00:00:00:00:01').copy(h, 12);
  return Buffer.concat([h, payload]);
}

/** BSD loopback header (LINKTYPE_NULL little-endian by default, LINKTYPE_LOOP big-endian). */
export function loopbackFrame(family: number, payload: Buffer, bigEndian = false): Buffer {
  const h = Buffer.alloc(4);
  if (bigEndian) h.writeUInt32BE(family);
  else h.writeUInt32LE(family);
  return Buffer.concat([h, payload]);
}

/** A RawPacket as a source would deliver it. `capLen` cuts the data as a snaplen would. */
export function rawPacket(data: Buffer, linkType: number = LinkType.ETHERNET, opts: { tsSec?: number; tsNsec?: number; capLen?: number } = {}): RawPacket {
  const cap = opts.capLen === undefined ? data : data.subarray(0, opts.capLen);
  return {
    linkType,
    interfaceId: 0,
    tsSec: opts.tsSec ?? 1_700_000_000,
    tsNsec: opts.tsNsec ?? 0,
    capLen: cap.length,
    origLen: data.length,
    data: cap,
    recordOffset: -1,
  };
}

/** A classic pcap file (µs timestamps) holding `packets`, e.g. to hand to tshark. */
export function pcapFile(packets: RawPacket[], linkType: number = LinkType.ETHERNET, snapLen = 262144): Buffer {
  const parts: Buffer[] = [pcapFileHeader(linkType, snapLen)];
  for (const p of packets) {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(p.tsSec, 0);
    rec.writeUInt32LE(Math.floor(p.tsNsec / 1000), 4);
    rec.writeUInt32LE(p.data.length, 8);
    rec.writeUInt32LE(p.origLen, 12);
    parts.push(rec, p.data);
  }
  return Buffer.concat(parts);
}

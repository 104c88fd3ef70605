import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LinkType } from '../capture/types.js';
import { createDecoder, type Decoder } from './decoder.js';
import {
  ethernetFrame,
  ethernetIpTcp,
  ethernetIpUdp,
  fragmentIpv4,
  fragmentIpv6,
  genevePayload,
  ipv4Packet,
  ipv6AuthHeader,
  ipv6ExtHeader,
  ipv6Packet,
  loopbackFrame,
  rawPacket,
  sll2Frame,
  sllFrame,
  tcpSegment,
  vxlanPayload,
} from './test-packets.js';
import { prng as rng } from '../common/prng.js';

const LINK_TYPES = [LinkType.NULL, LinkType.ETHERNET, LinkType.RAW, LinkType.LOOP, LinkType.LINUX_SLL, LinkType.IPV4, LinkType.IPV6, LinkType.LINUX_SLL2, 12345];

/** Decodes and checks what every non-null result must satisfy. */
function decodeChecked(d: Decoder, data: Buffer, linkType: number, capLen?: number): void {
  const pkt = rawPacket(data, linkType, { capLen });
  const reassembled = d.stats.reassembled;
  const out = d.decode(pkt);
  if (out === null) return;
  assert.ok(out.ipVersion === 4 || out.ipVersion === 6);
  assert.ok(out.ipProto === 6 || out.ipProto === 17);
  assert.ok(out.srcIp.length > 0 && out.dstIp.length > 0);
  assert.ok(out.srcPort >= 0 && out.srcPort <= 0xffff && out.dstPort >= 0 && out.dstPort <= 0xffff);
  if (d.stats.reassembled === reassembled && out.payload.length > 0) {
    // Not rebuilt from fragments: the payload is a view of the captured bytes and lies inside
    // them (an empty TCP payload is one shared empty view).
    assert.equal(out.payload.buffer, pkt.data.buffer);
    assert.ok(out.payload.byteOffset >= pkt.data.byteOffset);
    assert.ok(out.payload.byteOffset + out.payload.length <= pkt.data.byteOffset + pkt.data.length);
  }
}

const tcp = { src: '10.0.0.1', dst: '10.0.0.2', sport: 1234, dport: 80, seq: 1, ack: 2, payload: 'hello world, some payload bytes' };
const tcp6 = { ...tcp, src: '2001:db8::1', dst: '2001:db8::2' };
const v4 = ipv4Packet({ src: tcp.src, dst: tcp.dst, proto: 6, payload: tcpSegment(tcp), options: Buffer.from([1, 1, 1, 0]) });
const v6 = ipv6Packet({ src: tcp6.src, dst: tcp6.dst, nextHeader: 0, payload: Buffer.concat([ipv6ExtHeader(43), ipv6ExtHeader(51), ipv6AuthHeader(6), tcpSegment(tcp6)]) });
const inner = ethernetIpTcp({ ...tcp, vlans: [4] });

/** Valid packets of every kind the decoder follows, with the link type each is read as. */
const WHOLE: [Buffer, number][] = [
  [ethernetIpTcp({ ...tcp, vlans: [1, 2] }), LinkType.ETHERNET],
  [ethernetIpUdp({ src: 'fd00::1', dst: 'fd00::2', sport: 1, dport: 53, payload: 'dns?' }), LinkType.ETHERNET],
  [ethernetIpUdp({ src: '1.1.1.1', dst: '2.2.2.2', sport: 9, dport: 4789, payload: vxlanPayload(5, inner) }), LinkType.ETHERNET],
  [ethernetIpUdp({ src: '1.1.1.1', dst: '2.2.2.2', sport: 9, dport: 6081, payload: genevePayload(5, inner, 0x6558, 12) }), LinkType.ETHERNET],
  [ethernetFrame(0x8847, Buffer.concat([Buffer.from([0, 1, 1, 64]), v4])), LinkType.ETHERNET],
  [ethernetFrame(0x8864, Buffer.concat([Buffer.from([0x11, 0, 0, 1, (v6.length + 2) >> 8, (v6.length + 2) & 0xff, 0, 0x57]), v6])), LinkType.ETHERNET],
  [sllFrame(0x0800, v4), LinkType.LINUX_SLL],
  [sll2Frame(0x86dd, v6), LinkType.LINUX_SLL2],
  [v4, LinkType.RAW],
  [v6, LinkType.IPV6],
  [loopbackFrame(30, v6), LinkType.NULL],
  [loopbackFrame(2, v4, true), LinkType.LOOP],
];
const VALID: [Buffer, number][] = [
  ...WHOLE,
  ...fragmentIpv4(ipv4Packet({ src: tcp.src, dst: tcp.dst, proto: 6, payload: tcpSegment(tcp) }), 16).map((f): [Buffer, number] => [ethernetFrame(0x0800, f), LinkType.ETHERNET]),
  ...fragmentIpv6(tcp6.src, tcp6.dst, 6, tcpSegment(tcp6), 16).map((f): [Buffer, number] => [ethernetFrame(0x86dd, f), LinkType.ETHERNET]),
];

test('random bytes through every link type never throw', () => {
  const next = rng(1);
  const d = createDecoder();
  for (const linkType of LINK_TYPES) {
    for (let i = 0; i < 3000; i++) {
      const data = Buffer.alloc(Math.floor(next() * 160));
      for (let j = 0; j < data.length; j++) data[j] = Math.floor(next() * 256);
      // Steer some inputs past the first checks: plausible IP version nibbles and EtherTypes.
      if (data.length > 20 && next() < 0.5) {
        if (linkType === LinkType.ETHERNET) data.writeUInt16BE([0x0800, 0x86dd, 0x8100, 0x88a8, 0x8847, 0x8864][i % 6], 12);
        else data[0] = next() < 0.5 ? 0x45 : 0x60;
      }
      decodeChecked(d, data, linkType);
    }
  }
  const s = d.stats;
  assert.equal(s.packets, LINK_TYPES.length * 3000);
  assert.equal(s.decoded + s.nonIp + s.otherTransport + s.fragments + s.malformed + s.truncated + s.unsupportedLink, s.packets);
  assert.ok(s.malformed > 0 && s.truncated > 0 && s.nonIp > 0);
  assert.equal(s.unsupportedLink, 3000);
});

test('every truncation of valid packets never throws, and the full packet still decodes', () => {
  for (const [data, linkType] of WHOLE) {
    const text = createDecoder().decode(rawPacket(data, linkType))?.payload.toString('latin1');
    assert.ok(text === tcp.payload || text === 'dns?', `link type ${linkType}: ${text}`);
  }
  const d = createDecoder();
  for (const [data, linkType] of VALID) {
    for (let cap = 0; cap <= data.length; cap++) decodeChecked(d, data, linkType, cap);
    // The same bytes as if the frame itself were that short (no snaplen): malformed headers.
    for (let len = 0; len < data.length; len++) decodeChecked(d, data.subarray(0, len), linkType);
  }
  const s = d.stats;
  assert.equal(s.decoded + s.nonIp + s.otherTransport + s.fragments + s.malformed + s.truncated + s.unsupportedLink, s.packets);
  assert.ok(s.truncated > 0 && s.malformed > 0);
});

test('random byte changes in valid packets never throw', () => {
  const next = rng(2);
  const d = createDecoder();
  for (const [data, linkType] of VALID) {
    for (let i = 0; i < 1500; i++) {
      const m = Buffer.from(data);
      const flips = 1 + Math.floor(next() * 4);
      for (let j = 0; j < flips; j++) m[Math.floor(next() * m.length)] = Math.floor(next() * 256);
      decodeChecked(d, m, linkType, next() < 0.3 ? Math.floor(next() * m.length) : undefined);
    }
  }
  assert.equal(d.stats.packets, VALID.length * 1500);
});

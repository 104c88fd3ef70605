import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LinkType } from '../capture/types.js';
import { IssueCounter } from '../common/index.js';
import { createDecoder } from './decoder.js';
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
  udpDatagram,
  vxlanPayload,
} from './test-packets.js';
import { TcpFlag } from './types.js';

const tcpSpec = { src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 80, seq: 0xfffffff0, ack: 7, flags: TcpFlag.PSH | TcpFlag.ACK, window: 512, payload: 'GET / HTTP/1.1\r\n\r\n' };

/** Decodes one packet with a fresh decoder and returns a plain copy plus the counters. */
function decodeOne(data: Buffer, linkType: number = LinkType.ETHERNET, capLen?: number) {
  const issues = new IssueCounter();
  const d = createDecoder({ issues });
  const out = d.decode(rawPacket(data, linkType, { capLen }));
  return { out: out && { ...out, payload: Buffer.from(out.payload), vlans: [...out.vlans] }, issues: issues.toJSON(), stats: { ...d.stats } };
}

describe('Ethernet / IPv4 / TCP', () => {
  /*
   * A SYN from 192.168.1.10:51000 to 93.184.216.34:443, seq 0x01020304, window 64240,
   * with an MSS option (data offset 6):
   * 0000  00 11 22 33 44 55 66 77 88 99 aa bb 08 00 45 00
   * 0010  00 2c 00 01 40 00 40 06 00 00 c0 a8 01 0a 5d b8
   * 0020  d8 22 c7 38 01 bb 01 02 03 04 00 00 00 00 60 02
   * 0030  fa f0 00 00 00 00 02 04 05 b4 00 00
   * (checksums zero, as on a host with offload; 2 bytes of Ethernet padding at the end)
   */
  const syn = Buffer.from(
    '001122334455667788 99aabb0800 4500 002c 0001 4000 4006 0000 c0a8010a 5db8d822 c738 01bb 01020304 00000000 6002 faf0 0000 0000 020405b4 0000'.replace(/ /g, ''),
    'hex',
  );

  test('hand-written SYN: every field, padding trimmed, bad checksums not an issue', () => {
    const { out, issues } = decodeOne(syn);
    assert.ok(out);
    assert.equal(out.ipVersion, 4);
    assert.equal(out.srcIp, '192.168.1.10');
    assert.equal(out.dstIp, '93.184.216.34');
    assert.equal(out.ipProto, 6);
    assert.equal(out.srcPort, 51000);
    assert.equal(out.dstPort, 443);
    assert.equal(out.seq, 0x01020304);
    assert.equal(out.ack, 0);
    assert.equal(out.tcpFlags, TcpFlag.SYN);
    assert.equal(out.window, 64240);
    assert.equal(out.payload.length, 0);
    assert.equal(out.truncated, false);
    assert.equal(out.wireLen, syn.length);
    assert.deepEqual(out.issues, []);
    assert.deepEqual(issues, {});
  });

  test('built segment with payload: seq above 2^31, flags, window, payload bytes', () => {
    const { out } = decodeOne(ethernetIpTcp(tcpSpec));
    assert.ok(out);
    assert.equal(out.seq, 0xfffffff0);
    assert.equal(out.ack, 7);
    assert.equal(out.tcpFlags, TcpFlag.PSH | TcpFlag.ACK);
    assert.equal(out.window, 512);
    assert.equal(out.payload.toString('latin1'), 'GET / HTTP/1.1\r\n\r\n');
    assert.deepEqual(out.vlans, []);
    assert.equal(out.tunnel, '');
  });

  test('IPv4 options (IHL 7) and TCP options (data offset 8) are skipped', () => {
    const seg = tcpSegment({ ...tcpSpec, options: Buffer.from([2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 1, 1, 1]) });
    const ip = ipv4Packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6, payload: seg, options: Buffer.from([0x94, 0x04, 0, 0, 1, 1, 1, 0]) });
    assert.equal(ip[0], 0x47);
    const { out } = decodeOne(ethernetFrame(0x0800, ip));
    assert.ok(out);
    assert.equal(out.srcPort, 40000);
    assert.equal(out.payload.toString('latin1'), tcpSpec.payload);
  });

  test('snaplen cut inside the payload: truncated, payload holds what was captured', () => {
    const frame = ethernetIpTcp(tcpSpec);
    const { out, stats } = decodeOne(frame, LinkType.ETHERNET, frame.length - 5);
    assert.ok(out);
    assert.equal(out.truncated, true);
    assert.equal(out.payload.toString('latin1'), tcpSpec.payload.slice(0, -5));
    assert.equal(out.wireLen, frame.length);
    assert.equal(stats.decoded, 1);
  });

  test('snaplen cut inside the TCP header: null, tcp.truncated', () => {
    const { out, issues, stats } = decodeOne(ethernetIpTcp(tcpSpec), LinkType.ETHERNET, 14 + 20 + 10);
    assert.equal(out, null);
    assert.deepEqual(issues, { 'tcp.truncated': 1 });
    assert.equal(stats.truncated, 1);
  });

  test('snaplen cut inside the IPv4 header: ipv4.truncated', () => {
    const { out, issues } = decodeOne(ethernetIpTcp(tcpSpec), LinkType.ETHERNET, 14 + 12);
    assert.equal(out, null);
    assert.deepEqual(issues, { 'ipv4.truncated': 1 });
  });

  test('short frame: ethernet.truncated', () => {
    assert.deepEqual(decodeOne(Buffer.alloc(13)).issues, { 'ethernet.truncated': 1 });
  });

  test('malformed IPv4 headers are told apart from truncated ones', () => {
    const ip = ipv4Packet({ src: '1.1.1.1', dst: '2.2.2.2', proto: 6, payload: tcpSegment({ ...tcpSpec, src: '1.1.1.1', dst: '2.2.2.2' }) });
    const ihl4 = Buffer.from(ip);
    ihl4[0] = 0x44;
    assert.deepEqual(decodeOne(ethernetFrame(0x0800, ihl4)).issues, { 'ipv4.bad_header_length': 1 });
    const v5 = Buffer.from(ip);
    v5[0] = 0x55;
    assert.deepEqual(decodeOne(ethernetFrame(0x0800, v5)).issues, { 'ipv4.bad_version': 1 });
    const long = Buffer.from(ip);
    long.writeUInt16BE(ip.length + 1, 2);
    const r = decodeOne(ethernetFrame(0x0800, long));
    assert.deepEqual(r.issues, { 'ipv4.bad_total_length': 1 });
    assert.equal(r.stats.malformed, 1);
    const short = Buffer.from(ip);
    short.writeUInt16BE(19, 2);
    assert.deepEqual(decodeOne(ethernetFrame(0x0800, short)).issues, { 'ipv4.bad_total_length': 1 });
  });

  test('total length 0 (segmentation offload): the frame gives the length', () => {
    const ip = ipv4Packet({ src: '1.1.1.1', dst: '2.2.2.2', proto: 6, payload: tcpSegment({ ...tcpSpec, src: '1.1.1.1', dst: '2.2.2.2' }), totalLength: 0 });
    const { out, issues } = decodeOne(ethernetFrame(0x0800, ip));
    assert.ok(out);
    assert.equal(out.payload.toString('latin1'), tcpSpec.payload);
    assert.deepEqual(issues, { 'ipv4.zero_total_length': 1 });
  });

  test('TCP data offset below 5 or past the segment: tcp.bad_data_offset', () => {
    const frame = ethernetIpTcp(tcpSpec);
    const low = Buffer.from(frame);
    low[14 + 20 + 12] = 0x40;
    assert.deepEqual(decodeOne(low).issues, { 'tcp.bad_data_offset': 1 });
    const high = Buffer.from(frame);
    high[14 + 20 + 12] = 0xf0;
    assert.deepEqual(decodeOne(high).issues, { 'tcp.bad_data_offset': 1 });
    const shortSeg = ethernetIpTcp({ ...tcpSpec, payload: '' });
    shortSeg[14 + 20 + 12] = 0xf0;
    assert.deepEqual(decodeOne(shortSeg).issues, { 'tcp.bad_data_offset': 1 });
  });

  test('ICMP: null, ip.other_protocol, protocol number kept', () => {
    const { out, issues, stats } = decodeOne(ethernetFrame(0x0800, ipv4Packet({ src: '1.1.1.1', dst: '2.2.2.2', proto: 1, payload: Buffer.alloc(8) })));
    assert.equal(out, null);
    assert.deepEqual(issues, { 'ip.other_protocol': 1 });
    assert.equal(stats.otherTransport, 1);
  });
});

describe('UDP', () => {
  const spec = { src: '10.1.1.1', dst: '10.1.1.2', sport: 5353, dport: 53, payload: 'abc' };
  test('fields, and Ethernet padding trimmed by the IP and UDP lengths', () => {
    const frame = Buffer.concat([ethernetIpUdp(spec), Buffer.alloc(60 - 45, 0xee)]);
    assert.equal(frame.length, 60);
    const { out } = decodeOne(frame);
    assert.ok(out);
    assert.equal(out.ipProto, 17);
    assert.equal(out.srcPort, 5353);
    assert.equal(out.dstPort, 53);
    assert.equal(out.payload.toString('latin1'), 'abc');
    assert.equal(out.truncated, false);
    assert.equal(out.tcpFlags, 0);
  });
  test('UDP length shorter than the IP payload cuts the payload', () => {
    const { out } = decodeOne(ethernetIpUdp({ ...spec, length: 10 }));
    assert.equal(out?.payload.toString('latin1'), 'ab');
  });
  test('UDP length beyond the IP payload, or below 8: udp.bad_length', () => {
    assert.deepEqual(decodeOne(ethernetIpUdp({ ...spec, length: 12 })).issues, { 'udp.bad_length': 1 });
    assert.deepEqual(decodeOne(ethernetIpUdp({ ...spec, length: 7 })).issues, { 'udp.bad_length': 1 });
  });
  test('snaplen cut: truncated payload', () => {
    const frame = ethernetIpUdp(spec);
    const { out } = decodeOne(frame, LinkType.ETHERNET, frame.length - 1);
    assert.equal(out?.payload.toString('latin1'), 'ab');
    assert.equal(out?.truncated, true);
  });
});

describe('link layers', () => {
  const v4 = ipv4Packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6, payload: tcpSegment(tcpSpec) });
  const v6spec = { ...tcpSpec, src: '2001:db8::1', dst: 'fe80::2' };
  const v6 = ipv6Packet({ src: v6spec.src, dst: v6spec.dst, nextHeader: 6, payload: tcpSegment(v6spec) });
  const check = (data: Buffer, linkType: number, ipVersion: 4 | 6) => {
    const { out, issues } = decodeOne(data, linkType);
    assert.ok(out, `link type ${linkType}: ${JSON.stringify(issues)}`);
    assert.equal(out.ipVersion, ipVersion);
    assert.equal(out.srcIp, ipVersion === 4 ? '10.0.0.1' : '2001:db8::1');
    assert.equal(out.dstIp, ipVersion === 4 ? '10.0.0.2' : 'fe80::2');
    assert.equal(out.dstPort, 80);
    assert.equal(out.payload.toString('latin1'), tcpSpec.payload);
    return out;
  };

  test('802.1Q tag', () => assert.deepEqual(check(ethernetFrame(0x0800, v4, { vlans: [100] }), LinkType.ETHERNET, 4).vlans, [100]));
  test('802.1ad QinQ (0x88a8 over 0x8100), priority bits masked off', () => {
    const frame = ethernetFrame(0x86dd, v6, { vlans: [0xe00 | 200, 300] });
    assert.deepEqual(check(frame, LinkType.ETHERNET, 6).vlans, [0xe00 | 200, 300].map((v) => v & 0xfff));
  });
  test('0x9100 outer tag, three tags deep', () => {
    assert.deepEqual(check(ethernetFrame(0x0800, v4, { vlans: [1, 2, 4094], tpids: [0x9100, 0x88a8, 0x8100] }), LinkType.ETHERNET, 4).vlans, [1, 2, 4094]);
  });
  test('VLAN tag cut short: vlan.truncated', () => {
    assert.deepEqual(decodeOne(ethernetFrame(0x8100, Buffer.alloc(3))).issues, { 'vlan.truncated': 1 });
  });
  test('802.3 length frame: skipped and counted', () => {
    const { out, issues, stats } = decodeOne(ethernetFrame(46, Buffer.alloc(46)));
    assert.equal(out, null);
    assert.deepEqual(issues, { 'ethernet.ieee8023_skipped': 1 });
    assert.equal(stats.nonIp, 1);
  });
  test('ARP: link.non_ip', () => {
    const { out, issues, stats } = decodeOne(ethernetFrame(0x0806, Buffer.alloc(28)));
    assert.equal(out, null);
    assert.deepEqual(issues, { 'link.non_ip': 1 });
    assert.equal(stats.nonIp, 1);
  });
  test('Linux SLL and SLL2', () => {
    check(sllFrame(0x0800, v4), LinkType.LINUX_SLL, 4);
    check(sllFrame(0x86dd, v6), LinkType.LINUX_SLL, 6);
    check(sll2Frame(0x0800, v4), LinkType.LINUX_SLL2, 4);
    check(sll2Frame(0x86dd, v6), LinkType.LINUX_SLL2, 6);
    assert.deepEqual(check(sllFrame(0x8100, Buffer.concat([Buffer.from([0, 7, 8, 0]), v4])), LinkType.LINUX_SLL, 4).vlans, [7]);
    assert.deepEqual(decodeOne(sllFrame(0x0004, Buffer.alloc(10)), LinkType.LINUX_SLL).issues, { 'link.non_ip': 1 });
    assert.deepEqual(decodeOne(Buffer.alloc(15), LinkType.LINUX_SLL).issues, { 'sll.truncated': 1 });
    assert.deepEqual(decodeOne(Buffer.alloc(19), LinkType.LINUX_SLL2).issues, { 'sll2.truncated': 1 });
  });
  test('raw IP (101, 228, 229)', () => {
    check(v4, LinkType.RAW, 4);
    check(v6, LinkType.RAW, 6);
    check(v4, LinkType.IPV4, 4);
    check(v6, LinkType.IPV6, 6);
    assert.deepEqual(decodeOne(Buffer.from([0x50, 0]), LinkType.RAW).issues, { 'raw.bad_version': 1 });
    assert.deepEqual(decodeOne(v6, LinkType.IPV4).issues, { 'ipv4.bad_version': 1 });
  });
  test('BSD loopback NULL in either byte order, every AF_INET6 value, and LOOP', () => {
    check(loopbackFrame(2, v4), LinkType.NULL, 4);
    check(loopbackFrame(2, v4, true), LinkType.NULL, 4);
    for (const af of [10, 24, 28, 30]) {
      check(loopbackFrame(af, v6), LinkType.NULL, 6);
      check(loopbackFrame(af, v6, true), LinkType.NULL, 6);
    }
    check(loopbackFrame(2, v4, true), LinkType.LOOP, 4);
    assert.deepEqual(decodeOne(loopbackFrame(7, v4), LinkType.NULL).issues, { 'loopback.unknown_family': 1 });
  });
  test('MPLS label stack (two labels) over IPv4 and IPv6', () => {
    const labels = Buffer.from([0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40]); // label 16, then label 32 with S=1
    check(ethernetFrame(0x8847, Buffer.concat([labels, v4])), LinkType.ETHERNET, 4);
    check(ethernetFrame(0x8847, Buffer.concat([labels, v6])), LinkType.ETHERNET, 6);
    assert.deepEqual(decodeOne(ethernetFrame(0x8847, Buffer.concat([labels, Buffer.from([0, 0, 0, 0])]))).issues, { 'mpls.non_ip_payload': 1 });
    assert.deepEqual(decodeOne(ethernetFrame(0x8847, labels.subarray(0, 4))).issues, { 'mpls.truncated': 1 });
  });
  test('PPPoE session', () => {
    const session = (proto: number, ip: Buffer) => {
      const h = Buffer.from([0x11, 0x00, 0x12, 0x34, 0, 0, 0, 0]);
      h.writeUInt16BE(ip.length + 2, 4);
      h.writeUInt16BE(proto, 6);
      return ethernetFrame(0x8864, Buffer.concat([h, ip]));
    };
    check(session(0x0021, v4), LinkType.ETHERNET, 4);
    check(session(0x0057, v6), LinkType.ETHERNET, 6);
    assert.deepEqual(decodeOne(session(0xc021, Buffer.alloc(4))).issues, { 'link.non_ip': 1 });
  });
  test('unknown link type', () => {
    const { out, issues, stats } = decodeOne(v4, 147);
    assert.equal(out, null);
    assert.deepEqual(issues, { 'link.unsupported_type': 1 });
    assert.equal(stats.unsupportedLink, 1);
  });
});

describe('IPv6 extension headers', () => {
  const spec = { ...tcpSpec, src: '2001:db8::a', dst: '2001:db8::b' };
  const seg = tcpSegment(spec);
  test('hop-by-hop, routing, destination options and AH before TCP', () => {
    const chain = Buffer.concat([ipv6ExtHeader(43), ipv6ExtHeader(60, Buffer.alloc(14)), ipv6ExtHeader(51), ipv6AuthHeader(6), seg]);
    const { out } = decodeOne(ethernetFrame(0x86dd, ipv6Packet({ src: spec.src, dst: spec.dst, nextHeader: 0, payload: chain })));
    assert.ok(out);
    assert.equal(out.ipProto, 6);
    assert.equal(out.srcIp, '2001:db8::a');
    assert.equal(out.seq, tcpSpec.seq);
    assert.equal(out.payload.toString('latin1'), tcpSpec.payload);
  });
  test('ESP and no-next-header stop with ip.other_protocol', () => {
    for (const nh of [50, 59]) {
      const { out, issues } = decodeOne(ethernetFrame(0x86dd, ipv6Packet({ src: spec.src, dst: spec.dst, nextHeader: 0, payload: Buffer.concat([ipv6ExtHeader(nh), Buffer.alloc(16)]) })));
      assert.equal(out, null);
      assert.deepEqual(issues, { 'ip.other_protocol': 1 });
    }
  });
  test('extension header longer than the packet: malformed; cut by the snaplen: truncated', () => {
    const hbh = ipv6ExtHeader(6);
    hbh[1] = 10;
    assert.deepEqual(decodeOne(ethernetFrame(0x86dd, ipv6Packet({ src: spec.src, dst: spec.dst, nextHeader: 0, payload: Buffer.concat([hbh, seg]) }))).issues, {
      'ipv6.bad_extension_header': 1,
    });
    const frame = ethernetFrame(0x86dd, ipv6Packet({ src: spec.src, dst: spec.dst, nextHeader: 0, payload: Buffer.concat([ipv6ExtHeader(6, Buffer.alloc(30)), seg]) }));
    assert.deepEqual(decodeOne(frame, LinkType.ETHERNET, 14 + 40 + 20).issues, { 'ipv6.truncated': 1 });
  });
  test('payload length beyond the frame: ipv6.bad_payload_length; 0: the frame decides', () => {
    const bad = ipv6Packet({ src: spec.src, dst: spec.dst, nextHeader: 6, payload: seg, payloadLength: seg.length + 1 });
    assert.deepEqual(decodeOne(ethernetFrame(0x86dd, bad)).issues, { 'ipv6.bad_payload_length': 1 });
    const zero = ipv6Packet({ src: spec.src, dst: spec.dst, nextHeader: 6, payload: seg, payloadLength: 0 });
    const r = decodeOne(ethernetFrame(0x86dd, zero));
    assert.equal(r.out?.payload.toString('latin1'), tcpSpec.payload);
    assert.deepEqual(r.issues, { 'ipv6.zero_payload_length': 1 });
  });
});

describe('IP fragment reassembly', () => {
  const payload = Buffer.from(Array.from({ length: 100 }, (_, i) => `${i % 10}`).join(''), 'latin1');
  const udp = { src: '10.9.0.1', dst: '10.9.0.2', sport: 1111, dport: 2222, payload };
  const datagram = ipv4Packet({ src: udp.src, dst: udp.dst, proto: 17, payload: udpDatagram(udp), id: 77 });
  const frags = fragmentIpv4(datagram, 32).map((f) => ethernetFrame(0x0800, f)); // 108 bytes of UDP → 4 fragments

  function feed(frames: Buffer[], limits = {}, tsSecs?: number[]) {
    const issues = new IssueCounter();
    const d = createDecoder({ issues, limits });
    const results = frames.map((f, i) => {
      const out = d.decode(rawPacket(f, LinkType.ETHERNET, { tsSec: tsSecs?.[i] ?? 100 }));
      return out && { ...out, payload: out.payload };
    });
    return { results, issues: issues.toJSON(), stats: d.stats, decoder: d };
  }

  test('in order: held, held, held, then the whole datagram in a fresh buffer', () => {
    assert.equal(frags.length, 4);
    const { results, issues, stats } = feed(frags);
    assert.deepEqual(
      results.slice(0, 3).map((r) => r),
      [null, null, null],
    );
    const last = results[3];
    assert.ok(last);
    assert.equal(last.srcPort, 1111);
    assert.equal(last.dstPort, 2222);
    assert.deepEqual(last.payload, payload);
    for (const f of frags) assert.notEqual(last.payload.buffer, f.buffer);
    assert.deepEqual(issues, { 'ip.frag_held': 3 });
    assert.equal(stats.fragments, 3);
    assert.equal(stats.reassembled, 1);
    assert.equal(stats.decoded, 1);
  });

  test('out of order and duplicated: completes once, duplicate counted as overlap', () => {
    const { results, issues } = feed([frags[3], frags[1], frags[1], frags[0], frags[2]]);
    assert.deepEqual(results.slice(0, 4), [null, null, null, null]);
    assert.deepEqual(results[4]?.payload, payload);
    assert.deepEqual(issues, { 'ip.frag_held': 4, 'ip.frag_overlap': 1 });
  });

  test('overlap policy: first wins', () => {
    // Fragment 1 arrives twice with different bytes: whichever came first is kept.
    const forged = Buffer.from(frags[1]);
    forged.fill(0x58, 14 + 20);
    const { results, issues } = feed([frags[0], frags[1], forged, frags[2], frags[3]]);
    assert.deepEqual(results[4]?.payload, payload);
    assert.equal(issues['ip.frag_overlap'], 1);
    const r2 = feed([frags[0], forged, frags[1], frags[2], frags[3]]);
    const got = r2.results[4]?.payload;
    assert.ok(got);
    assert.equal(got.subarray(24, 24 + 32).toString('latin1'), 'X'.repeat(32));
  });

  test('IPv6 fragments with the TCP header in the first one', () => {
    const spec = { ...tcpSpec, src: 'fd00::1', dst: 'fd00::2', payload: 'y'.repeat(150) };
    const pieces = fragmentIpv6(spec.src, spec.dst, 6, tcpSegment(spec), 64).map((f) => ethernetFrame(0x86dd, f));
    assert.equal(pieces.length, 3);
    const { results, stats } = feed([pieces[2], pieces[0], pieces[1]]);
    assert.deepEqual(results.slice(0, 2), [null, null]);
    const out = results[2];
    assert.ok(out);
    assert.equal(out.ipVersion, 6);
    assert.equal(out.srcIp, 'fd00::1');
    assert.equal(out.seq, tcpSpec.seq);
    assert.equal(out.payload.toString('latin1'), spec.payload);
    assert.equal(stats.reassembled, 1);
  });

  test('IPv6 atomic fragment (offset 0, M 0) is a whole packet', () => {
    const spec = { ...tcpSpec, src: 'fd00::1', dst: 'fd00::2' };
    const [only] = fragmentIpv6(spec.src, spec.dst, 6, tcpSegment(spec), 4096);
    const { out } = decodeOne(ethernetFrame(0x86dd, only));
    assert.equal(out?.payload.toString('latin1'), tcpSpec.payload);
  });

  test('ip.frag_timeout: a train older than the timeout is dropped', () => {
    const { results, issues } = feed([frags[0], frags[1], frags[2], frags[3]], { fragmentTimeoutSec: 5 }, [100, 101, 106, 107]);
    assert.deepEqual(results, [null, null, null, null]);
    assert.equal(issues['ip.frag_timeout'], 1);
  });

  test('expireFragments counts and drops old trains', () => {
    const { decoder, issues } = feed([frags[0]], { fragmentTimeoutSec: 5 });
    assert.equal(decoder.expireFragments(104), 0);
    assert.equal(decoder.expireFragments(106), 1);
    assert.equal(issues['ip.frag_timeout'], undefined); // toJSON was taken before
  });

  test('ip.frag_trains_limit evicts the oldest train', () => {
    const other = fragmentIpv4(ipv4Packet({ src: udp.src, dst: udp.dst, proto: 17, payload: udpDatagram(udp), id: 78 }), 32).map((f) => ethernetFrame(0x0800, f));
    const { results, issues } = feed([frags[0], other[0], frags[1], frags[2], frags[3], other[1], other[2], other[3]], { maxFragmentTrains: 1 });
    assert.deepEqual(results.slice(0, 7), [null, null, null, null, null, null, null]);
    assert.equal(results[7], null); // other's first fragment was evicted by frags' second train
    assert.ok((issues['ip.frag_trains_limit'] ?? 0) >= 2);
  });

  test('ip.frag_count_limit and ip.frag_size_limit drop the train', () => {
    const a = feed(frags, { maxFragmentsPerTrain: 3 });
    assert.equal(a.results[3], null);
    assert.deepEqual(a.issues, { 'ip.frag_held': 4, 'ip.frag_count_limit': 1 });
    const b = feed(frags, { maxReassembledSize: 100 });
    assert.equal(b.results[3], null);
    assert.equal(b.issues['ip.frag_size_limit'], 1);
  });

  test('a fragment cut by the snaplen cannot be reassembled', () => {
    assert.deepEqual(decodeOne(frags[0], LinkType.ETHERNET, frags[0].length - 1).issues, { 'ip.frag_truncated': 1 });
  });
});

describe('tunnels', () => {
  const inner = ethernetIpTcp({ ...tcpSpec, src: '172.16.0.1', dst: '172.16.0.2', vlans: [5] });
  const outer = { src: '192.168.0.1', dst: '192.168.0.2', sport: 51111 };

  test('VXLAN (4789 and 8472): fields of the inner packet, VNI, outer VLAN first', () => {
    for (const dport of [4789, 8472]) {
      const frame = ethernetIpUdp({ ...outer, dport, payload: vxlanPayload(0xabcdef, inner), vlans: [10] });
      const { out, stats } = decodeOne(frame);
      assert.ok(out);
      assert.equal(out.tunnel, 'vxlan');
      assert.equal(out.tunnelId, 0xabcdef);
      assert.equal(out.srcIp, '172.16.0.1');
      assert.equal(out.ipProto, 6);
      assert.equal(out.dstPort, 80);
      assert.equal(out.seq, tcpSpec.seq);
      assert.equal(out.payload.toString('latin1'), tcpSpec.payload);
      assert.deepEqual(out.vlans, [10, 5]);
      assert.equal(stats.tunneled, 1);
    }
  });

  test('Geneve with options, inner IPv6 UDP', () => {
    const in6 = ethernetIpUdp({ src: 'fd00::1', dst: 'fd00::2', sport: 1, dport: 2, payload: 'hi' });
    const { out } = decodeOne(ethernetIpUdp({ ...outer, dport: 6081, payload: genevePayload(42, in6, 0x6558, 8) }));
    assert.ok(out);
    assert.equal(out.tunnel, 'geneve');
    assert.equal(out.tunnelId, 42);
    assert.equal(out.srcIp, 'fd00::1');
    assert.equal(out.payload.toString('latin1'), 'hi');
  });

  test('Geneve carrying IPv4 directly (protocol type 0x0800)', () => {
    const ip = ipv4Packet({ src: '1.2.3.4', dst: '5.6.7.8', proto: 6, payload: tcpSegment({ ...tcpSpec, src: '1.2.3.4', dst: '5.6.7.8' }) });
    const { out } = decodeOne(ethernetIpUdp({ ...outer, dport: 6081, payload: genevePayload(7, ip, 0x0800) }));
    assert.equal(out?.srcIp, '1.2.3.4');
    assert.equal(out?.tunnelId, 7);
  });

  test('VXLAN without the I flag stays plain UDP', () => {
    const payload = vxlanPayload(1, inner, 0x00);
    const { out, issues } = decodeOne(ethernetIpUdp({ ...outer, dport: 4789, payload }));
    assert.ok(out);
    assert.equal(out.tunnel, '');
    assert.equal(out.srcIp, '192.168.0.1');
    assert.deepEqual(out.payload, payload);
    assert.deepEqual(issues, {});
  });

  test('an inner frame that does not decode falls back to the outer UDP datagram', () => {
    const payload = vxlanPayload(1, inner.subarray(0, 14 + 10));
    const { out, issues } = decodeOne(ethernetIpUdp({ ...outer, dport: 4789, payload, vlans: [3] }));
    assert.ok(out);
    assert.equal(out.tunnel, '');
    assert.equal(out.tunnelId, 0);
    assert.equal(out.srcIp, '192.168.0.1');
    assert.equal(out.dstPort, 4789);
    assert.deepEqual(out.vlans, [3]);
    assert.deepEqual(out.payload, payload);
    assert.deepEqual(issues, { 'ipv4.truncated': 1, 'vxlan.inner_undecodable': 1 });
  });

  test('ICMP inside VXLAN: null', () => {
    const icmp = ethernetFrame(0x0800, ipv4Packet({ src: '1.1.1.1', dst: '2.2.2.2', proto: 1, payload: Buffer.alloc(8) }));
    const { out, stats } = decodeOne(ethernetIpUdp({ ...outer, dport: 4789, payload: vxlanPayload(1, icmp) }));
    assert.equal(out, null);
    assert.equal(stats.otherTransport, 1);
  });

  test('tunnel.depth_limit: nesting past maxTunnelDepth stays the last UDP datagram reached', () => {
    const mid = ethernetIpUdp({ src: '10.0.0.5', dst: '10.0.0.6', sport: 9, dport: 4789, payload: vxlanPayload(2, inner) });
    const frame = ethernetIpUdp({ ...outer, dport: 4789, payload: vxlanPayload(1, mid) });
    const issues = new IssueCounter();
    const shallow = createDecoder({ issues, limits: { maxTunnelDepth: 1 } }).decode(rawPacket(frame));
    assert.equal(shallow?.srcIp, '10.0.0.5');
    assert.equal(shallow?.tunnelId, 1);
    assert.deepEqual(issues.toJSON(), { 'tunnel.depth_limit': 1 });
    const deep = createDecoder().decode(rawPacket(frame));
    assert.equal(deep?.srcIp, '172.16.0.1');
    assert.equal(deep?.tunnelId, 2);
  });
});

describe('the reused DecodedPacket', () => {
  test('one object; vlans array reused; issues replaced only when non-empty', () => {
    const d = createDecoder();
    const a = d.decode(rawPacket(ethernetIpTcp({ ...tcpSpec, vlans: [9] })));
    assert.ok(a);
    const vlans = a.vlans;
    const issues0 = a.issues;
    const b = d.decode(rawPacket(ethernetIpTcp(tcpSpec)));
    assert.equal(b, a);
    assert.equal(b.vlans, vlans);
    assert.deepEqual(b.vlans, []);
    assert.equal(b.issues, issues0);
    assert.equal(d.decode(rawPacket(ethernetFrame(0x0806, Buffer.alloc(28)))), null);
    const kept = a.issues;
    assert.deepEqual(kept, ['link.non_ip']);
    const c = d.decode(rawPacket(ethernetIpUdp({ src: '::1', dst: '::2', sport: 1, dport: 2, payload: 'z' })));
    assert.ok(c);
    assert.notEqual(c.issues, kept);
    assert.deepEqual(kept, ['link.non_ip']);
    assert.deepEqual(c.issues, []);
    assert.equal(c.seq, 0);
    assert.equal(c.tcpFlags, 0);
    assert.equal(c.srcIp, '::1');
    assert.deepEqual(
      { ...d.stats },
      { packets: 4, decoded: 3, nonIp: 1, otherTransport: 0, fragments: 0, malformed: 0, truncated: 0, unsupportedLink: 0, reassembled: 0, tunneled: 0 },
    );
  });
});

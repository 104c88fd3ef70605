import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkType, type RawPacket } from '../capture/types.js';
import { readCaptureFile } from '../capture/index.js';
import { createDecoder } from './index.js';
import {
  ethernetFrame,
  ethernetIpTcp,
  ethernetIpUdp,
  fragmentIpv4,
  genevePayload,
  ipPacket,
  ipv6ExtHeader,
  ipv6Packet,
  rawPacket,
  sll2Frame,
  sllFrame,
  tcpSegment,
  udpDatagram,
  vxlanPayload,
} from './test-packets.js';
import { corpusCaptures } from '../../test/support/paths.js';
import { flowHashAt, flowHashOf } from './flow-hash.js';

const five = (f: { srcIp: string; dstIp: string; srcPort: number; dstPort: number; ipProto: number }) => [f.srcIp, f.dstIp, f.srcPort, f.dstPort, f.ipProto];
const flow = (srcIp: string, dstIp: string, srcPort: number, dstPort: number, ipProto: number) => ({ srcIp, dstIp, srcPort, dstPort, ipProto });
const hashAt = (p: RawPacket) => flowHashAt(p.data, 0, p.data.length, p.linkType);

/**
 * Feeds packets in order to a decoder and to flowHashAt: every hash read from the headers
 * must be the decoded flow's (or the decoder finds no flow), and every decoded flow has one.
 */
function checkAgainstDecoder(packets: Iterable<RawPacket>): { peeked: number; decoded: number; total: number } {
  const decoder = createDecoder();
  let peeked = 0;
  let decoded = 0;
  let total = 0;
  for (const p of packets) {
    total++;
    const hash = hashAt(p);
    const d = decoder.decode(p);
    if (d !== null) {
      decoded++;
      assert.ok(flowHashOf(d) >= 0, `packet ${total}: ${five(d).join(' ')}`);
    }
    if (hash < 0) continue;
    peeked++;
    assert.ok(hash <= 0x7fffffff);
    if (d !== null) assert.equal(hash, flowHashOf(d), `packet ${total}: ${five(d).join(' ')}`);
  }
  return { peeked, decoded, total };
}

describe('flowHashAt and flowHashOf', () => {
  test('plain TCP and UDP over Ethernet, VLAN, SLL, SLL2 and raw IP are read from the headers', () => {
    const tcp4 = ethernetIpTcp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 8080, payload: Buffer.from('x') });
    const udp6 = ethernetIpUdp({ src: 'fd00::1', dst: 'fd00::2', sport: 5353, dport: 53, payload: Buffer.from('q') });
    const ip4 = ipPacket('192.168.1.1', '192.168.1.2', 6, tcpSegment({ src: '192.168.1.1', dst: '192.168.1.2', sport: 1, dport: 2, payload: Buffer.alloc(0) }));
    const cases: [RawPacket, unknown[]][] = [
      [rawPacket(tcp4), ['10.0.0.1', '10.0.0.2', 40000, 8080, 6]],
      [rawPacket(udp6), ['fd00::1', 'fd00::2', 5353, 53, 17]],
      [rawPacket(ethernetFrame(0x0800, ip4, { vlans: [100, 200] })), ['192.168.1.1', '192.168.1.2', 1, 2, 6]],
      [rawPacket(sllFrame(0x0800, ip4), LinkType.LINUX_SLL), ['192.168.1.1', '192.168.1.2', 1, 2, 6]],
      [rawPacket(sll2Frame(0x0800, ip4), LinkType.LINUX_SLL2), ['192.168.1.1', '192.168.1.2', 1, 2, 6]],
      [rawPacket(ip4, LinkType.RAW), ['192.168.1.1', '192.168.1.2', 1, 2, 6]],
      [rawPacket(ip4, LinkType.IPV4), ['192.168.1.1', '192.168.1.2', 1, 2, 6]],
    ];
    for (const [p, want] of cases) {
      const [srcIp, dstIp, srcPort, dstPort, proto] = want as [string, string, number, number, number];
      assert.equal(hashAt(p), flowHashOf(flow(srcIp, dstIp, srcPort, dstPort, proto)), p.data.toString('hex'));
      // The other direction, and the frame as a record inside a larger buffer.
      assert.equal(hashAt(p), flowHashOf(flow(dstIp, srcIp, dstPort, srcPort, proto)));
      const batch = Buffer.concat([Buffer.alloc(37, 0xee), p.data, Buffer.alloc(9, 0xee)]);
      assert.equal(flowHashAt(batch, 37, p.data.length, p.linkType), hashAt(p));
    }
    assert.equal(checkAgainstDecoder(cases.map(([p]) => p)).decoded, cases.length);
    // Each field counts.
    const base = flowHashOf(flow('10.0.0.1', '10.0.0.2', 40000, 8080, 6));
    for (const other of [flow('10.0.0.3', '10.0.0.2', 40000, 8080, 6), flow('10.0.0.1', '10.0.0.2', 40001, 8080, 6), flow('10.0.0.1', '10.0.0.2', 40000, 8080, 17), flow('::ffff:10.0.0.1', '10.0.0.2', 40000, 8080, 6)]) {
      assert.notEqual(flowHashOf(other), base, five(other).join(' '));
    }
  });

  test('never reads past the record: a frame cut short inside a batch is refused however the bytes after it look', () => {
    const p = ethernetIpTcp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 8080, payload: Buffer.from('x') });
    for (const cut of [13, 14 + 19, 14 + 20 + 3]) {
      const batch = Buffer.concat([p.subarray(0, cut), p.subarray(cut)]);
      assert.equal(flowHashAt(batch, 0, cut, LinkType.ETHERNET), -1, `cut at ${cut}`);
    }
  });

  test('address text that is no address gives -1; IPv6 text in any spelling gives the same hash', () => {
    for (const bad of ['', '1.2.3', '256.1.1.1', '1.2.3.4.5', '1..2.3', '1.2.3.4 ', '1234.1.1.1', 'a.b.c.d', 'fd00:::1', 'g::1']) {
      assert.equal(flowHashOf(flow(bad, '10.0.0.2', 1, 2, 6)), -1, JSON.stringify(bad));
      assert.equal(flowHashOf(flow('10.0.0.2', bad, 1, 2, 6)), -1, JSON.stringify(bad));
    }
    assert.equal(flowHashOf(flow('fd00::1', 'FD00:0:0:0:0:0:0:2', 1, 2, 6)), flowHashOf(flow('fd00:0::1', 'fd00::2', 1, 2, 6)));
    assert.ok(flowHashOf(flow('0.0.0.0', '255.255.255.255', 0, 65535, 17)) >= 0);
  });

  test('connections between two hosts from even client ports (as Linux picks them) spread over 2, 3 and 4 threads', () => {
    for (const n of [2, 3, 4]) {
      const lanes = new Array<number>(n).fill(0);
      for (let port = 40_000; port < 42_000; port += 2) lanes[flowHashOf(flow('10.213.30.1', '10.213.30.2', port, 80, 6)) % n]++;
      // 1000 connections: each thread gets its share within ±20 %.
      for (const count of lanes) assert.ok(Math.abs(count - 1000 / n) < (1000 / n) * 0.2, `${n} threads: ${lanes.join(', ')}`);
    }
  });

  test('fragments, tunnels, extension headers, other transports and short frames are left to the decoder', () => {
    const inner = ethernetIpTcp({ src: '10.244.1.5', dst: '10.244.2.7', sport: 33000, dport: 80, payload: Buffer.from('GET') });
    const bigUdp = ipPacket('10.0.0.1', '10.0.0.2', 17, udpDatagram({ src: '10.0.0.1', dst: '10.0.0.2', sport: 53, dport: 40000, payload: Buffer.alloc(3000, 1) }), 77);
    const udp6 = udpDatagram({ src: 'fd00::1', dst: 'fd00::2', sport: 1, dport: 2, payload: Buffer.from('x') });
    const refused: RawPacket[] = [
      ...fragmentIpv4(bigUdp, 1480).map((f) => rawPacket(ethernetFrame(0x0800, f))),
      rawPacket(ethernetIpUdp({ src: '192.168.0.1', dst: '192.168.0.2', sport: 50000, dport: 4789, payload: vxlanPayload(7, inner) })),
      rawPacket(ethernetIpUdp({ src: '192.168.0.1', dst: '192.168.0.2', sport: 50000, dport: 8472, payload: vxlanPayload(7, inner) })),
      rawPacket(ethernetIpUdp({ src: '192.168.0.1', dst: '192.168.0.2', sport: 50000, dport: 6081, payload: genevePayload(7, inner) })),
      rawPacket(ethernetFrame(0x86dd, ipv6Packet({ src: 'fd00::1', dst: 'fd00::2', nextHeader: 0, payload: Buffer.concat([ipv6ExtHeader(17), udp6]) }))),
      rawPacket(ethernetFrame(0x0800, ipPacket('10.0.0.1', '10.0.0.2', 1, Buffer.alloc(8)))),
      rawPacket(ethernetFrame(0x0806, Buffer.alloc(28))),
      rawPacket(Buffer.alloc(10)),
      rawPacket(inner.subarray(0, 14 + 20 + 2)),
      rawPacket(inner, 999),
    ];
    for (const p of refused) assert.equal(hashAt(p), -1, p.data.subarray(0, 40).toString('hex'));
    // What the decoder makes of the tunnels is the inner flow, which the outer headers do not tell.
    const d = createDecoder().decode(refused.at(-7)!);
    assert.deepEqual(d && five(d), ['10.244.1.5', '10.244.2.7', 33000, 80, 6]);
  });

  test('on every corpus capture, a hash read from the headers is the decoded flow\'s', async () => {
    const files = corpusCaptures();
    let totals = { peeked: 0, decoded: 0, total: 0, files: 0 };
    for (const f of files) {
      const packets: RawPacket[] = [];
      try {
        await readCaptureFile(f, (p) => packets.push({ ...p, data: Buffer.from(p.data) }));
      } catch {
        // Damaged files: the packets before the damage still count.
      }
      const r = checkAgainstDecoder(packets);
      totals = { peeked: totals.peeked + r.peeked, decoded: totals.decoded + r.decoded, total: totals.total + r.total, files: totals.files + 1 };
    }
    assert.ok(totals.files > 800, `${totals.files} files`);
    // Most packets with a flow take the fast path; the rest (tunnels, fragments, odd links) the decoder's.
    assert.ok(totals.peeked > totals.decoded * 0.8, JSON.stringify(totals));
  });
});

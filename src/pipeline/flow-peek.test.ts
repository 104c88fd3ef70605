import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LinkType, type RawPacket } from '../capture/types.js';
import { readCaptureFile } from '../capture/index.js';
import { createDecoder } from '../decode/index.js';
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
} from '../decode/test-packets.js';
import { corpusDir } from '../../test/support/paths.js';
import { emptyPeekedFlow, peekFlow } from './flow-peek.js';

const five = (f: { srcIp: string; dstIp: string; srcPort: number; dstPort: number; ipProto: number }) => [f.srcIp, f.dstIp, f.srcPort, f.dstPort, f.ipProto];

/** Feeds packets in order to a decoder and to peekFlow; every peeked flow must be the decoder's (or the decoder finds none). */
function checkAgainstDecoder(packets: Iterable<RawPacket>): { peeked: number; decoded: number; total: number } {
  const decoder = createDecoder();
  const flow = emptyPeekedFlow();
  let peeked = 0;
  let decoded = 0;
  let total = 0;
  for (const p of packets) {
    total++;
    const hit = peekFlow(p, flow);
    const d = decoder.decode(p);
    if (d !== null) decoded++;
    if (!hit) continue;
    peeked++;
    if (d !== null) assert.deepEqual(five(flow), five(d), `packet ${total}`);
  }
  return { peeked, decoded, total };
}

describe('peekFlow', () => {
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
      const flow = emptyPeekedFlow();
      assert.ok(peekFlow(p, flow));
      assert.deepEqual(five(flow), want);
    }
    assert.equal(checkAgainstDecoder(cases.map(([p]) => p)).decoded, cases.length);
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
    for (const p of refused) assert.equal(peekFlow(p, emptyPeekedFlow()), false, p.data.subarray(0, 40).toString('hex'));
    // What the decoder makes of the tunnels is the inner flow, which the outer headers do not tell.
    const d = createDecoder().decode(refused.at(-7)!);
    assert.deepEqual(d && five(d), ['10.244.1.5', '10.244.2.7', 33000, 80, 6]);
  });

  test('on every corpus capture, a peeked flow is the decoder\'s flow for that packet', async () => {
    const files = readdirSync(corpusDir).filter((f) => /\.pcap(ng)?$/.test(f));
    let totals = { peeked: 0, decoded: 0, total: 0, files: 0 };
    for (const f of files) {
      const packets: RawPacket[] = [];
      try {
        await readCaptureFile(join(corpusDir, f), (p) => packets.push({ ...p, data: Buffer.from(p.data) }));
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

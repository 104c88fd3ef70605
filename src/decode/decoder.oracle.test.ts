import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readCaptureFile } from '../capture/index.js';
import { corpusDir } from '../../test/support/paths.js';
import { tsharkMissing } from '../../test/support/tshark.js';
import { createDecoder } from './decoder.js';
import { compareWithTshark } from './test-oracle.js';

const noTshark = tsharkMissing() ?? false;

/**
 * Corpus files holding what the decoder follows (VLAN, QinQ, SLL, NULL, PPP, MPLS, raw
 * IP, IPv6 extension headers, IPv4 fragments, VXLAN on 4789 and 8472, Geneve, GSO and
 * BIG TCP lengths), with how many packets both tshark and the decoder take to TCP/UDP and
 * how many of those went through each feature. Every field of every such packet must agree.
 * (Files whose frames tshark cannot decode, such as BIG TCP inside tunnels, are checked
 * by hand below.)
 */
const CASES: [string, { compared: number; tunneled: number; vlanTagged: number; ipv6: number; reassembled: number }][] = [
  ['afs.pcap', { compared: 427, tunneled: 0, vlanTagged: 0, ipv6: 0, reassembled: 51 }],
  ['geneve.pcap', { compared: 33, tunneled: 33, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['geneve-gcp.pcap', { compared: 1, tunneled: 1, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['gso-ipv4-vxlan-ipv4.pcap', { compared: 1, tunneled: 1, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['gso-ipv4-vxlan-ipv6.pcap', { compared: 1, tunneled: 1, vlanTagged: 0, ipv6: 1, reassembled: 0 }],
  ['gso-ipv6-geneve-ipv4.pcap', { compared: 1, tunneled: 1, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['gso-ipv6-geneve-ipv6.pcap', { compared: 1, tunneled: 1, vlanTagged: 0, ipv6: 1, reassembled: 0 }],
  ['gso-ipv4-geneve-ipv6.pcap', { compared: 1, tunneled: 1, vlanTagged: 0, ipv6: 1, reassembled: 0 }],
  ['gso-ipv6-vxlan-ipv4.pcap', { compared: 1, tunneled: 1, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['ipv4_tcp_http_xml.pcap', { compared: 1, tunneled: 0, vlanTagged: 1, ipv6: 0, reassembled: 0 }],
  ['ipv4_tcp_http_xml_tso.pcap', { compared: 1, tunneled: 0, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['bigtcp-ipv4.pcap', { compared: 1, tunneled: 0, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['bigtcp-ipv6-hbh.pcap', { compared: 1, tunneled: 0, vlanTagged: 0, ipv6: 1, reassembled: 0 }],
  ['ipv6-routing-header.pcap', { compared: 2, tunneled: 0, vlanTagged: 0, ipv6: 2, reassembled: 0 }],
  ['ipv6-srh-insert-cksum.pcap', { compared: 1, tunneled: 0, vlanTagged: 0, ipv6: 1, reassembled: 0 }],
  ['babel.pcap', { compared: 24, tunneled: 0, vlanTagged: 0, ipv6: 24, reassembled: 0 }],
  ['mptcp-v1.pcap', { compared: 20, tunneled: 0, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['resp_1_benchmark.pcap', { compared: 150, tunneled: 0, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['quic_handshake.pcap', { compared: 18, tunneled: 0, vlanTagged: 0, ipv6: 18, reassembled: 0 }],
  ['ikev2four.pcap', { compared: 21, tunneled: 0, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['lspping-fec-ldp.pcap', { compared: 13, tunneled: 0, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['mpls-traceroute.pcap', { compared: 9, tunneled: 0, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['LINKTYPE_IPV4.pcap', { compared: 1, tunneled: 0, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['LINKTYPE_IPV6.pcap', { compared: 1, tunneled: 0, vlanTagged: 0, ipv6: 1, reassembled: 0 }],
  ['LINKTYPE_RAW_ipv4.pcap', { compared: 1, tunneled: 0, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['LINKTYPE_RAW_ipv6.pcap', { compared: 1, tunneled: 0, vlanTagged: 0, ipv6: 1, reassembled: 0 }],
  ['ntp-control.pcap', { compared: 21, tunneled: 0, vlanTagged: 0, ipv6: 21, reassembled: 0 }],
  ['of13_ericsson.pcapng', { compared: 174, tunneled: 0, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['isakmp4500.pcap', { compared: 27, tunneled: 0, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['bgp-evpn.pcap', { compared: 1, tunneled: 0, vlanTagged: 1, ipv6: 0, reassembled: 0 }],
  ['dns_tcp.pcap', { compared: 11, tunneled: 0, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['vxlan.pcap', { compared: 0, tunneled: 0, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['vxlan_port_8472.pcap', { compared: 0, tunneled: 0, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
  ['802.1ad_QinQ.pcap', { compared: 0, tunneled: 0, vlanTagged: 0, ipv6: 0, reassembled: 0 }],
];

describe('decoder against tshark on the tcpdump corpus', { skip: noTshark }, () => {
  for (const [file, want] of CASES) {
    test(file, async () => {
      const r = await compareWithTshark(join(corpusDir, file));
      assert.deepEqual(r.mismatches, []);
      assert.deepEqual(
        { compared: r.compared, tunneled: r.tunneled, vlanTagged: r.vlanTagged, ipv6: r.ipv6, reassembled: r.stats.reassembled },
        want,
      );
    });
  }
});

describe('BIG TCP inside tunnels (neither tshark nor tcpdump decodes past the zero lengths)', () => {
  /*
   * bigtcp-ipv4-vxlan-ipv4.pcap, frame 1 (80,000 bytes of TCP payload), read by hand:
   * 0000  b8 ce f6 04 8b 14 d4 af f7 da e1 73 08 00 45 00   outer Ethernet, IPv4
   * 0010  00 00 6f 29 00 00 3d 11 f2 79 0a 19 84 0b 0a 19   total length 0 (BIG TCP), UDP
   * 0020  84 0d b7 c4 12 b5 00 00 55 2f 08 00 00 00 00 13   UDP 46020 > 4789 length 0; VXLAN I flag
   * 0030  89 00 fe 36 a5 67 e0 ac 76 bd 91 4a 21 f9 08 00   VNI 0x001389 = 5001; inner Ethernet
   * 0040  45 00 00 00 7b 2c 40 00 40 06 3c 78 c0 a8 01 02   inner IPv4, total length 0, TCP, 192.168.1.2
   * 0050  c0 a8 01 01 90 0b 8e 61 1d a2 d4 2e 3c 14 a6 5c   > 192.168.1.1, 36875 > 36449, seq 0x1da2d42e
   * 0060  80 18 01 72 bb fb 00 00 01 01 08 0a d8 10 90 d4   data offset 8, PSH|ACK
   */
  test('bigtcp-ipv4-vxlan-ipv4.pcap: the inner TCP segment', async () => {
    const file = join(corpusDir, 'bigtcp-ipv4-vxlan-ipv4.pcap');
    const decoder = createDecoder();
    const seen: unknown[] = [];
    await readCaptureFile(file, (pkt) => {
      const o = decoder.decode(pkt);
      seen.push(o && { src: o.srcIp, dst: o.dstIp, sport: o.srcPort, dport: o.dstPort, seq: o.seq, flags: o.tcpFlags, len: o.payload.length, first: o.payload.subarray(0, 8).toString('latin1'), tunnel: o.tunnel, vni: o.tunnelId, issues: [...o.issues] });
    });
    const raw = readFileSync(file);
    assert.equal(raw.readUInt32LE(24 + 8), 80116); // the record's captured length
    assert.deepEqual(seen, [
      {
        src: '192.168.1.2',
        dst: '192.168.1.1',
        sport: 36875,
        dport: 36449,
        seq: 0x1da2d42e,
        flags: 0x18,
        len: 80116 - 50 - 20 - 32 - 14,
        first: 'netperf\0'.slice(0, 8),
        tunnel: 'vxlan',
        vni: 5001,
        issues: ['ipv4.zero_total_length', 'udp.zero_length', 'ipv4.zero_total_length'],
      },
    ]);
  });
});

test('every file of the corpus decodes without a throw, and every packet gets exactly one outcome', async () => {
  const thrown: string[] = [];
  let packets = 0;
  const decoder = createDecoder();
  for (const name of readdirSync(corpusDir)) {
    await readCaptureFile(join(corpusDir, name), (pkt) => {
      packets++;
      try {
        decoder.decode(pkt);
      } catch (err) {
        thrown.push(`${name}: ${String(err)}`);
      }
    }).catch(() => undefined); // the reader's own verdict on damaged files is not under test here
  }
  assert.deepEqual(thrown, []);
  const s = decoder.stats;
  assert.equal(s.packets, packets);
  assert.equal(s.decoded + s.nonIp + s.otherTransport + s.fragments + s.malformed + s.truncated + s.unsupportedLink, packets);
  assert.ok(s.decoded > 3000 && s.tunneled > 40 && s.reassembled > 50, JSON.stringify(s));
});

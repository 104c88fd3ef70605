import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { corpusDir } from '../../test/support/paths.js';
import { TcpFlag, type DecodedPacket } from '../decode/index.js';
import { directionOf, reassembleFile, sameEndpoints, tsharkFollow, tsharkTcpStreamCount, type OurStream } from './follow-oracle.js';
import { prng } from '../common/prng.js';

/**
 * Real captures: the bytes (and holes) we deliver per direction must equal what
 * `tshark -qz follow,tcp,raw,N` prints for every TCP stream of the file. tshark never
 * times a connection out, so neither do we here.
 */
const noTimeout = { tcpIdleTimeoutSec: 1e9 };

interface FileCase {
  file: string;
  /** Streams left out, by `ip:port ip:port` as tshark prints its nodes, each with the reason. */
  skip?: Record<string, string>;
  /** Expected close reasons of our streams, in stream-id order. */
  closes?: string[];
  gapBytes?: number;
}

const files: FileCase[] = [
  { file: 'resp_1_benchmark.pcap', closes: Array(15).fill('fin'), gapBytes: 0 },
  { file: 'resp_3_malicious.pcap', closes: Array(17).fill('fin'), gapBytes: 0 },
  { file: 'ssh.pcap', closes: ['fin'], gapBytes: 0 },
  { file: 'mptcp-v0.pcap', closes: ['rst', 'fin'], gapBytes: 0 },
  { file: 'bgp-4byte-asn.pcap', closes: ['end', 'rst', 'rst', 'end', 'end', 'fin'], gapBytes: 0 },
  { file: 'dns_tcp.pcap', closes: ['fin'], gapBytes: 0 },
  // One 80 000-byte segment (BIG TCP), picked up mid-stream.
  { file: 'bigtcp-ipv4.pcap', closes: ['end'], gapBytes: 0 },
  // Inside Geneve, with a different VNI each way: still one connection.
  { file: 'geneve.pcap', closes: ['end'], gapBytes: 0 },
  // Excerpts of long OpenFlow sessions: mid-stream pickups and holes, which tshark marks
  // `[N bytes missing in capture file]` where we call onGap(N).
  {
    file: 'of13_ericsson.pcapng',
    gapBytes: 13164,
    skip: {
      '127.0.0.1:6633 127.0.0.1:58449':
        "tshark's follow tap also fires on the TCP headers of packets carried inside OpenFlow messages and loses frames 65 and 68",
    },
  },
];

function compare(file: string, ours: OurStream[], skip: Record<string, string> = {}): number {
  const count = tsharkTcpStreamCount(file);
  const theirs = tsharkFollow(file, Array.from({ length: count }, (_, i) => i));
  assert.equal(theirs.length, count);
  const matched = new Set<OurStream>();
  let compared = 0;
  for (const t of theirs) {
    if (skip[t.nodes.join(' ')]) continue;
    const o = ours.find((s) => !matched.has(s) && sameEndpoints(s.conn, t.nodes));
    if (!o) {
      // A stream we never open: nothing but ACK/FIN/RST of a connection begun before the capture.
      assert.deepEqual(t.sent, ['', ''], `tshark stream ${t.nodes.join(' ')} has bytes we never saw`);
      continue;
    }
    matched.add(o);
    const d0 = directionOf(o.conn, t.nodes[0]);
    assert.equal(o.sent[d0].toString(), t.sent[0], `${t.nodes[0]} → ${t.nodes[1]}`);
    assert.equal(o.sent[d0 ^ 1].toString(), t.sent[1], `${t.nodes[1]} → ${t.nodes[0]}`);
    compared++;
  }
  assert.equal(matched.size + Object.keys(skip).length, ours.length, 'every stream we open is one tshark follows');
  return compared;
}

describe('TCP reassembly against tshark follow,tcp,raw on real captures', () => {
  for (const c of files) {
    test(c.file, async () => {
      const file = join(corpusDir, c.file);
      const r = await reassembleFile(file, noTimeout);
      const compared = compare(file, r.streams, c.skip);
      assert.ok(compared > 0);
      if (c.closes) assert.deepEqual(r.streams.map((s) => s.close), c.closes);
      if (c.gapBytes !== undefined) assert.equal(r.stats.gapBytes, c.gapBytes);
      assert.equal(r.stats.heldBytes, 0);
    });
  }
});

/**
 * Swaps neighbouring data segments (no SYN, FIN or RST: those would end or restart the
 * connection early) and sends some twice; the delivered bytes must not change.
 */
function perturb(seed: number) {
  return (packets: DecodedPacket[]): DecodedPacket[] => {
    const rnd = prng(seed);
    const out = packets.slice();
    const plain = (p: DecodedPacket) => p.payload.length > 0 && (p.tcpFlags & (TcpFlag.SYN | TcpFlag.FIN | TcpFlag.RST)) === 0;
    for (let i = 0; i + 1 < out.length; i++) {
      if (plain(out[i]) && plain(out[i + 1]) && rnd() < 0.4) [out[i], out[i + 1]] = [out[i + 1], out[i]];
    }
    const withDuplicates: DecodedPacket[] = [];
    for (const p of out) {
      withDuplicates.push(p);
      if (plain(p) && rnd() < 0.2) withDuplicates.push(p);
    }
    return withDuplicates;
  };
}

describe('real captures, reordered and duplicated, still give tshark’s bytes', () => {
  for (const name of ['resp_1_benchmark.pcap', 'ssh.pcap', 'mptcp-v0.pcap', 'of13_ericsson.pcapng']) {
    test(name, async () => {
      const file = join(corpusDir, name);
      const r = await reassembleFile(file, noTimeout, perturb(7));
      const skip = files.find((f) => f.file === name)?.skip;
      assert.ok(compare(file, r.streams, skip) > 0);
      assert.ok((r.issues['tcp.retransmission'] ?? 0) > 0, 'the duplicates were seen');
      assert.equal(r.stats.heldBytes, 0);
    });
  }
});

test('RST payload is not stream data (tshark follow shows it; RFC 1122 4.2.2.12 calls it diagnostic)', async () => {
  const file = join(corpusDir, 'tcp_rst_data.pcap');
  const r = await reassembleFile(file, noTimeout);
  const [t] = tsharkFollow(file, [0]);
  assert.equal(t.sent[0].length / 2, 58); // hex
  assert.deepEqual(r.streams, []);
  assert.deepEqual(r.issues, { 'tcp.rst_payload': 1 });
});

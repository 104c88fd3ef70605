/**
 * The parallel pipeline against the serial one on real captures: every way of handing
 * packets out (raw frames the workers decode, or packets decoded by the handing-out
 * thread) and every number of threads gives the same entries. Two of the inputs take the
 * handing-out thread's own decoder for every packet: the DNS capture with each IPv4
 * datagram cut into fragments, and the HTTP capture carried inside VXLAN.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readCaptureFile } from '../capture/index.js';
import { LinkType, type RawPacket } from '../capture/types.js';
import { ethernetFrame, ethernetIpUdp, fragmentIpv4, rawPacket, vxlanPayload } from '../decode/test-packets.js';
import type { Entry } from '../entries/index.js';
import { repoRoot } from '../../test/support/paths.js';
import { siblingModule } from '../common/worker.js';
import { createParallelPipeline, createPipeline } from './index.js';

async function packetsOf(file: string): Promise<RawPacket[]> {
  const out: RawPacket[] = [];
  await readCaptureFile(file, (p) => out.push({ ...p, data: Buffer.from(p.data) }));
  return out;
}

const ETHERTYPE_IPV4 = 0x0800;

/** Every IPv4 datagram of an Ethernet frame cut into fragments of 24 payload bytes. */
function fragmented(packets: RawPacket[]): RawPacket[] {
  return packets.flatMap((p) => {
    if (p.linkType !== LinkType.ETHERNET || p.data.readUInt16BE(12) !== ETHERTYPE_IPV4) return [p];
    return fragmentIpv4(p.data.subarray(14), 24).map((f) => rawPacket(ethernetFrame(ETHERTYPE_IPV4, f), LinkType.ETHERNET, { tsSec: p.tsSec, tsNsec: p.tsNsec }));
  });
}

/** Every frame inside VXLAN (VNI 42) between two other hosts. */
function tunnelled(packets: RawPacket[]): RawPacket[] {
  return packets.map((p, i) =>
    rawPacket(ethernetIpUdp({ src: '192.0.2.1', dst: '192.0.2.2', sport: 40_000 + (i % 7), dport: 4789, payload: vxlanPayload(42, p.data) }), LinkType.ETHERNET, {
      tsSec: p.tsSec,
      tsNsec: p.tsNsec,
    }),
  );
}

/** An entry as any thread makes it (stream ids are numbered per thread). */
const keyOf = (e: Entry): string => JSON.stringify({ ...e, id: undefined, stream: undefined });

function serial(packets: RawPacket[]): string[] {
  const out: Entry[] = [];
  const p = createPipeline({ nodeName: 't', onEntry: (e) => out.push(e) });
  for (const packet of packets) p.push(packet);
  p.finish();
  return out.map(keyOf).sort();
}

async function parallel(packets: RawPacket[], workers: number, rawDispatch: boolean): Promise<{ keys: string[]; entries: number; packets: number }> {
  const out: Entry[] = [];
  const p = createParallelPipeline({
    workers,
    rawDispatch,
    workerUrl: siblingModule(import.meta.url, 'test-worker'),
    settings: { nodeName: 't' },
    sinkData: null,
    batchBytes: 4096, // many batches even for a small capture
    onSinkMessage: (m) => out.push(...(m as Entry[])),
  });
  for (const packet of packets) {
    p.push(packet);
    await p.drained();
  }
  const summary = await p.finish();
  return { keys: out.map(keyOf).sort(), entries: summary.entries, packets: summary.packets };
}

describe('parallel dissection gives the entries of the serial pipeline', async () => {
  const http = await packetsOf(join(repoRoot, 'src/protocols/http/fixtures/nginx.pcap'));
  const dns = await packetsOf(join(repoRoot, 'src/protocols/dns/fixtures/dns-dnsmasq.pcap'));
  const inputs: [string, RawPacket[]][] = [
    ['HTTP (nginx.pcap)', http],
    ['DNS (dns-dnsmasq.pcap)', dns],
    ['DNS, every IPv4 datagram in fragments', fragmented(dns)],
    ['HTTP inside VXLAN', tunnelled(http)],
  ];
  for (const [name, packets] of inputs) {
    test(name, async () => {
      const want = serial(packets);
      assert.ok(want.length >= 5, `${want.length} entries`);
      for (const workers of [1, 2, 3]) {
        for (const rawDispatch of [true, false]) {
          const got = await parallel(packets, workers, rawDispatch);
          const how = `${workers} workers, ${rawDispatch ? 'raw frames' : 'decoded packets'}`;
          assert.equal(got.packets, packets.length, how);
          assert.equal(got.entries, want.length, how);
          assert.deepEqual(got.keys, want, how);
        }
      }
    });
  }
});

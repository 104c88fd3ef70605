/**
 * The parallel pipeline against the serial one on real captures: every way of handing
 * packets out (raw frames the workers decode, or packets decoded by the handing-out
 * thread, or the live capture's batches of pcap records) and every number of threads gives
 * the same entries. Two of the inputs take the
 * handing-out thread's own decoder for every packet: the DNS capture with each IPv4
 * datagram cut into fragments, and the HTTP capture carried inside VXLAN.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readCaptureFile } from '../capture/index.js';
import { LinkType, type RawPacket } from '../capture/types.js';
import { ethernetFrame, ethernetIpUdp, fragmentIpv4, rawPacket, vxlanPayload } from '../decode/test-packets.js';
import { query, response } from '../protocols/dns/testing.js';
import type { Entry } from '../entries/index.js';
import { repoRoot } from '../../test/support/paths.js';
import { siblingModule } from '../common/worker.js';
import { recordBatch } from '../pcap/test-support.js';
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

type HandOut = 'raw frames' | 'decoded packets' | 'record batches';

async function parallel(packets: RawPacket[], workers: number, how: HandOut): Promise<{ keys: string[]; entries: number; packets: number; issues: Record<string, number> }> {
  const out: Entry[] = [];
  const p = createParallelPipeline({
    workers,
    rawDispatch: how !== 'decoded packets',
    workerUrl: siblingModule(import.meta.url, 'test-worker'),
    settings: { nodeName: 't' },
    sinkData: null,
    batchBytes: 4096, // many batches even for a small capture
    onSinkMessage: (m) => out.push(...(m as Entry[])),
  });
  if (how === 'record batches') {
    // As the live capture delivers them: bare pcap records, several packets a batch.
    for (let i = 0; i < packets.length; i += 9) {
      p.pushRecords(recordBatch(packets.slice(i, i + 9)), packets[i]!.linkType, true, 0);
      await p.drained();
    }
  } else {
    for (const packet of packets) {
      p.push(packet);
      await p.drained();
    }
  }
  const summary = await p.finish();
  return { keys: out.map(keyOf).sort(), entries: summary.entries, packets: summary.packets, issues: summary.issues };
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
        for (const handOut of ['raw frames', 'decoded packets', 'record batches'] as const) {
          const got = await parallel(packets, workers, handOut);
          const how = `${workers} workers, ${handOut}`;
          assert.equal(got.packets, packets.length, how);
          assert.equal(got.entries, want.length, how);
          assert.deepEqual(got.keys, want, how);
        }
      }
    });
  }
});

describe('record batches', () => {
  test('with one worker a batch is transferred as it is (the caller loses it); with two its packets are copied out', async () => {
    const dns = await packetsOf(join(repoRoot, 'src/protocols/dns/fixtures/dns-dnsmasq.pcap'));
    for (const workers of [1, 2]) {
      const p = createParallelPipeline({ workers, workerUrl: siblingModule(import.meta.url, 'test-worker'), settings: { nodeName: 't' }, sinkData: null });
      const batch = recordBatch(dns);
      const length = batch.length;
      assert.equal(p.pushRecords(batch, dns[0]!.linkType, true, 0), workers === 1, `${workers} workers`);
      assert.equal(batch.length, workers === 1 ? 0 : length, 'detached only when transferred');
      assert.equal((await p.finish()).packets, dns.length);
    }
  });

  test('a batch at the start of a bigger buffer goes whole only when told, and comes back once dissected to carry the next ones', async () => {
    const http = await packetsOf(join(repoRoot, 'src/protocols/http/fixtures/nginx.pcap'));
    const want = serial(http);
    const back: ArrayBuffer[] = [];
    const out: Entry[] = [];
    const p = createParallelPipeline({
      workers: 1,
      workerUrl: siblingModule(import.meta.url, 'test-worker'),
      settings: { nodeName: 't' },
      sinkData: null,
      onSinkMessage: (m) => out.push(...(m as Entry[])),
      onBatchBack: (b) => back.push(b),
    });
    const batches: Buffer[] = [];
    for (let i = 0; i < http.length; i += 5) batches.push(recordBatch(http.slice(i, i + 5)));
    const size = Math.max(...batches.map((b) => b.length)) + 4096;
    try {
      // Without `whole`, a batch shorter than its buffer is copied: the caller keeps it.
      const spare = new ArrayBuffer(size);
      const copied = Buffer.from(spare, 0, batches[0]!.length);
      batches[0]!.copy(copied);
      assert.equal(p.pushRecords(copied, http[0]!.linkType, true, 0), false);
      assert.equal(spare.byteLength, size, 'not transferred');
      // With it, the one buffer goes, comes back, and is filled again for every later batch.
      let buffer: ArrayBuffer = spare;
      for (const records of batches.slice(1)) {
        const batch = Buffer.from(buffer, 0, records.length);
        records.copy(batch);
        assert.equal(p.pushRecords(batch, http[0]!.linkType, true, 0, true), true);
        assert.equal(buffer.byteLength, 0, 'transferred whole');
        const deadline = Date.now() + 10_000;
        while (back.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1));
        assert.equal(back.length, 1, 'the batch came back');
        buffer = back.pop()!;
        assert.equal(buffer.byteLength, size, 'the same buffer came back');
      }
    } finally {
      await p.finish();
    }
    assert.deepEqual(out.map(keyOf).sort(), want);
  });

  test('a record cut short at the end of a batch is counted and left out; the rest is dissected (1 and 2 workers)', async () => {
    const dns = await packetsOf(join(repoRoot, 'src/protocols/dns/fixtures/dns-dnsmasq.pcap'));
    const want = serial(dns);
    for (const workers of [1, 2]) {
      const out: Entry[] = [];
      const p = createParallelPipeline({ workers, workerUrl: siblingModule(import.meta.url, 'test-worker'), settings: { nodeName: 't' }, sinkData: null, onSinkMessage: (m) => out.push(...(m as Entry[])) });
      const whole = recordBatch(dns);
      // Every packet, then the first 30 bytes of the first one again: a header and part of a frame.
      p.pushRecords(Buffer.concat([whole, whole.subarray(0, 30)]), dns[0]!.linkType, true, 0);
      // Too short for even a header.
      p.pushRecords(whole.subarray(0, 9), dns[0]!.linkType, true, 0);
      const summary = await p.finish();
      assert.equal(summary.packets, dns.length, `${workers} workers`);
      assert.equal(summary.issues['capture.batch_cut'], 2, `${workers} workers`);
      assert.deepEqual(out.map(keyOf).sort(), want, `${workers} workers`);
    }
  });
});

describe('time passes without packets (advance): the live tap\'s clock', () => {
  const T = 1_700_000_000;
  const dns = (port: number, payload: Buffer, fromServer = false) =>
    rawPacket(
      ethernetIpUdp(fromServer ? { src: '10.0.0.53', dst: '10.0.0.1', sport: 53, dport: port, payload } : { src: '10.0.0.1', dst: '10.0.0.53', sport: port, dport: 53, payload }),
      LinkType.ETHERNET,
      { tsSec: T },
    );
  const nameOf = (e: Entry) => (e.request as { questions: { name: string }[] }).questions[0]!.name;

  test('an unanswered DNS query is its pair-not-found entry once the clock passes the pair time-out, with no later packet (serial, 1 and 2 threads)', async () => {
    for (const workers of [0, 1, 2]) {
      const how = workers === 0 ? 'serial' : `${workers} threads`;
      const out: Entry[] = [];
      const lost = dns(40001, query(1, 'lost.test', 1));
      const late = { ...dns(40002, query(2, 'late.test', 1)), tsSec: T + 4 };
      let push: (p: RawPacket) => void;
      let flush = () => {};
      let advance: (sec: number) => void;
      let finish: () => Promise<unknown>;
      if (workers === 0) {
        const p = createPipeline({ nodeName: 't', onEntry: (e) => out.push(e) });
        ({ push } = p);
        advance = (sec) => p.advance(sec, 0);
        finish = async () => p.finish();
      } else {
        const p = createParallelPipeline({ workers, workerUrl: siblingModule(import.meta.url, 'test-worker'), settings: { nodeName: 't' }, sinkData: null, onSinkMessage: (m) => out.push(...(m as Entry[])) });
        push = (packet) => p.push(packet);
        flush = () => p.flushPartial();
        advance = (sec) => p.advance(sec, 0);
        finish = () => p.finish();
      }
      // Every thread has done what it was given before once an answered query sent after it
      // (on a flow of each thread, at an old time that starts no sweep of its own) is an entry.
      let syncs = 0;
      const settled = async () => {
        const names: string[] = [];
        for (let port = 41000; port < 41008; port++) {
          const name = `sync${++syncs}.test`;
          names.push(name);
          push(dns(port + syncs * 10, query(syncs, name, 1)));
          push(dns(port + syncs * 10, response(syncs, name, 1), true));
        }
        flush();
        for (let i = 0; i < 500 && !names.every((n) => out.some((e) => nameOf(e) === n)); i++) await new Promise((r) => setTimeout(r, 10));
        assert.ok(names.every((n) => out.some((e) => nameOf(e) === n)), `${how}: the threads answer`);
      };
      const given = () => out.map(nameOf).filter((n) => !n.startsWith('sync'));
      let finished = false;
      try {
        push(lost);
        push(late);
        advance(T + 10);
        await settled();
        assert.deepEqual(given(), [], `${how}: 10 s is not more than the time-out`);
        advance(T + 11);
        await settled();
        assert.deepEqual(given(), ['lost.test'], how);
        assert.deepEqual(out.find((e) => nameOf(e) === 'lost.test')!.error, { type: 'pair-not-found', msg: 'no response within 10s' }, how);
        advance(T + 9); // never back
        advance(T + 15);
        await settled();
        assert.deepEqual(given(), ['lost.test', 'late.test'], how);
        finished = true;
        await finish();
        assert.deepEqual(given(), ['lost.test', 'late.test'], `${how}: nothing twice at the end`);
      } finally {
        if (!finished) await finish(); // the threads would keep the test process alive
      }
    }
  });
});

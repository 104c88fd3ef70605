import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultEndpoints, emptyPacket, recordingTable, run, seg, toPacket, type Seg } from './test-support.js';
import { createFlowTable } from './flow-table.js';
import type { Direction } from './types.js';
import { prng } from '../common/prng.js';

describe('flow table', () => {
  test('stream ids are sequential, 12 digits, from firstStreamId', () => {
    const r = recordingTable({}, 41);
    const p = emptyPacket();
    r.table.add(toPacket(seg('c', 1, 'PA', 'a'), 0, { ...defaultEndpoints, clientPort: 40001 }, p));
    r.table.add(toPacket(seg('c', 1, 'PA', 'b'), 1, { ...defaultEndpoints, clientPort: 40002 }, p));
    assert.deepEqual(r.conns.map((c) => c.id), ['000000000041', '000000000042']);
  });

  test('the connection info is a copy of the first packet, roles from the SYN', () => {
    const r = recordingTable();
    const p = emptyPacket();
    const s = seg('s', 5000, 'SA', '', { ack: 1001, t: 1700000000.123456789, vlans: [7, 8] });
    r.table.add(toPacket(s, 0, { clientIp: '10.1.1.1', clientPort: 41000, serverIp: '10.9.9.9', serverPort: 8080 }, p));
    p.vlans.push(99); // the decoder reuses its arrays
    assert.deepEqual(r.conns[0], {
      id: '000000000001',
      transport: 'tcp',
      client: { ip: '10.1.1.1', port: 41000 },
      server: { ip: '10.9.9.9', port: 8080 },
      roleBy: 'syn',
      startSec: 1700000000,
      startNsec: p.tsNsec,
      vlans: [7, 8],
      tunnel: '',
      tunnelId: 0,
    });
    assert.ok(Math.abs(p.tsNsec - 123456789) < 1000);
  });

  test('in-order payload is passed through as the same view, held payload as a copy', () => {
    const r = recordingTable();
    const table = r.table;
    const p = emptyPacket();
    const segs: Seg[] = [seg('c', 7777, 'PA', 'abc'), seg('c', 7783, 'PA', 'ghi'), seg('c', 7780, 'PA', 'def')];
    const payloads: Buffer[] = [];
    segs.forEach((s, i) => {
      table.add(toPacket(s, i, defaultEndpoints, p));
      payloads.push(p.payload);
      if (i === 1) p.payload.write('XXX'); // the held segment must not see this
    });
    assert.equal(r.chunks.length, 3);
    assert.equal(r.chunks[0], payloads[0]); // same object: no copy, no new view
    assert.equal(r.chunks[1], payloads[2]);
    assert.equal(r.chunks[2].toString(), 'ghi');
  });

  test('stats: held bytes exact now and at peak, delivered bytes, gaps, closes', () => {
    const r = recordingTable({ closeLingerSec: 0 });
    const p = emptyPacket();
    const stats = r.table.stats;
    const feed = (s: Seg, i: number) => r.table.add(toPacket(s, i, defaultEndpoints, p));
    feed(seg('c', 100, 'PA', 'a'), 0);
    feed(seg('c', 105, 'PA', 'fghij'), 1); // held: 5
    feed(seg('c', 103, 'PA', 'de'), 2); // held: 7
    assert.equal(stats.heldBytes, 7);
    feed(seg('c', 102, 'PA', 'c'), 3); // hole at 101 still open
    assert.equal(stats.heldBytes, 8);
    feed(seg('c', 101, 'PA', 'b'), 4); // everything drains
    assert.equal(stats.heldBytes, 0);
    assert.equal(stats.heldBytesPeak, 8);
    feed(seg('c', 120, 'PA', 'xyz'), 5); // hole of 10 bytes (110..119)
    assert.equal(stats.heldBytes, 3);
    r.table.flush();
    assert.deepEqual(
      { ...stats },
      {
        packets: 6, flowsSeen: 1, tcpFlows: 1, udpFlows: 0, active: 0,
        closed: { fin: 0, rst: 0, timeout: 0, end: 1, evicted: 0 },
        bytesDelivered: 13, gaps: 1, gapBytes: 10, heldBytes: 0, heldBytesPeak: 8,
        limitHits: { tableFull: 0, oooSegments: 0, oooFlow: 0, oooGlobal: 0 },
      },
    );
  });

  test('idle notices: once per idle spell past idleNoticeSec, at the sweep, in order of idleness; advance() moves time without packets', () => {
    const r = recordingTable({ udpIdleTimeoutSec: 30, tcpIdleTimeoutSec: 120 }, undefined, 10);
    const p = emptyPacket();
    const at = (port: number, t: number, udp = true) =>
      r.table.add(toPacket(seg('c', 1, 'PA', 'x', { t, udp }), 0, { ...defaultEndpoints, clientPort: port, serverPort: 53 }, p));
    const since = (from: number) => r.events.slice(from).filter((e) => !e.endsWith(' x'));
    at(40001, 1000); // flow 1
    at(40002, 1001); // flow 2
    at(40003, 1005, false); // flow 3, TCP
    let n = r.events.length;
    at(40004, 1010.5); // a new second of packet time, so a sweep: flow 1 is idle 10.5 s, flow 2 only 9.5 s
    assert.deepEqual(since(n), ['1 idle 1010.5', '4 open c=40004 s=53 port']);
    n = r.events.length;
    at(40004, 1010.9); // the same second: no sweep
    at(40004, 1011.2); // flow 2 idle 10.2 s; flow 1 is not told again
    assert.deepEqual(since(n), ['2 idle 1011.2']);
    n = r.events.length;
    at(40001, 1013); // flow 1 is active again: a new spell
    r.table.advance(1016, 0); // no packet: flow 3 (TCP) idle 11 s
    assert.deepEqual(since(n), ['3 idle 1016']);
    n = r.events.length;
    r.table.advance(1015, 0); // time never runs back
    r.table.advance(1023, 500_000_000); // flow 4 idle 12.3 s, flow 1 idle 10.5 s
    assert.deepEqual(since(n), ['4 idle 1023.5', '1 idle 1023.5']);
    n = r.events.length;
    r.table.advance(1031, 500_000_000); // flow 2 idle 30.5 s: closed; nobody is told twice
    assert.deepEqual(since(n), ['2 close timeout']);
    n = r.events.length;
    at(40002, 1032); // the same 5-tuple starts a new flow
    r.table.advance(1043, 0); // flow 4 idle 31.8 s: closed; flow 5 idle 11 s
    assert.deepEqual(since(n), ['5 open c=40002 s=53 port', '4 close timeout', '5 idle 1043']);
    assert.equal(r.table.stats.active, 3);
  });

  test('without idleNoticeSec no flow is told', () => {
    const r = recordingTable();
    const p = emptyPacket();
    r.table.add(toPacket(seg('c', 1, 'PA', 'x', { t: 1000, udp: true }), 0, defaultEndpoints, p));
    r.table.advance(1020, 0);
    r.table.advance(1040, 0);
    assert.deepEqual(r.events, ['1 open c=40000 s=80 port', '1 c x', '1 close timeout']);
  });

  test('packets other than TCP and UDP are ignored', () => {
    const r = recordingTable();
    const p = toPacket(seg('c', 1, 'PA', 'x'), 0, defaultEndpoints, emptyPacket());
    p.ipProto = 1;
    r.table.add(p);
    p.ipProto = 6;
    p.ipVersion = 0;
    r.table.add(p);
    assert.deepEqual(r.events, []);
    assert.equal(r.table.stats.packets, 0);
  });

  test('packet time that runs backwards does not expire or reorder flows', () => {
    const r = run(
      [seg('c', 1, 'PA', 'a', { t: 500 }), seg('c', 2, 'PA', 'b', { t: 100 }), seg('c', 3, 'PA', 'c', { t: 615 })],
      { tcpIdleTimeoutSec: 120 },
    );
    assert.deepEqual(r.events, ['1 open c=40000 s=80 port', '1 c a', '1 c b', '1 c c', '1 close end']);
  });

  test('many flows expire in one sweep, in order of idleness', () => {
    const segs: Seg[] = [];
    for (let i = 0; i < 50; i++) segs.push(seg('c', 1, 'PA', 'x', { t: 100 + i * 0.01, ep: { ...defaultEndpoints, clientPort: 41000 + i } }));
    segs.push(seg('c', 1, 'PA', 'y', { t: 200, ep: { ...defaultEndpoints, clientPort: 50000 } }));
    const r = run(segs, { tcpIdleTimeoutSec: 60 });
    const closes = r.events.filter((e) => e.endsWith('close timeout')).map((e) => Number(e.split(' ')[0]));
    assert.deepEqual(closes, Array.from({ length: 50 }, (_, i) => i + 1));
    assert.equal(r.table.stats.closed.timeout, 50);
    assert.equal(r.table.stats.closed.end, 1);
  });
});

describe('TCP reassembly under random segmentation, reordering, duplication and loss', () => {
  for (let seed = 1; seed <= 40; seed++) {
    test(`seed ${seed}`, () => {
      const rnd = prng(seed);
      const len = 500 + Math.floor(rnd() * 3000);
      const stream = Buffer.alloc(len);
      for (let i = 0; i < len; i++) stream[i] = 32 + Math.floor(rnd() * 95);
      // ISNs near the wrap point half of the time.
      const isn = seed % 2 ? 0xffffffff - Math.floor(rnd() * 2000) : Math.floor(rnd() * 0xffffffff);
      const lossy = seed % 4 === 0;
      const segs: { seq: number; data: Buffer; lost: boolean }[] = [];
      for (let off = 0; off < len; ) {
        const n = Math.min(len - off, 1 + Math.floor(rnd() * 200));
        segs.push({ seq: (isn + 1 + off) >>> 0, data: stream.subarray(off, off + n), lost: lossy && off > 0 && rnd() < 0.1 });
        off += n;
      }
      // Arrival order: shuffled inside a sliding window, some sent twice, some re-cut to overlap.
      const arrivals: { seq: number; data: Buffer }[] = [];
      const pending = segs.filter((s) => !s.lost);
      while (pending.length > 0) {
        const k = Math.floor(rnd() * Math.min(pending.length, 6));
        const s = pending.splice(k, 1)[0];
        arrivals.push(s);
        if (rnd() < 0.15) arrivals.push({ seq: s.seq, data: Buffer.from(s.data) });
        if (rnd() < 0.1 && s.data.length > 2) {
          const cut = 1 + Math.floor(rnd() * (s.data.length - 1));
          arrivals.push({ seq: (s.seq + cut) >>> 0, data: s.data.subarray(cut) });
        }
      }

      const got: Buffer[] = [];
      const gaps: number[] = [];
      let closed = '';
      const table = createFlowTable({
        limits: { maxSegmentsPerDirection: 10_000 },
        createHandler: () => ({
          onData: (dir: Direction, data: Buffer) => {
            assert.equal(dir, 0);
            got.push(Buffer.from(data));
          },
          onGap: (_dir: Direction, n: number) => {
            gaps.push(n);
            got.push(Buffer.alloc(n, 0)); // zeros never occur in the stream
          },
          onClose: (reason: string) => {
            closed = reason;
          },
        }),
      });
      const p = emptyPacket();
      let i = 0;
      table.add(toPacket(seg('c', isn, 'S'), i++, defaultEndpoints, p));
      table.add(toPacket(seg('s', 7000, 'SA', '', { ack: isn + 1 }), i++, defaultEndpoints, p));
      for (const a of arrivals) {
        toPacket(seg('c', a.seq, 'PA'), i++, defaultEndpoints, p);
        p.payload = a.data;
        table.add(p);
      }
      table.add(toPacket(seg('c', isn + 1 + len, 'FA'), i++, defaultEndpoints, p));
      table.add(toPacket(seg('s', 7001, 'FA'), i++, defaultEndpoints, p));

      assert.equal(closed, 'fin');
      const out = Buffer.concat(got);
      assert.equal(out.length, len, 'delivered bytes + gap bytes cover the stream exactly once');
      const expected = Buffer.from(stream);
      let lostBytes = 0;
      let offset = 0;
      for (const s of segs) {
        if (s.lost) {
          expected.fill(0, offset, offset + s.data.length);
          lostBytes += s.data.length;
        }
        offset += s.data.length;
      }
      assert.ok(out.equals(expected), 'every byte in its place, holes exactly where segments were lost');
      assert.equal(gaps.reduce((a, b) => a + b, 0), lostBytes);
      if (!lossy) assert.equal(gaps.length, 0);
      assert.equal(table.stats.heldBytes, 0);
    });
  }
});

describe('flow key map', () => {
  test('entries are found by their ordered parts and their emptied Maps are removed', async () => {
    const { FlowKeyMap, packPorts } = await import('./flow-key.js');
    const m = new FlowKeyMap<string>();
    const a = { lo: '10.0.0.1', hi: '10.0.0.2', ports: packPorts(40000, 80) };
    const b = { lo: '10.0.0.1', hi: '10.0.0.2', ports: packPorts(40001, 80) };
    m.set(a, 'a');
    m.set(b, 'b');
    assert.equal(m.get('10.0.0.1', '10.0.0.2', packPorts(40000, 80)), 'a');
    assert.equal(m.get('10.0.0.1', '10.0.0.2', packPorts(80, 40000)), undefined);
    assert.equal(packPorts(65535, 65535), -1); // still a distinct int32 key
    m.delete(a);
    assert.equal(m.addressCount, 1);
    m.delete(b);
    assert.equal(m.addressCount, 0);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { run, seg, type Endpoints, type Seg } from './test-support.js';
import type { ReassemblyLimits } from './types.js';

/**
 * Each case: segments in arrival order → the events the handler sees, then the issue
 * counts. Events read `<stream> open c=<client port> s=<server port> <roleBy>`,
 * `<stream> c|s <data>`, `<stream> c|s gap <bytes>`, `<stream> close <reason>`; the table
 * is flushed after the last segment, so connections still open end with `close end`.
 * Client ISN 1000 (data from 1001), server ISN 5000 (data from 5001) unless a case says else.
 */
interface Case {
  name: string;
  segs: Seg[];
  events: string[];
  issues?: Record<string, number>;
  limits?: Partial<ReassemblyLimits>;
  ep?: Endpoints;
}

const handshake: Seg[] = [seg('c', 1000, 'S'), seg('s', 5000, 'SA', '', { ack: 1001 }), seg('c', 1001, 'A', '', { ack: 5001 })];
const OPEN = '1 open c=40000 s=80 syn';

const epA: Endpoints = { clientIp: '10.0.0.1', clientPort: 40001, serverIp: '10.0.0.2', serverPort: 80 };
const epB: Endpoints = { ...epA, clientPort: 40002 };
const epC: Endpoints = { ...epA, clientPort: 40003 };
const dns: Endpoints = { clientIp: '10.0.0.1', clientPort: 33000, serverIp: '10.0.0.53', serverPort: 53 };
const ephemeral: Endpoints = { clientIp: '10.0.0.1', clientPort: 50001, serverIp: '10.0.0.2', serverPort: 50000 };

const cases: Case[] = [
  {
    name: 'in order, closed by both FINs; the last ACK starts nothing',
    segs: [
      ...handshake,
      seg('c', 1001, 'PA', 'GET '),
      seg('c', 1005, 'PA', '/ HTTP'),
      seg('s', 5001, 'PA', 'HTTP/1.1 200'),
      seg('c', 1011, 'FA'),
      seg('s', 5013, 'FA'),
      seg('c', 1012, 'A'),
    ],
    events: [OPEN, '1 c GET ', '1 c / HTTP', '1 s HTTP/1.1 200', '1 close fin'],
  },
  {
    name: 'reversed order',
    segs: [...handshake, seg('c', 1009, 'PA', 'cccc'), seg('c', 1005, 'PA', 'bbbb'), seg('c', 1001, 'PA', 'aaaa'), seg('c', 1013, 'FA'), seg('s', 5001, 'FA')],
    events: [OPEN, '1 c aaaa', '1 c bbbb', '1 c cccc', '1 close fin'],
  },
  {
    name: 'duplicates are not delivered twice',
    segs: [...handshake, seg('c', 1001, 'PA', 'abc'), seg('c', 1001, 'PA', 'abc'), seg('c', 1004, 'PA', 'def'), seg('c', 1004, 'PA', 'def')],
    events: [OPEN, '1 c abc', '1 c def', '1 close end'],
    issues: { 'tcp.retransmission': 2 },
  },
  {
    name: 'a segment overlapping delivered data delivers only its new tail',
    segs: [...handshake, seg('c', 1001, 'PA', 'abc'), seg('c', 1002, 'PA', 'bcde')],
    events: [OPEN, '1 c abc', '1 c de', '1 close end'],
    issues: { 'tcp.retransmission': 1 },
  },
  {
    name: 'held segments overlapping with the same bytes',
    segs: [...handshake, seg('c', 1001, 'PA', 'abc'), seg('c', 1006, 'PA', 'fgh'), seg('c', 1005, 'PA', 'efg'), seg('c', 1004, 'PA', 'd')],
    events: [OPEN, '1 c abc', '1 c d', '1 c e', '1 c fgh', '1 close end'],
    issues: { 'tcp.retransmission': 1 },
  },
  {
    name: 'held segments overlapping with different bytes: the first received wins',
    segs: [...handshake, seg('c', 1001, 'PA', 'abc'), seg('c', 1006, 'PA', 'fgh'), seg('c', 1005, 'PA', 'eXY'), seg('c', 1004, 'PA', 'd')],
    events: [OPEN, '1 c abc', '1 c d', '1 c e', '1 c fgh', '1 close end'],
    issues: { 'tcp.overlap_conflict': 1 },
  },
  {
    name: 'a new segment spanning two held ones fills only the holes between them',
    segs: [...handshake, seg('c', 1003, 'PA', 'c'), seg('c', 1006, 'PA', 'f'), seg('c', 1002, 'PA', 'bXdeYg'), seg('c', 1001, 'PA', 'a')],
    events: [OPEN, '1 c a', '1 c b', '1 c c', '1 c de', '1 c f', '1 c g', '1 close end'],
    issues: { 'tcp.overlap_conflict': 1 },
  },
  {
    name: 'hole then FIN: the hole is a gap, then the held data',
    segs: [...handshake, seg('c', 1001, 'PA', 'abc'), seg('c', 1007, 'FPA', 'ghi'), seg('s', 5001, 'FA')],
    events: [OPEN, '1 c abc', '1 c gap 3', '1 c ghi', '1 close fin'],
    issues: { 'tcp.gap': 1 },
  },
  {
    name: 'hole filled later',
    segs: [...handshake, seg('c', 1001, 'PA', 'abc'), seg('c', 1007, 'PA', 'ghi'), seg('c', 1004, 'PA', 'def'), seg('c', 1010, 'FA'), seg('s', 5001, 'FA')],
    events: [OPEN, '1 c abc', '1 c def', '1 c ghi', '1 close fin'],
  },
  {
    name: 'bytes lost right before a FIN become a gap at close',
    segs: [...handshake, seg('c', 1001, 'PA', 'abc'), seg('c', 1010, 'FA'), seg('s', 5001, 'PA', 'ok'), seg('s', 5003, 'FA')],
    events: [OPEN, '1 c abc', '1 s ok', '1 c gap 6', '1 close fin'],
    issues: { 'tcp.gap': 1 },
  },
  {
    name: 'mid-stream pickup, both directions (port 80 is the server)',
    segs: [seg('c', 7777, 'PA', 'req1'), seg('s', 9999, 'PA', 'resp1'), seg('c', 7781, 'PA', 'req2'), seg('s', 10004, 'PA', 'resp2')],
    events: ['1 open c=40000 s=80 port', '1 c req1', '1 s resp1', '1 c req2', '1 s resp2', '1 close end'],
  },
  {
    name: 'mid-stream pickup, the server speaks first',
    segs: [seg('s', 9999, 'PA', 'resp1'), seg('c', 7777, 'PA', 'req2')],
    events: ['1 open c=40000 s=80 port', '1 s resp1', '1 c req2', '1 close end'],
  },
  {
    name: 'mid-stream pickup, two ephemeral ports: the first sender is the client',
    ep: ephemeral,
    segs: [seg('c', 1, 'PA', 'x'), seg('s', 1, 'PA', 'y')],
    events: ['1 open c=50001 s=50000 port', '1 c x', '1 s y', '1 close end'],
  },
  {
    name: 'a bare ACK, FIN or RST of an unknown connection starts nothing',
    segs: [seg('c', 7777, 'A'), seg('s', 9999, 'FA'), seg('c', 7777, 'RA'), seg('c', 7777, 'PA', 'x')],
    events: ['1 open c=40000 s=80 port', '1 c x', '1 close end'],
  },
  {
    name: 'the client address sorts after the server address (the key is symmetric)',
    ep: { clientIp: '10.0.0.9', clientPort: 40000, serverIp: '10.0.0.2', serverPort: 80 },
    segs: [...handshake, seg('c', 1001, 'PA', 'q'), seg('s', 5001, 'PA', 'r'), seg('c', 1002, 'FA'), seg('s', 5002, 'FA')],
    events: [OPEN, '1 c q', '1 s r', '1 close fin'],
  },
  {
    name: 'IPv6 endpoints',
    ep: { clientIp: 'fe80::2', clientPort: 40000, serverIp: 'fe80::1', serverPort: 80 },
    segs: [...handshake, seg('c', 1001, 'PA', 'q'), seg('s', 5001, 'PA', 'r')],
    events: [OPEN, '1 c q', '1 s r', '1 close end'],
  },
  {
    name: 'sequence wrap-around, in order',
    segs: [seg('c', 0xfffffffe, 'S'), seg('s', 5000, 'SA', '', { ack: 0xffffffff }), seg('c', 0xffffffff, 'PA', 'ab'), seg('c', 1, 'PA', 'cd'), seg('c', 3, 'FA'), seg('s', 5001, 'FA')],
    events: [OPEN, '1 c ab', '1 c cd', '1 close fin'],
  },
  {
    name: 'sequence wrap-around, out of order',
    segs: [seg('c', 0xfffffffe, 'S'), seg('s', 5000, 'SA', '', { ack: 0xffffffff }), seg('c', 1, 'PA', 'cd'), seg('c', 0xffffffff, 'PA', 'ab'), seg('c', 3, 'FA'), seg('s', 5001, 'FA')],
    events: [OPEN, '1 c ab', '1 c cd', '1 close fin'],
  },
  {
    name: 'sequence wrap-around mid-stream, server side',
    segs: [seg('s', 0xfffffffa, 'PA', '123456'), seg('s', 0, 'PA', '789'), seg('s', 2, 'PA', '9X')],
    events: ['1 open c=40000 s=80 port', '1 s 123456', '1 s 789', '1 s X', '1 close end'],
    issues: { 'tcp.retransmission': 1 },
  },
  {
    name: 'RST closes; a hole before held data is reported, then the data',
    segs: [...handshake, seg('c', 1001, 'PA', 'abc'), seg('c', 1007, 'PA', 'ghi'), seg('s', 5001, 'RA')],
    events: [OPEN, '1 c abc', '1 c gap 3', '1 c ghi', '1 close rst'],
    issues: { 'tcp.gap': 1 },
  },
  {
    name: 'data after RST is ignored and counted while the connection lingers',
    limits: { closeLingerSec: 5 },
    segs: [...handshake, seg('c', 1001, 'PA', 'abc'), seg('s', 5001, 'R'), seg('c', 1004, 'PA', 'def')],
    events: [OPEN, '1 c abc', '1 close rst'],
    issues: { 'tcp.data_after_rst': 1 },
  },
  {
    name: 'with no linger, a late segment after RST opens a mid-stream connection',
    limits: { closeLingerSec: 0 },
    segs: [...handshake, seg('c', 1001, 'PA', 'abc'), seg('s', 5001, 'R'), seg('c', 1004, 'PA', 'def')],
    events: [OPEN, '1 c abc', '1 close rst', '2 open c=40000 s=80 port', '2 c def', '2 close end'],
  },
  {
    name: 'RST payload is not stream data',
    limits: { closeLingerSec: 0 },
    segs: [...handshake, seg('s', 5001, 'R', 'reason'), seg('s', 5001, 'R', 'again')],
    events: [OPEN, '1 close rst'],
    issues: { 'tcp.rst_payload': 2 },
  },
  {
    name: 'a SYN on an open 4-tuple starts a new connection',
    segs: [...handshake, seg('c', 1001, 'PA', 'abc'), seg('c', 90000, 'S'), seg('s', 70000, 'SA', '', { ack: 90001 }), seg('c', 90001, 'PA', 'xyz')],
    events: [OPEN, '1 c abc', '1 close evicted', '2 open c=40000 s=80 syn', '2 c xyz', '2 close end'],
    issues: { 'tcp.syn_reuse': 1 },
  },
  {
    name: 'a SYN on a closed (lingering) 4-tuple starts a new connection',
    limits: { closeLingerSec: 30 },
    segs: [
      ...handshake,
      seg('c', 1001, 'PA', 'abc'),
      seg('c', 1004, 'FA'),
      seg('s', 5001, 'FA'),
      seg('c', 1005, 'A'),
      seg('c', 90000, 'S'),
      seg('s', 70000, 'SA', '', { ack: 90001 }),
      seg('c', 90001, 'PA', 'xyz'),
    ],
    events: [OPEN, '1 c abc', '1 close fin', '2 open c=40000 s=80 syn', '2 c xyz', '2 close end'],
  },
  {
    name: 'a retransmitted SYN is the same connection',
    segs: [seg('c', 1000, 'S'), seg('c', 1000, 'S'), seg('s', 5000, 'SA', '', { ack: 1001 }), seg('c', 1001, 'PA', 'abc')],
    events: [OPEN, '1 c abc', '1 close end'],
    issues: { 'tcp.retransmission': 1 },
  },
  {
    name: 'SYN-ACK without SYN: the server is its sender, the client data starts at its ack',
    segs: [seg('s', 5000, 'SA', '', { ack: 1001 }), seg('c', 1004, 'PA', 'def'), seg('c', 1001, 'PA', 'abc'), seg('s', 5001, 'PA', 'ok')],
    events: [OPEN, '1 c abc', '1 c def', '1 s ok', '1 close end'],
  },
  {
    name: 'a SYN reordered after its SYN-ACK is not a new connection',
    segs: [seg('s', 5000, 'SA', '', { ack: 1001 }), seg('c', 1000, 'S'), seg('c', 1001, 'PA', 'abc')],
    events: [OPEN, '1 c abc', '1 close end'],
  },
  {
    name: 'SYN carrying data (TCP Fast Open): the data follows the SYN',
    segs: [seg('c', 1000, 'S', 'GET'), seg('s', 5000, 'SA', '', { ack: 1004 }), seg('c', 1004, 'PA', ' /')],
    events: [OPEN, '1 c GET', '1 c  /', '1 close end'],
  },
  {
    name: 'idle timeout, checked when the flow shows up again (idle exactly the timeout is still alive)',
    limits: { tcpIdleTimeoutSec: 10 },
    segs: [seg('c', 7777, 'PA', 'a', { t: 100 }), seg('c', 7778, 'PA', 'b', { t: 110 }), seg('c', 7779, 'PA', 'c', { t: 120.5 })],
    events: ['1 open c=40000 s=80 port', '1 c a', '1 c b', '1 close timeout', '2 open c=40000 s=80 port', '2 c c', '2 close end'],
  },
  {
    name: 'idle timeout, found by the sweep as packet time advances',
    limits: { tcpIdleTimeoutSec: 10 },
    segs: [seg('c', 7777, 'PA', 'a', { t: 100, ep: epA }), seg('c', 1, 'PA', 'x', { t: 105, ep: epB }), seg('c', 2, 'PA', 'y', { t: 111, ep: epB })],
    events: ['1 open c=40001 s=80 port', '1 c a', '2 open c=40002 s=80 port', '2 c x', '1 close timeout', '2 c y', '2 close end'],
  },
  {
    name: 'table full: the least recently used flow is evicted',
    limits: { maxFlows: 2 },
    segs: [seg('c', 1, 'PA', 'a1', { ep: epA }), seg('c', 1, 'PA', 'b1', { ep: epB }), seg('c', 3, 'PA', 'a2', { ep: epA }), seg('c', 1, 'PA', 'c1', { ep: epC })],
    events: [
      '1 open c=40001 s=80 port', '1 c a1', '2 open c=40002 s=80 port', '2 c b1', '1 c a2',
      '2 close evicted', '3 open c=40003 s=80 port', '3 c c1', '1 close end', '3 close end',
    ],
    issues: { 'flow.table_full': 1 },
  },
  {
    name: 'limit: held segments per direction',
    limits: { maxSegmentsPerDirection: 2 },
    segs: [...handshake, seg('c', 1001, 'PA', 'abc'), seg('c', 1007, 'PA', 'g'), seg('c', 1009, 'PA', 'i'), seg('c', 1011, 'PA', 'k')],
    events: [OPEN, '1 c abc', '1 c gap 3', '1 c g', '1 c gap 1', '1 c i', '1 c gap 1', '1 c k', '1 close end'],
    issues: { 'tcp.ooo_segments_limit': 1, 'tcp.gap': 3 },
  },
  {
    name: 'limit: held bytes per direction',
    limits: { maxBufferedPerDirection: 4 },
    segs: [...handshake, seg('c', 1001, 'PA', 'ab'), seg('c', 1005, 'PA', 'efg'), seg('c', 1009, 'PA', 'ijk')],
    events: [OPEN, '1 c ab', '1 c gap 2', '1 c efg', '1 c gap 1', '1 c ijk', '1 close end'],
    issues: { 'tcp.ooo_flow_limit': 1, 'tcp.gap': 2 },
  },
  {
    name: 'limit: one segment larger than the per-direction budget is delivered after a gap',
    limits: { maxBufferedPerDirection: 2 },
    segs: [...handshake, seg('c', 1001, 'PA', 'ab'), seg('c', 1006, 'PA', 'fgh')],
    events: [OPEN, '1 c ab', '1 c gap 3', '1 c fgh', '1 close end'],
    issues: { 'tcp.ooo_flow_limit': 1, 'tcp.gap': 1 },
  },
  {
    name: 'limit: held bytes across all flows',
    limits: { maxBufferedTotal: 4 },
    segs: [seg('c', 100, 'PA', 'a', { ep: epA }), seg('c', 105, 'PA', 'fgh', { ep: epA }), seg('c', 200, 'PA', 'b', { ep: epB }), seg('c', 203, 'PA', 'def', { ep: epB })],
    events: [
      '1 open c=40001 s=80 port', '1 c a', '2 open c=40002 s=80 port', '2 c b', '2 c gap 2', '2 c def',
      '1 c gap 4', '1 c fgh', '1 close end', '2 close end',
    ],
    issues: { 'tcp.ooo_global_limit': 1, 'tcp.gap': 2 },
  },
  {
    name: 'keep-alives (SND.NXT-1, with and without a garbage byte) make no gap and no data',
    segs: [...handshake, seg('c', 1001, 'PA', 'abc'), seg('c', 1003, 'A'), seg('c', 1003, 'A', '\0'), seg('s', 5000, 'A', '\0'), seg('c', 1004, 'PA', 'def')],
    events: [OPEN, '1 c abc', '1 c def', '1 close end'],
  },
  {
    name: 'zero-window probes: the probed byte is delivered once',
    segs: [...handshake, seg('c', 1001, 'PA', 'abc'), seg('c', 1004, 'A', 'd'), seg('c', 1004, 'A', 'd'), seg('c', 1004, 'PA', 'defg')],
    events: [OPEN, '1 c abc', '1 c d', '1 c efg', '1 close end'],
    issues: { 'tcp.retransmission': 1 },
  },
  {
    name: 'data after a FIN is ignored and counted',
    segs: [...handshake, seg('c', 1001, 'FPA', 'abc'), seg('c', 1004, 'PA', 'xyz'), seg('s', 5001, 'FA')],
    events: [OPEN, '1 c abc', '1 close fin'],
    issues: { 'tcp.data_after_fin': 1 },
  },
  {
    name: 'held data past a FIN that arrives later is dropped',
    segs: [...handshake, seg('c', 1001, 'PA', 'abc'), seg('c', 1006, 'PA', 'fgh'), seg('c', 1004, 'FA'), seg('s', 5001, 'FA')],
    events: [OPEN, '1 c abc', '1 close fin'],
    issues: { 'tcp.data_after_fin': 1 },
  },
  {
    name: 'a segment cut by the snaplen: the next one declares its lost tail a gap at once',
    segs: [...handshake, seg('c', 1001, 'PA', 'ab', { truncated: true }), seg('c', 1006, 'PA', 'fgh')],
    events: [OPEN, '1 c ab', '1 c gap 3', '1 c fgh', '1 close end'],
    issues: { 'tcp.truncated_segment': 1, 'tcp.gap': 1 },
  },
  {
    name: 'VLAN ids are not part of the key: a reply on another VLAN is the same connection',
    segs: [seg('c', 1, 'PA', 'a', { vlans: [10] }), seg('s', 1, 'PA', 'b', { vlans: [20] }), seg('c', 2, 'PA', 'c'), seg('c', 1, 'PA', 'a', { vlans: [30] })],
    events: ['1 open c=40000 s=80 port', '1 c a', '1 s b', '1 c c', '1 close end'],
    issues: { 'tcp.retransmission': 1 },
  },
  {
    name: 'UDP: the reply is seen first; port 53 is the server',
    ep: dns,
    segs: [seg('s', 0, '', 'resp', { udp: true }), seg('c', 0, '', 'query', { udp: true })],
    events: ['1 open c=33000 s=53 port', '1 s resp', '1 c query', '1 close end'],
  },
  {
    name: 'UDP: two ephemeral ports: the first sender is the client; datagrams are not reassembled',
    ep: ephemeral,
    segs: [seg('s', 0, '', 'one', { udp: true }), seg('c', 0, '', 'two', { udp: true }), seg('s', 0, '', 'one', { udp: true })],
    events: ['1 open c=50000 s=50001 first', '1 c one', '1 s two', '1 c one', '1 close end'],
  },
  {
    name: 'UDP: idle timeout',
    ep: dns,
    limits: { udpIdleTimeoutSec: 5 },
    segs: [seg('c', 0, '', 'q1', { udp: true, t: 10 }), seg('s', 0, '', 'r1', { udp: true, t: 11 }), seg('c', 0, '', 'q2', { udp: true, t: 16.5 })],
    events: ['1 open c=33000 s=53 port', '1 c q1', '1 s r1', '1 close timeout', '2 open c=33000 s=53 port', '2 c q2', '2 close end'],
  },
  {
    name: 'UDP and TCP on the same 4-tuple are different flows',
    ep: dns,
    segs: [seg('c', 0, '', 'udp', { udp: true }), seg('c', 1, 'PA', 'tcp')],
    events: ['1 open c=33000 s=53 port', '1 c udp', '2 open c=33000 s=53 port', '2 c tcp', '1 close end', '2 close end'],
  },
];

describe('TCP reassembly: segments in → events out', () => {
  for (const c of cases) {
    test(c.name, () => {
      const r = run(c.segs, c.limits, c.ep);
      assert.deepEqual(r.events, c.events);
      assert.deepEqual(r.issues.toJSON(), c.issues ?? {});
      assert.equal(r.table.stats.active, 0);
      assert.equal(r.table.stats.heldBytes, 0, 'nothing stays held after flush');
    });
  }
});

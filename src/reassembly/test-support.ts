/** Builders for reassembly tests: packets from short specs, and a handler that records events as text. */
import { IssueCounter } from '../common/index.js';
import { IpProto, TcpFlag, type DecodedPacket } from '../decode/types.js';
import { createFlowTable, type FlowTable } from './flow-table.js';
import type { ConnectionInfo, FlowHandler, ReassemblyLimits } from './types.js';

export interface Endpoints {
  clientIp: string;
  clientPort: number;
  serverIp: string;
  serverPort: number;
}

export const defaultEndpoints: Endpoints = { clientIp: '10.0.0.1', clientPort: 40000, serverIp: '10.0.0.2', serverPort: 80 };

/**
 * One segment: `d` is who sends it (`c` client, `s` server), `f` the flags as letters
 * (S SYN, A ACK, F FIN, R RST, P PSH), `t` packet time in seconds (default: 1000 + 1 ms × index).
 */
export interface Seg {
  d: 'c' | 's';
  seq: number;
  f: string;
  data?: string;
  ack?: number;
  t?: number;
  /** Another connection than the case's default one. */
  ep?: Endpoints;
  udp?: boolean;
  vlans?: number[];
  truncated?: boolean;
}

export function seg(d: 'c' | 's', seq: number, f: string, data = '', more: Partial<Seg> = {}): Seg {
  return { d, seq, f, data, ...more };
}

const FLAG_BITS: Record<string, number> = { S: TcpFlag.SYN, A: TcpFlag.ACK, F: TcpFlag.FIN, R: TcpFlag.RST, P: TcpFlag.PSH };

export function flagBits(f: string): number {
  let bits = 0;
  for (const ch of f) {
    const bit = FLAG_BITS[ch];
    if (bit === undefined) throw new Error('unknown flag letter ' + ch);
    bits |= bit;
  }
  return bits;
}

export function emptyPacket(): DecodedPacket {
  return {
    tsSec: 0, tsNsec: 0, ipVersion: 4, srcIp: '', dstIp: '', ipProto: IpProto.TCP, srcPort: 0, dstPort: 0,
    tcpFlags: 0, seq: 0, ack: 0, window: 0, payload: Buffer.alloc(0), truncated: false, vlans: [],
    tunnel: '', tunnelId: 0, wireLen: 0, issues: [],
  };
}

/** Fills the (reused) packet object from a spec, as the decoder would. */
export function toPacket(s: Seg, index: number, ep: Endpoints, p: DecodedPacket): DecodedPacket {
  const e = s.ep ?? ep;
  const t = s.t ?? 1000 + index * 0.001;
  p.tsSec = Math.floor(t);
  p.tsNsec = Math.round((t - p.tsSec) * 1e9);
  const fromClient = s.d === 'c';
  p.srcIp = fromClient ? e.clientIp : e.serverIp;
  p.dstIp = fromClient ? e.serverIp : e.clientIp;
  p.srcPort = fromClient ? e.clientPort : e.serverPort;
  p.dstPort = fromClient ? e.serverPort : e.clientPort;
  p.ipVersion = e.clientIp.includes(':') ? 6 : 4;
  p.ipProto = s.udp ? IpProto.UDP : IpProto.TCP;
  p.tcpFlags = s.udp ? 0 : flagBits(s.f);
  p.seq = s.seq >>> 0;
  p.ack = (s.ack ?? 0) >>> 0;
  p.payload = Buffer.from(s.data ?? '', 'latin1');
  p.truncated = s.truncated ?? false;
  p.vlans = s.vlans ?? [];
  return p;
}

/**
 * Events as text: `1 open c=40000 s=80 syn`, `1 c abc` (data), `1 s gap 3`, `1 close fin`,
 * `1 idle 1011` (onIdle at table time 1011 s, with `idleNoticeSec`).
 * The leading number is the stream id without its zero padding.
 */
export function recordingTable(
  limits: Partial<ReassemblyLimits> = {},
  firstStreamId?: number,
  idleNoticeSec?: number,
): { table: FlowTable; events: string[]; conns: ConnectionInfo[]; chunks: Buffer[]; issues: IssueCounter } {
  const events: string[] = [];
  const conns: ConnectionInfo[] = [];
  const chunks: Buffer[] = [];
  const issues = new IssueCounter();
  const table = createFlowTable({
    limits,
    issues,
    firstStreamId,
    idleNoticeSec,
    createHandler(conn: ConnectionInfo): FlowHandler {
      conns.push(conn);
      const n = Number(conn.id);
      events.push(`${n} open c=${conn.client.port} s=${conn.server.port} ${conn.roleBy}`);
      return {
        onData(dir, data) {
          chunks.push(data);
          events.push(`${n} ${dir === 0 ? 'c' : 's'} ${data.toString('latin1')}`);
        },
        onGap(dir, length) {
          events.push(`${n} ${dir === 0 ? 'c' : 's'} gap ${length}`);
        },
        onClose(reason) {
          events.push(`${n} close ${reason}`);
        },
        onIdle(sec, nsec) {
          events.push(`${n} idle ${sec + nsec / 1e9}`);
        },
      };
    },
  });
  return { table, events, conns, chunks, issues };
}

/** Feeds the segments in order (reusing one packet object), then flushes. */
export function run(segs: Seg[], limits: Partial<ReassemblyLimits> = {}, ep: Endpoints = defaultEndpoints) {
  const r = recordingTable(limits);
  const p = emptyPacket();
  segs.forEach((s, i) => r.table.add(toPacket(s, i, ep, p)));
  const beforeFlush = r.events.length;
  r.table.flush();
  return { ...r, beforeFlush };
}

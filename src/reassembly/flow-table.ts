import { IssueCounter } from '../common/index.js';
import { IpProto, TcpFlag, type DecodedPacket } from '../decode/types.js';
import { FlowKeyMap, packPorts, type FlowKey } from './flow-key.js';
import { FlowList } from './flow-list.js';
import { SERVER_SRC, SERVER_UNKNOWN, serverByPort } from './ports.js';
import { createStats, type FlowTableStats, type ReassemblyContext } from './stats.js';
import { TCP_CLOSE_FIN, TCP_CLOSE_RST, TCP_REUSE, TcpConnection } from './tcp-stream.js';
import {
  defaultReassemblyLimits,
  type CloseReason,
  type ConnectionInfo,
  type Direction,
  type FlowHandler,
  type ReassemblyLimits,
} from './types.js';

export interface FlowTableOptions {
  createHandler(conn: ConnectionInfo): FlowHandler;
  limits?: Partial<ReassemblyLimits>;
  /** Where issue codes are counted; a fresh counter when absent. */
  issues?: IssueCounter;
  /** Number of the first stream id (default 1). */
  firstStreamId?: number;
  /**
   * Step between stream ids (default 1). Tables on N threads sharing one capture use
   * first ids 1..N and step N, so their ids never clash.
   */
  streamIdStep?: number;
  /**
   * A flow with no packet for longer than this (seconds of table time) gets one
   * `onIdle` call per idle spell, at the once-a-second sweep: its parser gives up
   * the requests that waited past their pair time-out without waiting for more packets
   * of that flow (the pipeline passes `pairTimeoutSec`). Absent: no calls.
   */
  idleNoticeSec?: number;
}

export interface FlowTable {
  /** Feeds one decoded packet; only TCP and UDP are looked at. */
  add(p: DecodedPacket): void;
  /** Closes every flow with `end`: holes become gaps, held data is delivered. The table stays usable. */
  flush(): void;
  /**
   * Time passes without packets (a live source's clock): table time moves on to
   * `tsSec`/`tsNsec` (never back), idle flows are closed and noticed as if a packet of
   * that time had come.
   */
  advance(tsSec: number, tsNsec: number): void;
  readonly stats: FlowTableStats;
  readonly issues: IssueCounter;
}

/** One connection or UDP flow in the table; also its node in the activity lists. */
interface Flow extends FlowKey {
  prev: Flow | null;
  next: Flow | null;
  list: FlowList<Flow> | null;
  conn: ConnectionInfo;
  handler: FlowHandler;
  /** null for UDP. */
  tcp: TcpConnection | null;
  /** The client is the endpoint ordered first in the key (see flow-key.ts). */
  clientIsLo: boolean;
  /** Table time (seconds) of the last packet. */
  last: number;
  /** Set while a closed TCP connection lingers (closeLingerSec) to absorb late segments. */
  closed: CloseReason | '';
  /** Numeric stream id, for ordering at flush. */
  seq: number;
}

const TCP = 0;
const UDP = 1;

export function createFlowTable(opts: FlowTableOptions): FlowTable {
  const limits: ReassemblyLimits = { ...defaultReassemblyLimits, ...opts.limits };
  const issues = opts.issues ?? new IssueCounter();
  const stats = createStats();
  const ctx: ReassemblyContext = { limits, issues, stats };
  const createHandler = opts.createHandler;
  let nextStreamId = opts.firstStreamId ?? 1;
  const streamIdStep = opts.streamIdStep ?? 1;
  const idleNoticeSec = opts.idleNoticeSec;

  const keys = [new FlowKeyMap<Flow>(), new FlowKeyMap<Flow>()];
  // Open flows by last activity, one list per transport because their idle timeouts differ;
  // closed TCP connections that linger sit in their own list, ordered by closing time.
  const tcpFlows = new FlowList<Flow>();
  const udpFlows = new FlowList<Flow>();
  const lingering = new FlowList<Flow>();

  // Table time: the latest packet time seen, so it never runs backwards when a capture's
  // timestamps do (and the activity lists stay sorted).
  let now = -Infinity;
  let nowSec = 0;
  let nowNsec = 0;
  let expiredAtSec = -Infinity;

  function add(p: DecodedPacket): void {
    const proto = p.ipProto === IpProto.TCP ? TCP : p.ipProto === IpProto.UDP ? UDP : -1;
    if (proto < 0 || p.ipVersion === 0) return;
    stats.packets++;

    moveClock(p.tsSec, p.tsNsec);
    // Idle flows are looked for once per second of packet time, from the idle end of the lists.
    if (nowSec > expiredAtSec) {
      expiredAtSec = nowSec;
      expire();
    }

    const src = p.srcIp;
    const dst = p.dstIp;
    const srcIsLo = src < dst || (src === dst && p.srcPort <= p.dstPort);
    const ports = srcIsLo ? packPorts(p.srcPort, p.dstPort) : packPorts(p.dstPort, p.srcPort);
    let flow = keys[proto].get(srcIsLo ? src : dst, srcIsLo ? dst : src, ports);

    if (flow !== undefined) {
      // The once-a-second sweep may not have reached this flow yet.
      if (flow.closed !== '') {
        if (now - flow.last > limits.closeLingerSec) {
          forget(flow);
          flow = undefined;
        }
      } else if (now - flow.last > (proto === TCP ? limits.tcpIdleTimeoutSec : limits.udpIdleTimeoutSec)) {
        close(flow, 'timeout', nowSec, nowNsec);
        flow = undefined;
      }
    }

    if (proto === UDP) {
      if (flow === undefined) {
        const serverSide = serverByPort(p.srcPort, p.dstPort);
        const roleBy = serverSide === SERVER_UNKNOWN ? 'first' : 'port';
        flow = open(p, UDP, srcIsLo, ports, serverSide !== SERVER_SRC, roleBy);
      } else {
        touch(flow);
      }
      const dir: Direction = srcIsLo === flow.clientIsLo ? 0 : 1;
      stats.bytesDelivered += p.payload.length;
      flow.handler.onData(dir, p.payload, p.tsSec, p.tsNsec);
      return;
    }

    const flags = p.tcpFlags;
    const clientSyn = (flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST)) === TcpFlag.SYN;
    if (flow !== undefined && flow.closed !== '') {
      if (!clientSyn) {
        // Late segments of a closed connection (retransmissions, the last ACK).
        if (p.payload.length > 0) issues.count(flow.closed === 'rst' ? 'tcp.data_after_rst' : 'tcp.data_after_close');
        return;
      }
      forget(flow);
      flow = undefined;
    }
    if (flow === undefined) {
      // A stream starts at a SYN or at the first payload; a bare ACK, FIN or RST of an
      // unknown connection (often the tail of one already closed) starts nothing.
      if (flags & TcpFlag.RST) {
        if (p.payload.length > 0) issues.count('tcp.rst_payload');
        return;
      }
      if (!(flags & TcpFlag.SYN) && p.payload.length === 0) return;
      flow = openTcp(p, srcIsLo, ports);
    } else {
      touch(flow);
    }

    if (feedTcp(flow, p, srcIsLo) === TCP_REUSE) {
      // A SYN for a new connection on a 4-tuple still open: the old one ended unseen.
      issues.count('tcp.syn_reuse');
      close(flow, 'evicted', p.tsSec, p.tsNsec);
      feedTcp(openTcp(p, srcIsLo, ports), p, srcIsLo);
    }
  }

  function feedTcp(flow: Flow, p: DecodedPacket, srcIsLo: boolean): number {
    const dir: Direction = srcIsLo === flow.clientIsLo ? 0 : 1;
    const result = flow.tcp!.packet(dir, p.tcpFlags, p.seq, p.ack, p.payload, p.truncated, p.tsSec, p.tsNsec);
    if (result === TCP_CLOSE_FIN) close(flow, 'fin', p.tsSec, p.tsNsec);
    else if (result === TCP_CLOSE_RST) close(flow, 'rst', p.tsSec, p.tsNsec);
    return result;
  }

  function openTcp(p: DecodedPacket, srcIsLo: boolean, ports: number): Flow {
    const flags = p.tcpFlags;
    if (flags & TcpFlag.SYN) {
      // SYN alone comes from the client; SYN-ACK from the server.
      const srcIsClient = !(flags & TcpFlag.ACK);
      return open(p, TCP, srcIsLo, ports, srcIsClient, 'syn');
    }
    // Picked up mid-stream: ports decide, else the first sender is the client.
    return open(p, TCP, srcIsLo, ports, serverByPort(p.srcPort, p.dstPort) !== SERVER_SRC, 'port');
  }

  function open(
    p: DecodedPacket,
    proto: number,
    srcIsLo: boolean,
    ports: number,
    srcIsClient: boolean,
    roleBy: ConnectionInfo['roleBy'],
  ): Flow {
    if (tcpFlows.size + udpFlows.size + lingering.size >= limits.maxFlows) makeRoom();
    const num = nextStreamId;
    nextStreamId += streamIdStep;
    const src = { ip: p.srcIp, port: p.srcPort };
    const dst = { ip: p.dstIp, port: p.dstPort };
    const conn: ConnectionInfo = {
      id: String(num).padStart(12, '0'),
      transport: proto === TCP ? 'tcp' : 'udp',
      client: srcIsClient ? src : dst,
      server: srcIsClient ? dst : src,
      roleBy,
      startSec: p.tsSec,
      startNsec: p.tsNsec,
      vlans: p.vlans.slice(),
      tunnel: p.tunnel,
      tunnelId: p.tunnelId,
    };
    const handler = createHandler(conn);
    const flow: Flow = {
      lo: srcIsLo ? p.srcIp : p.dstIp,
      hi: srcIsLo ? p.dstIp : p.srcIp,
      ports,
      prev: null,
      next: null,
      list: null,
      conn,
      handler,
      tcp: proto === TCP ? new TcpConnection(ctx, handler) : null,
      clientIsLo: srcIsClient === srcIsLo,
      last: now,
      closed: '',
      seq: num,
    };
    keys[proto].set(flow, flow);
    (proto === TCP ? tcpFlows : udpFlows).push(flow);
    stats.flowsSeen++;
    if (proto === TCP) stats.tcpFlows++;
    else stats.udpFlows++;
    stats.active++;
    return flow;
  }

  function moveClock(sec: number, nsec: number): void {
    const t = sec + nsec * 1e-9;
    if (t > now) {
      now = t;
      nowSec = sec;
      nowNsec = nsec;
    }
  }

  function advance(sec: number, nsec: number): void {
    moveClock(sec, nsec);
    expiredAtSec = nowSec;
    expire();
  }

  function touch(flow: Flow): void {
    flow.last = now;
    flow.list!.moveToTail(flow);
  }

  /** The table is full: drop the oldest lingering connection, else evict the idlest open flow. */
  function makeRoom(): void {
    if (lingering.head) return forget(lingering.head);
    const a = tcpFlows.head;
    const b = udpFlows.head;
    const victim = a && b ? (b.last < a.last ? b : a) : (a ?? b);
    if (!victim) return;
    issues.count('flow.table_full');
    stats.limitHits.tableFull++;
    close(victim, 'evicted', nowSec, nowNsec);
  }

  function close(flow: Flow, reason: CloseReason, tsSec: number, tsNsec: number): void {
    if (flow.tcp) flow.tcp.finish(tsSec, tsNsec);
    flow.list!.remove(flow);
    stats.active--;
    stats.closed[reason]++;
    if (flow.tcp && limits.closeLingerSec > 0 && (reason === 'fin' || reason === 'rst')) {
      flow.closed = reason;
      flow.last = now;
      lingering.push(flow);
    } else {
      keys[flow.tcp ? TCP : UDP].delete(flow);
    }
    flow.handler.onClose(reason, tsSec, tsNsec);
  }

  /** Removes a lingering (already closed) connection. */
  function forget(flow: Flow): void {
    lingering.remove(flow);
    keys[TCP].delete(flow);
  }

  function expire(): void {
    let f: Flow | null;
    while ((f = tcpFlows.head) && now - f.last > limits.tcpIdleTimeoutSec) close(f, 'timeout', nowSec, nowNsec);
    while ((f = udpFlows.head) && now - f.last > limits.udpIdleTimeoutSec) close(f, 'timeout', nowSec, nowNsec);
    while ((f = lingering.head) && now - f.last > limits.closeLingerSec) forget(f);
    if (idleNoticeSec !== undefined) {
      noticeIdle(tcpFlows, idleNoticeSec);
      noticeIdle(udpFlows, idleNoticeSec);
    }
  }

  /** Tells each flow idle for longer than `after` once, going on from where the last sweep stopped. */
  function noticeIdle(list: FlowList<Flow>, after: number): void {
    let f = list.mark === null ? list.head : list.mark.next;
    while (f !== null && now - f.last > after) {
      list.mark = f;
      f.handler.onIdle?.(nowSec, nowNsec);
      f = f.next;
    }
  }

  function flush(): void {
    const open: Flow[] = [];
    for (let f = tcpFlows.head; f; f = f.next) open.push(f);
    for (let f = udpFlows.head; f; f = f.next) open.push(f);
    open.sort((a, b) => a.seq - b.seq);
    for (const f of open) {
      f.tcp?.finish(nowSec, nowNsec);
      f.list!.remove(f);
      keys[f.tcp ? TCP : UDP].delete(f);
      stats.active--;
      stats.closed.end++;
      f.handler.onClose('end', nowSec, nowNsec);
    }
    while (lingering.head) forget(lingering.head);
  }

  return { add, flush, advance, stats, issues };
}

/** Synthetic packets for the ring's tests: real TCP/UDP headers from src/decode's builders. */
import type { RawPacket } from '../capture/types.js';
import { ethernetIpTcp, ethernetIpUdp, TcpFlag } from '../decode/test-packets.js';
import { flowKey, type FlowKey } from './flow.js';

export const BASE_SEC = 1_700_000_000;

/**
 * Packet i of an endless numbered stream: UDP 10.9.0.1:(1000 + i % 50) → 10.9.0.2:7,
 * 10 ms apart, the payload holding i so a reader can tell which packets survived.
 */
export function numberedPacket(i: number): RawPacket {
  const payload = Buffer.alloc(200, i & 0xff);
  payload.writeUInt32BE(i, 0);
  const data = ethernetIpUdp({ src: '10.9.0.1', dst: '10.9.0.2', sport: 1000 + (i % 50), dport: 7, payload });
  const ns = i * 10_000_000;
  return { linkType: 1, interfaceId: 0, tsSec: BASE_SEC + Math.floor(ns / 1e9), tsNsec: ns % 1e9, capLen: data.length, origLen: data.length, data, recordOffset: -1 };
}

/** The number a numberedPacket carries (its UDP payload starts at 14 + 20 + 8). */
export function packetNumber(data: Buffer): number {
  return data.readUInt32BE(42);
}

export interface Conversation {
  key: FlowKey;
  /** Indexes into the traffic list. */
  packets: number[];
}

/**
 * Interleaved conversations: TCP connections (SYN, SYN-ACK, data, FIN), one of them
 * reusing its 5-tuple for a second connection later, and UDP exchanges, on 1 ms ticks.
 */
export function mixedTraffic(): { packets: RawPacket[]; conversations: Conversation[] } {
  const packets: RawPacket[] = [];
  const conversations: Conversation[] = [];
  let tick = 0;
  const at = (): { tsSec: number; tsNsec: number } => {
    const ns = 123 + tick++ * 1_000_000;
    return { tsSec: BASE_SEC + Math.floor(ns / 1e9), tsNsec: ns % 1e9 };
  };
  const push = (data: Buffer, conv: Conversation): void => {
    conv.packets.push(packets.length);
    packets.push({ linkType: 1, interfaceId: 0, ...at(), capLen: data.length, origLen: data.length, data, recordOffset: -1 });
  };
  const tcpConv = (client: string, cport: number, server: string, sport: number): Conversation => ({ key: flowKey(client, cport, server, sport, 6), packets: [] });
  const tcpSteps = (c: Conversation, client: string, cport: number, server: string, sport: number): (() => void)[] => {
    const up = (flags: number, payload = '') => () => push(ethernetIpTcp({ src: client, dst: server, sport: cport, dport: sport, flags, payload: Buffer.from(payload) }), c);
    const down = (flags: number, payload = '') => () => push(ethernetIpTcp({ src: server, dst: client, sport, dport: cport, flags, payload: Buffer.from(payload) }), c);
    return [
      up(TcpFlag.SYN),
      down(TcpFlag.SYN | TcpFlag.ACK),
      up(TcpFlag.ACK),
      up(TcpFlag.PSH | TcpFlag.ACK, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      down(TcpFlag.PSH | TcpFlag.ACK, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
      up(TcpFlag.FIN | TcpFlag.ACK),
      down(TcpFlag.FIN | TcpFlag.ACK),
      up(TcpFlag.ACK),
    ];
  };
  const udpConv = (client: string, cport: number, server: string, sport: number): { conv: Conversation; steps: (() => void)[] } => {
    const conv: Conversation = { key: flowKey(client, cport, server, sport, 17), packets: [] };
    return {
      conv,
      steps: [
        () => push(ethernetIpUdp({ src: client, dst: server, sport: cport, dport: sport, payload: Buffer.from('query') }), conv),
        () => push(ethernetIpUdp({ src: server, dst: client, sport, dport: cport, payload: Buffer.from('answer') }), conv),
      ],
    };
  };
  // Round-robin the steps of several conversations so their packets interleave.
  const run = (lists: (() => void)[][]): void => {
    for (let i = 0; lists.some((l) => i < l.length); i++) for (const l of lists) l[i]?.();
  };
  const a = tcpConv('10.0.0.1', 40001, '10.0.0.9', 80);
  const b = tcpConv('10.0.0.2', 40002, '10.0.0.9', 80);
  const c6 = tcpConv('2001:db8::1', 40003, '2001:db8::9', 8080);
  const u = udpConv('10.0.0.1', 5353, '10.0.0.53', 53);
  run([tcpSteps(a, '10.0.0.1', 40001, '10.0.0.9', 80), tcpSteps(b, '10.0.0.2', 40002, '10.0.0.9', 80), tcpSteps(c6, '2001:db8::1', 40003, '2001:db8::9', 8080), u.steps]);
  // The same 5-tuple as `a`, a new connection (port reuse) a little later.
  tick += 500;
  const a2 = tcpConv('10.0.0.1', 40001, '10.0.0.9', 80);
  const u2 = udpConv('10.0.0.3', 5353, '10.0.0.53', 53);
  run([tcpSteps(a2, '10.0.0.1', 40001, '10.0.0.9', 80), u2.steps]);
  conversations.push(a, b, c6, u.conv, a2, u2.conv);
  return { packets, conversations };
}

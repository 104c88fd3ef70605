/**
 * Flows as the packet ring indexes them: the symmetric 5-tuple (both directions of a
 * connection are one flow), hashed per packet without building a string.
 */
import type { Entry } from '../entries/entry.js';
import { IpProto } from '../decode/types.js';

/** The symmetric 5-tuple: (ipA, portA) is the lower endpoint (address text, then port). */
export interface FlowKey {
  ipA: string;
  portA: number;
  ipB: string;
  portB: number;
  /** IP protocol number: 6 TCP, 17 UDP. */
  proto: number;
}

/**
 * The fields of one packet's flow as the decoder gives them: a DecodedPacket fits as is,
 * so the capture thread hands over what it already decoded without copying.
 */
export interface FlowFields {
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  ipProto: number;
}

/** One flow to export, optionally with its own time window (ms since the epoch). */
export interface FlowRequest {
  key: FlowKey;
  from?: number;
  to?: number;
}

/** True when (ipX, portX) sorts before or equal to (ipY, portY): the canonical order of a FlowKey. */
function endpointFirst(ipX: string, portX: number, ipY: string, portY: number): boolean {
  return ipX < ipY || (ipX === ipY && portX <= portY);
}

export function flowKey(ip1: string, port1: number, ip2: string, port2: number, proto: number): FlowKey {
  return endpointFirst(ip1, port1, ip2, port2)
    ? { ipA: ip1, portA: port1, ipB: ip2, portB: port2, proto }
    : { ipA: ip2, portA: port2, ipB: ip1, portB: port1, proto };
}

export function flowKeyOf(f: FlowFields): FlowKey {
  return flowKey(f.srcIp, f.srcPort, f.dstIp, f.dstPort, f.ipProto);
}

/** Same flow, either direction. */
export function sameFlow(f: FlowFields, k: FlowKey): boolean {
  if (f.ipProto !== k.proto) return false;
  return (
    (f.srcIp === k.ipA && f.srcPort === k.portA && f.dstIp === k.ipB && f.dstPort === k.portB) ||
    (f.srcIp === k.ipB && f.srcPort === k.portB && f.dstIp === k.ipA && f.dstPort === k.portA)
  );
}

function mixString(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

/**
 * A 31-bit symmetric hash (a small integer, the fastest Map key V8 has). Collisions
 * are resolved at export by comparing the decoded 5-tuple, so they cost a read, never
 * a wrong packet.
 */
export function flowHash(ip1: string, port1: number, ip2: string, port2: number, proto: number): number {
  let h = 0x811c9dc5 ^ proto;
  if (endpointFirst(ip1, port1, ip2, port2)) {
    h = mixString(h, ip1);
    h = Math.imul(h ^ port1, 0x01000193);
    h = mixString(h ^ 0x2f, ip2);
    h = Math.imul(h ^ port2, 0x01000193);
  } else {
    h = mixString(h, ip2);
    h = Math.imul(h ^ port2, 0x01000193);
    h = mixString(h ^ 0x2f, ip1);
    h = Math.imul(h ^ port1, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h & 0x7fffffff;
}

export function flowHashOf(f: FlowFields): number {
  return flowHash(f.srcIp, f.srcPort, f.dstIp, f.dstPort, f.ipProto);
}

export function flowKeyHash(k: FlowKey): number {
  return flowHash(k.ipA, k.portA, k.ipB, k.portB, k.proto);
}

const LAYER4: Record<string, number> = { tcp: IpProto.TCP, udp: IpProto.UDP };

/**
 * The flows of store entries, for "export the packets of the connections of the
 * matching entries": one request per 5-tuple, its window spanning every entry of it
 * (first request byte to last response byte). The entry timestamp is whole ms rounded
 * down, so the window ends 1 ms late to keep the last packet. Entries without a known
 * layer-4 protocol or without ports are left out.
 */
export function flowsFromEntries(entries: Iterable<Pick<Entry, 'src' | 'dst' | 'protocol' | 'timestamp' | 'elapsedTime'>>): FlowRequest[] {
  const byKey = new Map<string, FlowRequest>();
  for (const e of entries) {
    const proto = LAYER4[e.protocol?.layer4 ?? ''];
    if (proto === undefined || !e.src?.ip || !e.dst?.ip) continue;
    const key = flowKey(e.src.ip, e.src.port, e.dst.ip, e.dst.port, proto);
    const id = `${key.ipA}|${key.portA}|${key.ipB}|${key.portB}|${proto}`;
    const from = e.timestamp;
    const to = e.timestamp + Math.max(0, e.elapsedTime) + 1;
    const have = byKey.get(id);
    if (!have) byKey.set(id, { key, from, to });
    else {
      have.from = Math.min(have.from!, from);
      have.to = Math.max(have.to!, to);
    }
  }
  return [...byKey.values()];
}

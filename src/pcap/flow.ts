/**
 * Flows as the packet ring indexes them: the symmetric 5-tuple (both directions of a
 * connection are one flow) and its hash (decode/flow-hash.ts, read from each packet's headers).
 */
import type { Entry } from '../entries/entry.js';
import { IpProto } from '../decode/types.js';
import { flowHashOf, type FlowFields } from '../decode/index.js';

/** The symmetric 5-tuple: (ipA, portA) is the lower endpoint (address text, then port). */
export interface FlowKey {
  ipA: string;
  portA: number;
  ipB: string;
  portB: number;
  /** IP protocol number: 6 TCP, 17 UDP. */
  proto: number;
}

export type { FlowFields } from '../decode/index.js';

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

/** The flow hash of a flow given by address text (decode/flow-hash.ts): what the ring's index holds for its packets. */
export function flowHash(ip1: string, port1: number, ip2: string, port2: number, proto: number): number {
  return flowHashOf({ srcIp: ip1, srcPort: port1, dstIp: ip2, dstPort: port2, ipProto: proto });
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

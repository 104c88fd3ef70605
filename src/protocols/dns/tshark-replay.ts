/**
 * Test helpers (not exported by index.ts): packets of a capture file as tshark sees them,
 * replayed by flow into the DNS parser, and tshark's own DNS fields as the oracle.
 * tshark is used (not src/capture + src/decode) so these tests stand on a reader no one
 * here wrote.
 */
import { execFileSync } from 'node:child_process';
import type { ConnectionInfo, Direction } from '../../reassembly/types.js';
import { defaultParserSettings, type ParsedItem } from '../types.js';
import { dns } from './index.js';

export interface TsharkPacket {
  frame: number;
  sec: number;
  nsec: number;
  transport: 'udp' | 'tcp';
  src: string;
  dst: string;
  sport: number;
  dport: number;
  syn: boolean;
  payload: Buffer;
}

/** Runs tshark with `-T fields`, one array of columns per frame; multiple values stay joined by `|`. */
export function tsharkFields(file: string, fields: string[], args: string[] = []): string[][] {
  const out = execFileSync('tshark', ['-r', file, ...args, '-T', 'fields', '-E', 'separator=\t', '-E', 'aggregator=|',
    ...fields.flatMap((f) => ['-e', f])], { maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'], timeout: 120_000 });
  return out.toString('utf8').split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

/** "1700000000.123456789" as seconds and nanoseconds, every digit kept. */
export function epochParts(text: string): [number, number] {
  const [s, frac = ''] = text.split('.');
  return [Number(s), Number((frac + '000000000').slice(0, 9))];
}

/** The fields `packetFromRow` reads, in its order (other fields may follow them). */
export const PACKET_FIELDS = ['frame.number', 'frame.time_epoch', 'ip.src', 'ipv6.src', 'ip.dst', 'ipv6.dst',
  'udp.srcport', 'udp.dstport', 'tcp.srcport', 'tcp.dstport', 'udp.payload', 'tcp.payload', 'tcp.flags.syn', 'tcp.flags.ack'];

/** A UDP or TCP payload of a single-layer packet (null for tunnels, ICMP-quoted headers, non-IP). */
export function packetFromRow(r: string[]): TsharkPacket | null {
  const [frame, time, ip4s, ip6s, ip4d, ip6d, us, ud, ts, td, up, tp, syn, ack] = r;
  const src = ip4s || ip6s;
  const dst = ip4d || ip6d;
  if (!src || !dst || [src, dst, us, ud, ts, td].some((v) => v?.includes('|'))) return null;
  const udp = us !== '' && us !== undefined;
  if (!udp && (ts === '' || ts === undefined)) return null;
  const [sec, nsec] = epochParts(time);
  return {
    frame: Number(frame), sec, nsec, transport: udp ? 'udp' : 'tcp', src, dst,
    sport: Number(udp ? us : ts), dport: Number(udp ? ud : td),
    syn: (syn === '1' || syn === 'True') && !(ack === '1' || ack === 'True'),
    payload: Buffer.from((udp ? up : tp) ?? '', 'hex'),
  };
}

export function tsharkPackets(file: string, args: string[] = []): TsharkPacket[] {
  return tsharkFields(file, PACKET_FIELDS, args).map(packetFromRow).filter((p): p is TsharkPacket => p !== null);
}

export interface ReplayedItem extends ParsedItem {
  /** Frames of the request and the response, found by their timestamps. */
  requestFrame?: number;
  responseFrame?: number;
}

export interface Replay {
  items: ReplayedItem[];
  weirds: string[];
  violations: string[];
}

/**
 * Feeds every flow whose `port` side matches (or every flow, when port is 0) to a DNS
 * parser, the way the flow table would: the first sender (or the SYN sender) is the client.
 */
export function replay(packets: TsharkPacket[], port: number, settings = defaultParserSettings): Replay {
  const run: Replay = { items: [], weirds: [], violations: [] };
  interface Flow { conn: ConnectionInfo; parser: ReturnType<typeof dns.createParser>; dead: boolean; last: [number, number] }
  const flows = new Map<string, Flow>();
  const frameAt = new Map<string, number>();
  for (const p of packets) {
    if (port !== 0 && p.sport !== port && p.dport !== port) continue;
    frameAt.set(p.sec + '.' + p.nsec, p.frame);
    const a = `${p.transport} ${p.src} ${p.sport}`;
    const b = `${p.transport} ${p.dst} ${p.dport}`;
    const key = a < b ? a + ' ' + b : b + ' ' + a;
    let flow = flows.get(key);
    if (flow === undefined) {
      const conn: ConnectionInfo = {
        id: String(flows.size + 1).padStart(12, '0'), transport: p.transport,
        client: { ip: p.src, port: p.sport }, server: { ip: p.dst, port: p.dport },
        roleBy: p.transport === 'tcp' ? (p.syn ? 'syn' : 'port') : 'first',
        startSec: p.sec, startNsec: p.nsec, vlans: [], tunnel: '', tunnelId: 0,
      };
      const f: Flow = {
        conn, dead: false, last: [p.sec, p.nsec],
        parser: dns.createParser({
          conn, limits: dns.limits, settings,
          emit: (item) => run.items.push(item),
          confirm() {},
          violation: (code) => {
            run.violations.push(code);
            f.dead = true;
          },
          weird: (code) => run.weirds.push(code),
        }),
      };
      flow = f;
      flows.set(key, f);
    }
    flow.last = [p.sec, p.nsec];
    if (flow.dead || p.payload.length === 0) continue;
    const dir: Direction = p.src === flow.conn.client.ip && p.sport === flow.conn.client.port ? 0 : 1;
    flow.parser.onData(dir, p.payload, p.sec, p.nsec);
  }
  for (const f of flows.values()) if (!f.dead) f.parser.onClose(f.last[0], f.last[1]);
  for (const item of run.items as ReplayedItem[]) {
    if (item.requestSize > 0) item.requestFrame = frameAt.get(item.startSec + '.' + item.startNsec);
    if (item.response !== undefined) item.responseFrame = frameAt.get(item.endSec + '.' + item.endNsec);
  }
  return run;
}

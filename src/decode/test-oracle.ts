/**
 * Test support: decode a capture file and compare every packet with what tshark says
 * about the same file. Used by decoder.oracle.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { readCaptureFile } from '../capture/index.js';
import { IssueCounter } from '../common/index.js';
import { createDecoder, type DecodeStats } from './decoder.js';

const FIELDS = [
  'frame.number',
  'frame.protocols',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'tcp.srcport',
  'tcp.dstport',
  'udp.srcport',
  'udp.dstport',
  'tcp.seq',
  'tcp.ack',
  'tcp.flags',
  'tcp.len',
  'udp.length',
  'vlan.id',
  'ieee8021ad.id',
  'vxlan.vni',
  'geneve.vni',
] as const;
type Field = (typeof FIELDS)[number];

/** What the decoder said about one packet, copied out of the reused object. */
interface Mine {
  ipVersion: number;
  srcIp: string;
  dstIp: string;
  ipProto: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  tcpFlags: number;
  payloadLen: number;
  truncated: boolean;
  vlans: number[];
  tunnel: string;
  tunnelId: number;
}

export interface OracleResult {
  packets: number;
  /** Packets both sides decoded to TCP/UDP and compared field by field. */
  compared: number;
  tunneled: number;
  vlanTagged: number;
  ipv6: number;
  mismatches: string[];
  stats: DecodeStats;
  issues: Record<string, number>;
}

function tshark(file: string, extra: string[]): Map<number, Record<Field, string>> {
  const args = ['-r', file, '-n', '-o', 'tcp.relative_sequence_numbers:FALSE', ...extra, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const f of FIELDS) args.push('-e', f);
  // tshark exits non-zero on a damaged file after printing the packets before the damage.
  const text = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] }).stdout ?? '';
  const rows = new Map<number, Record<Field, string>>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const cols = line.split('\t');
    const row = {} as Record<Field, string>;
    FIELDS.forEach((f, i) => (row[f] = cols[i] ?? ''));
    rows.set(Number(row['frame.number']), row);
  }
  return rows;
}

const IPV6_EXTENSIONS = new Set(['ipv6.hopopts', 'ipv6.routing', 'ipv6.dstopts', 'ipv6.fraghdr', 'ah']);

const last = (list: string): string => {
  const parts = list.split(',');
  return parts[parts.length - 1];
};

/**
 * Decodes `file` and compares each packet with tshark: innermost IP addresses, ports,
 * TCP seq/ack/flags, payload length, VLAN ids and tunnel VNI. `extra` goes to tshark
 * (e.g. `-d udp.port==8472,vxlan`).
 */
export async function compareWithTshark(file: string, extra: string[] = ['-d', 'udp.port==8472,vxlan']): Promise<OracleResult> {
  const rows = tshark(file, extra);
  const counter = new IssueCounter();
  const decoder = createDecoder({ issues: counter });
  const mine: (Mine | null)[] = [];
  const issuesOf: string[] = [];
  await readCaptureFile(file, (pkt) => {
    const before = counter.toJSON();
    const o = decoder.decode(pkt);
    issuesOf.push(Object.entries(counter.toJSON()).filter(([k, n]) => n !== before[k]).map(([k]) => k).join(' '));
    mine.push(
      o && {
        ipVersion: o.ipVersion,
        srcIp: o.srcIp,
        dstIp: o.dstIp,
        ipProto: o.ipProto,
        srcPort: o.srcPort,
        dstPort: o.dstPort,
        seq: o.seq,
        ack: o.ack,
        tcpFlags: o.tcpFlags,
        payloadLen: o.payload.length,
        truncated: o.truncated,
        vlans: [...o.vlans],
        tunnel: o.tunnel,
        tunnelId: o.tunnelId,
      },
    );
  }).catch(() => undefined); // a damaged file: compare the packets read before the damage
  const result: OracleResult = { packets: mine.length, compared: 0, tunneled: 0, vlanTagged: 0, ipv6: 0, mismatches: [], stats: { ...decoder.stats }, issues: counter.toJSON() };
  const bad = (frame: number, what: string) => result.mismatches.push(`frame ${frame}: ${what}`);

  mine.forEach((m, i) => {
    const frame = i + 1;
    const t = rows.get(frame);
    if (t === undefined) return;
    const all = t['frame.protocols'].split(':');
    // Inside a tunnel the decoder follows, only the inner layers count: ARP in VXLAN has no TCP/UDP to hand on.
    const cut = Math.max(all.lastIndexOf('vxlan'), all.lastIndexOf('geneve')) + 1;
    // The first IP layer after that, and the layer after its extension headers. Anything
    // the decoder does not follow (IP in IP, GRE, ICMP errors quoting a header) comes
    // between, and tshark's deeper layers are not what the decoder should report.
    let ipAt = -1;
    for (let j = cut; j < all.length; j++) if (all[j] === 'ip' || all[j] === 'ipv6') { ipAt = j; break; }
    let tAt = ipAt + 1;
    while (tAt > 0 && tAt < all.length && IPV6_EXTENSIONS.has(all[tAt])) tAt++;
    const innerIp = ipAt < 0 ? 0 : all[ipAt] === 'ip' ? 4 : 6;
    const innerTransport = ipAt < 0 ? 0 : all[tAt] === 'tcp' ? 6 : all[tAt] === 'udp' ? 17 : 0;
    const theirs = innerIp !== 0 && innerTransport !== 0;
    /** The occurrence of a field that belongs to layer `name` at `at` (tshark lists occurrences in layer order). */
    const nth = (list: string, name: string, at: number) => list.split(',')[all.slice(0, at).filter((l) => l === name).length] ?? '';
    if (m === null) {
      if (theirs) bad(frame, `tshark decodes ${t['frame.protocols']}, the decoder returned null (${issuesOf[i]})`);
      return;
    }
    if (!theirs) {
      bad(frame, `the decoder returned ${m.srcIp} > ${m.dstIp}, tshark has ${t['frame.protocols']}`);
      return;
    }
    result.compared++;
    if (m.tunnel !== '') result.tunneled++;
    if (m.vlans.length > 0) result.vlanTagged++;
    if (m.ipVersion === 6) result.ipv6++;
    const eq = (what: string, a: unknown, b: unknown) => {
      if (String(a) !== String(b)) bad(frame, `${what}: decoder ${String(a)}, tshark ${String(b)}`);
    };
    eq('ip version', m.ipVersion, innerIp);
    eq('src', m.srcIp, nth(innerIp === 4 ? t['ip.src'] : t['ipv6.src'], all[ipAt], ipAt));
    eq('dst', m.dstIp, nth(innerIp === 4 ? t['ip.dst'] : t['ipv6.dst'], all[ipAt], ipAt));
    eq('transport', m.ipProto, innerTransport);
    if (m.ipProto === 6) {
      eq('sport', m.srcPort, nth(t['tcp.srcport'], 'tcp', tAt));
      eq('dport', m.dstPort, nth(t['tcp.dstport'], 'tcp', tAt));
      eq('seq', m.seq, nth(t['tcp.seq'], 'tcp', tAt));
      if (t['tcp.ack'] !== '') eq('ack', m.ack, nth(t['tcp.ack'], 'tcp', tAt));
      eq('flags', m.tcpFlags, Number(nth(t['tcp.flags'], 'tcp', tAt)) & 0xff);
      const len = Number(nth(t['tcp.len'], 'tcp', tAt));
      if (m.truncated ? m.payloadLen > len : m.payloadLen !== len) bad(frame, `tcp payload: decoder ${m.payloadLen}${m.truncated ? ' (truncated)' : ''}, tshark ${len}`);
    } else {
      eq('sport', m.srcPort, nth(t['udp.srcport'], 'udp', tAt));
      eq('dport', m.dstPort, nth(t['udp.dstport'], 'udp', tAt));
      const len = Number(nth(t['udp.length'], 'udp', tAt)) - 8;
      if (m.truncated ? m.payloadLen > len : m.payloadLen !== len) bad(frame, `udp payload: decoder ${m.payloadLen}${m.truncated ? ' (truncated)' : ''}, tshark ${len}`);
    }
    // tshark names 802.1ad tags `ieee8021ad` and 802.1Q ones `vlan`; only tags before the IP layer count.
    const tags: string[] = [];
    all.slice(0, ipAt).forEach((l, j) => {
      if (l === 'vlan') tags.push(nth(t['vlan.id'], 'vlan', j));
      if (l === 'ieee8021ad') tags.push(nth(t['ieee8021ad.id'], 'ieee8021ad', j));
    });
    eq('vlans', m.vlans.join(','), tags.join(','));
    const vni = m.tunnel === 'vxlan' ? last(t['vxlan.vni']) : m.tunnel === 'geneve' ? last(t['geneve.vni']) : '';
    eq('tunnel id', m.tunnel === '' ? '' : m.tunnelId, vni === '' ? '' : Number(vni));
  });
  return result;
}

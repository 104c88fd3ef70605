/**
 * The tcpdump corpus (../shared/corpus/tcpdump, read in place): every DNS message in the
 * files where tshark finds DNS is read without a throw, and where tshark reads a message
 * fully, the two agree on ID, QR, questions, RCODE, answer count and A/AAAA/CNAME data.
 * fixtures/corpus-dns.txt lists those files; it was made with
 *   for f in *; do tshark -r "$f" -Y dns -T fields -e frame.number | grep -q . && echo "$f"; done
 * (no corpus file has traffic on the mDNS or LLMNR ports: `tcpdump -n -r` shows none).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { corpusDir, repoRoot } from '../../../test/support/paths.js';
import { readMessage, type DnsMessage, type DnsRecord } from './message.js';
import { rcodeName, typeName } from './names.js';
import { PACKET_FIELDS, packetFromRow, replay, tsharkFields, type TsharkPacket } from './tshark-replay.js';

const FIXTURES = join(repoRoot, 'src/protocols/dns/fixtures');
const files = readFileSync(join(FIXTURES, 'corpus-dns.txt'), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
const READ = { maxRecordsPerSection: 100_000, maxPointerHops: 64, mdns: false };

const DNS_FIELDS = ['dns.id', 'dns.flags.response', 'dns.qry.name',
  'dns.qry.type', 'dns.flags.rcode', 'dns.count.answers', 'dns.a', 'dns.aaaa', 'dns.cname', '_ws.malformed', '_ws.expert.message', '_ws.short'];

/** tshark prints the root as <Root> and a '.' inside a label as '.'. */
function tsharkName(name: string): string {
  return name.replaceAll('\\046', '.').replace(/^\.$/, '<Root>');
}

function all(m: DnsMessage, type: string): string[] {
  return [...m.answers, ...m.authorities, ...m.additionals].filter((r: DnsRecord) => r.type === type).map((r) => r.data);
}

const split = (field: string) => (field === '' ? [] : field.split('|'));

interface FileResult {
  compared: number;
  /** Frames tshark found malformed, with the issue we named (or '' when we read them whole). */
  malformed: Record<string, string>;
  /** Frames the capture's snaplen cut short, with the issue we named. */
  short: Record<string, string>;
  mismatches: string[];
  packets: TsharkPacket[];
}

function compareFile(path: string): FileResult {
  const result: FileResult = { compared: 0, malformed: {}, short: {}, mismatches: [], packets: [] };
  // One tshark run gives both the packets to replay and, where it found DNS, its fields.
  const rows = tsharkFields(path, [...PACKET_FIELDS, ...DNS_FIELDS]);
  for (const row of rows) {
    const p = packetFromRow(row);
    if (p !== null) result.packets.push(p);
  }
  const n = PACKET_FIELDS.length;
  for (const row of rows) {
    const [frame, , , , , , us, ud, , , udpHex, tcpHex] = row;
    const [id, qr, qname, qtype, rcode, ancount, a, aaaa, cname, malformed, expert, short] = row.slice(n);
    if (id === '' || id === undefined) continue;
    const sport = us;
    const dport = ud;
    // One DNS layer at one UDP/TCP layer: tunnels and ICMP-quoted packets hold several.
    if ([udpHex, tcpHex, id].some((f) => f.includes('|'))) continue;
    let msg = udpHex !== '' ? Buffer.from(udpHex, 'hex') : Buffer.from(tcpHex, 'hex');
    if (udpHex === '') {
      // One whole length-prefixed message per segment, or it is left to the replay below.
      if (msg.length < 2 || msg.readUInt16BE(0) !== msg.length - 2) continue;
      msg = msg.subarray(2);
    }
    const mdns = sport === '5353' || dport === '5353';
    const m = readMessage(msg, 0, msg.length, { ...READ, mdns });
    if (short !== '') {
      result.short[frame] = m.issue;
      continue;
    }
    const tsharkFailed = malformed !== '' || /Exception|Malformed/i.test(expert);
    if (tsharkFailed) {
      result.malformed[frame] = m.issue;
      continue;
    }
    result.compared++;
    const ours = {
      issue: m.issue, id: m.id, qr: m.qr, names: m.questions.map((q) => tsharkName(q.name)), types: m.questions.map((q) => q.type),
      rcode: rcodeName(m.rcode & 0x0f), ancount: m.ancount, a: all(m, 'A'), aaaa: all(m, 'AAAA'), cname: all(m, 'CNAME').map(tsharkName),
    };
    const theirs = {
      issue: '', id: Number(id), qr: qr === '1' || qr === 'True', names: split(qname), types: split(qtype).map((t) => typeName(Number(t))),
      rcode: rcodeName(Number(rcode)), ancount: Number(ancount), a: split(a), aaaa: split(aaaa), cname: split(cname),
    };
    try {
      assert.deepEqual(ours, theirs);
    } catch {
      result.mismatches.push(`frame ${frame}: ours ${JSON.stringify(ours)} tshark ${JSON.stringify(theirs)}`);
    }
  }
  return result;
}

describe('dns corpus: agreement with tshark', { skip: existsSync(corpusDir) ? false : 'corpus not present' }, () => {
  const results = new Map<string, FileResult>();
  for (const name of files) {
    test(name, () => {
      const r = compareFile(join(corpusDir, name));
      results.set(name, r);
      assert.deepEqual(r.mismatches, []);
      // Replayed by flow through the parser: no throw, and every item is a DNS item.
      const run = replay(r.packets, 0);
      r.packets = [];
      for (const item of run.items) assert.equal(item.protocol.name, 'dns');
    });
  }

  test('messages compared, and the crafted ones named by their issue', () => {
    const compared = [...results.values()].reduce((n, r) => n + r.compared, 0);
    assert.ok(compared >= 80, `compared ${compared} messages`);
    // dns_fwdptr.pcap: a compression pointer that points forward (tshark: "Name too long" after looping).
    assert.deepEqual(results.get('dns_fwdptr.pcap')?.malformed, { 1: 'dns.bad_pointer' });
    // dns-badlabel.pcap: a name of hundreds of labels (tshark: "<Name too long>").
    assert.deepEqual(results.get('dns-badlabel.pcap')?.malformed, { 1: 'dns.name_too_long' });
    // Cut by the snaplen: tshark marks them short; we name them truncated.
    const short = [...results.values()].flatMap((r) => Object.values(r.short));
    assert.ok(short.length > 0);
    assert.deepEqual(short.filter((issue) => issue !== 'dns.truncated'), []);
  });
});

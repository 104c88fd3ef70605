/**
 * dig against dnsmasq, recorded by tcpdump (fixtures/record.sh), checked against two
 * oracles no one here wrote: tshark's DNS fields and pairing (dns.response_to), and the
 * answer sections as dig printed them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { repoRoot } from '../../../test/support/paths.js';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rcodeName, typeName } from './names.js';
import { readMessage, type DnsRecord } from './message.js';
import { replay, tsharkFields, tsharkPackets, type ReplayedItem } from './tshark-replay.js';

const FIXTURES = join(repoRoot, 'src/protocols/dns/fixtures');
const PORT = 53053;
const DECODE_AS = ['-d', `tcp.port==${PORT},dns`, '-d', `udp.port==${PORT},dns`];

/** dig's answer lines ("name. ttl class type data"), in order, trailing dots of names dropped. */
function digAnswers(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('##') && !l.startsWith(';'))
    .map((l) => {
      const [name, ttl, cls, type, ...rest] = l.split(/\s+/);
      // Names in data end with '.' in dig; tokens inside quotes are left alone.
      const data = rest.join(' ').split(/( |"(?:[^"\\]|\\.)*")/).map((t) => (t.length > 1 && !t.startsWith('"') && t.endsWith('.') ? t.slice(0, -1) : t)).join('');
      return [name.length > 1 ? name.slice(0, -1) : name, ttl, cls, type, data].join(' ');
    });
}

const line = (r: DnsRecord) => [r.name, r.ttl, r.class, r.type, r.data].join(' ');
const ofType = (item: ReplayedItem, type: string) => {
  const res = item.response as { answers: DnsRecord[]; authorities: DnsRecord[]; additionals: DnsRecord[] };
  return [...res.answers, ...res.authorities, ...res.additionals].filter((r) => r.type === type).map((r) => r.data);
};

function checkRecording(pcap: string, digFile: string): void {
  const run = replay(tsharkPackets(pcap), PORT);
  const items = run.items.sort((a, b) => a.startSec - b.startSec || a.startNsec - b.startNsec);

  test('every query is paired with its response, nothing odd counted', () => {
    assert.deepEqual(run.violations, []);
    assert.deepEqual(run.weirds, []);
    // 21 dig runs, one of them (+keepopen) with two queries.
    assert.equal(items.length, 22);
    assert.deepEqual(items.filter((i) => i.error !== undefined || i.response === undefined), []);
    assert.deepEqual(items.map((i) => i.protocol.layer4).join(','),
      'udp,udp,udp,udp,udp,udp,udp,udp,udp,udp,udp,udp,udp,udp,udp,tcp,tcp,tcp,udp,udp,tcp,tcp');
  });

  test('id, question, rcode, pairing and A/AAAA/CNAME agree with tshark', () => {
    const rows = tsharkFields(pcap, ['frame.number', 'dns.id', 'dns.flags.response', 'dns.qry.name', 'dns.qry.type', 'dns.flags.rcode',
      'dns.response_to', 'dns.a', 'dns.aaaa', 'dns.cname'], [...DECODE_AS, '-Y', 'dns.flags.response == 1']);
    assert.equal(rows.length, items.length);
    for (const [frame, id, , qname, qtype, rcode, responseTo, a, aaaa, cname] of rows) {
      const item = items.find((i) => i.responseFrame === Number(frame));
      assert.ok(item, `an item for response frame ${frame}`);
      const q = (item.request!.questions as { name: string; type: string }[])[0];
      assert.deepEqual(
        [item.requestFrame, item.request!.id, q.name.replaceAll('\\046', '.'), q.type, item.response!.code, ofType(item, 'A'), ofType(item, 'AAAA'), ofType(item, 'CNAME')],
        [Number(responseTo), Number(id), qname, typeName(Number(qtype)), rcodeName(Number(rcode)), list(a), list(aaaa), list(cname)],
        `frame ${frame}`);
    }
  });

  test('answers are printed as dig prints them', () => {
    const ours = items.flatMap((i) => (i.response!.answers as DnsRecord[]).map(line));
    assert.deepEqual(ours, digAnswers(digFile));
  });

  test('full items: SRV over UDP with additionals, and two queries on one TCP connection', () => {
    const srv = items.find((i) => (i.request!.questions as { type: string }[])[0].type === 'SRV')!;
    const cookie = (srv.request!.edns as { options: { data: string }[] }).options[0].data;
    assert.match(cookie, /^[0-9a-f]{16}$/);
    const id = srv.request!.id;
    const flagsQ = { qr: false, aa: false, tc: false, rd: true, ra: false, z: false, ad: true, cd: false };
    const flagsR = { qr: true, aa: true, tc: false, rd: true, ra: true, z: false, ad: false, cd: false };
    const optR = { name: '.', type: 'OPT', class: 'CLASS1232', ttl: 0, data: 'udp=1232 version=0' };
    const ednsR = { udpSize: 1232, version: 0, do: false, extendedRcode: 0, options: [] };
    const ednsQ = (c: string) => ({ udpSize: 1232, version: 0, do: false, extendedRcode: 0, options: [{ code: 10, name: 'COOKIE', data: c }] });
    const optQ = (c: string) => ({ name: '.', type: 'OPT', class: 'CLASS1232', ttl: 0, data: 'udp=1232 version=0 COOKIE=' + c });
    const { startSec, startNsec, endSec, endNsec, requestFrame, responseFrame } = srv;
    assert.deepEqual(srv, {
      protocol: { name: 'dns', version: '', abbr: 'DNS', layer4: 'udp' },
      request: {
        id, opCode: 'QUERY', flags: flagsQ, questions: [{ name: '_http._tcp.tapline.test', type: 'SRV', class: 'IN' }],
        additionals: [optQ(cookie)], edns: ednsQ(cookie),
      },
      response: {
        id, code: 'NOERROR', flags: flagsR,
        answers: [{ name: '_http._tcp.tapline.test', type: 'SRV', class: 'IN', ttl: 300, data: '10 20 8080 www.tapline.test' }],
        authorities: [],
        additionals: [
          { name: 'www.tapline.test', type: 'A', class: 'IN', ttl: 300, data: '192.0.2.10' },
          { name: 'www.tapline.test', type: 'AAAA', class: 'IN', ttl: 300, data: '2001:db8::10' },
          optR,
        ],
        edns: ednsR,
      },
      requestSize: 64, responseSize: 132, startSec, startNsec, endSec, endNsec, requestFrame, responseFrame,
    });
    assert.equal(responseFrame, requestFrame! + 1);

    const [a, aaaa] = items.slice(-2);
    const c = (a.request!.edns as { options: { data: string }[] }).options[0].data;
    const tcpItem = (it: ReplayedItem, type: string, data: string, responseSize: number) => ({
      protocol: { name: 'dns', version: '', abbr: 'DNS', layer4: 'tcp' },
      request: {
        id: it.request!.id, opCode: 'QUERY', flags: flagsQ, questions: [{ name: 'www.tapline.test', type, class: 'IN' }],
        additionals: [optQ(c)], edns: ednsQ(c),
      },
      response: {
        id: it.request!.id, code: 'NOERROR', flags: flagsR,
        answers: [{ name: 'www.tapline.test', type, class: 'IN', ttl: 300, data }], authorities: [], additionals: [optR], edns: ednsR,
      },
      requestSize: 57, responseSize,
      startSec: it.startSec, startNsec: it.startNsec, endSec: it.endSec, endNsec: it.endNsec,
      requestFrame: it.requestFrame, responseFrame: it.responseFrame,
    });
    assert.deepEqual([a, aaaa], [tcpItem(a, 'A', '192.0.2.10', 61), tcpItem(aaaa, 'AAAA', '2001:db8::10', 73)]);
    assert.notEqual(a.request!.id, aaaa.request!.id);
  });
}

const ISSUES = new Set(['', 'dns.truncated', 'dns.bad_pointer', 'dns.name_too_long', 'dns.bad_label_type']);
const WEIRD = new Set(['dns.bad_rdata', 'dns.records_limit', 'dns.multiple_opt', 'dns.truncated', 'dns.bad_pointer', 'dns.name_too_long', 'dns.bad_label_type']);

describe('dns real traffic: every message cut and mutated', () => {
  const messages = tsharkPackets(join(FIXTURES, 'dns-dnsmasq.pcap')).filter((p) => p.transport === 'udp').map((p) => p.payload);
  const opts = { maxRecordsPerSection: 1000, maxPointerHops: 64, mdns: false };

  test('cut at every length: always dns.truncated (truncated is kept apart from malformed)', () => {
    assert.equal(messages.length, 34); // 17 UDP exchanges
    for (const m of messages) {
      assert.equal(readMessage(m, 0, m.length, opts).issue, '');
      for (let n = 0; n < m.length; n++) {
        const r = readMessage(m, 0, n, opts);
        assert.equal(r.issue, 'dns.truncated', `cut at ${n} of ${m.length}`);
        assert.ok(r.issueOffset <= n, `offset ${r.issueOffset} within ${n}`);
      }
    }
  });

  test('every byte set to 00, 3f, 40, c0, ff: no throw, only known issue codes, offsets inside the message', () => {
    for (const m of messages) {
      for (let i = 0; i < m.length; i++) {
        for (const v of [0x00, 0x3f, 0x40, 0xc0, 0xff]) {
          const b = Buffer.from(m);
          b[i] = v;
          const r = readMessage(b, 0, b.length, opts);
          assert.ok(ISSUES.has(r.issue), r.issue);
          assert.ok(r.issueOffset <= b.length);
          for (const w of r.weird) assert.ok(WEIRD.has(w), w);
        }
      }
    }
  });
});

function list(field: string): string[] {
  return field === '' ? [] : field.split('|');
}

describe('dns real traffic: recorded fixture', () => {
  checkRecording(join(FIXTURES, 'dns-dnsmasq.pcap'), join(FIXTURES, 'dig-answers.txt'));
});

// Recorded afresh when this machine can (root for tcpdump, dnsmasq and dig installed).
const canRecord = process.getuid?.() === 0 && ['/usr/sbin/dnsmasq', '/usr/bin/dig', '/usr/bin/tcpdump', '/usr/sbin/tcpdump'].filter(existsSync).length >= 3;
describe('dns real traffic: recorded live', { skip: canRecord ? false : 'needs root, dnsmasq, dig and tcpdump' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapline-dns-'));
  execFileSync('sh', [join(FIXTURES, 'record.sh'), String(PORT), dir], { stdio: 'ignore', timeout: 60_000 });
  checkRecording(join(dir, 'dns-dnsmasq.pcap'), join(dir, 'dig-answers.txt'));
  test('clean up', () => rmSync(dir, { recursive: true, force: true }));
});

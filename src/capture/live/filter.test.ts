import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readCaptureFile } from '../index.js';
import { corpusDir } from '../../../test/support/paths.js';
import { checkFilterExpression, compileFilter, liveCaptureUnavailableReason, LiveCaptureError } from './index.js';

const skip = liveCaptureUnavailableReason() ?? undefined;

/** tcpdump's own count of the packets `expr` accepts in `file` (`--count`), or its error text. */
function tcpdumpCount(file: string, expr: string): Promise<{ count: number } | { error: string }> {
  return new Promise((resolve) => {
    execFile('tcpdump', ['-n', '--count', '-r', file, expr], { encoding: 'utf8' }, (err, stdout, stderr) => {
      const m = /^(\d+) packets?$/m.exec(stdout);
      if (!err && m) resolve({ count: Number(m[1]) });
      else resolve({ error: stderr.trim() });
    });
  });
}

const EXPRESSIONS = [
  'tcp',
  'udp port 53',
  'ip6',
  'icmp or arp',
  'greater 200',
  'vlan',
  'tcp[tcpflags] & tcp-syn != 0',
  'not ip and not ip6',
  'net 10.0.0.0/8 or host 192.168.1.1',
  'ether broadcast',
];

/** Every 15th .pcap of the corpus under 300 KB (about 50 files, many link types), in name order. */
function corpusSample(): string[] {
  const files = readdirSync(corpusDir)
    .filter((f) => f.endsWith('.pcap'))
    .sort()
    .filter((f) => statSync(join(corpusDir, f)).size < 300_000);
  return files.filter((_, i) => i % 15 === 0).map((f) => join(corpusDir, f));
}

describe('compileFilter', { skip }, () => {
  test('accepts the same packets as tcpdump on a corpus sample, and fails where tcpdump fails', async () => {
    let compared = 0;
    let rejectedByBoth = 0;
    let matchedSomething = 0;
    for (const file of corpusSample()) {
      const packets: { data: Buffer; origLen: number }[] = [];
      let linkType = -1;
      let snapLen = 0;
      try {
        const summary = await readCaptureFile(file, (p) => {
          packets.push({ data: p.data, origLen: p.origLen });
        });
        if (summary.interfaces.length !== 1) continue;
        linkType = summary.interfaces[0]!.linkType;
        // LINKTYPE_NULL's family word is in the byte order of the host that captured it;
        // libpcap compiles for a file's order, but a dead handle only knows this host's.
        if (linkType === 0) continue;
        snapLen = summary.interfaces[0]!.snapLen;
      } catch {
        continue; // damaged on purpose: tcpdump stops elsewhere, nothing to compare
      }
      for (const expr of EXPRESSIONS) {
        const oracle = await tcpdumpCount(file, expr);
        if ('error' in oracle) {
          // tcpdump rejects the expression for this link type: so must we.
          if (!/no .* support for|can't|not supported|supported only|syntax error|illegal|unknown/i.test(oracle.error)) continue;
          assert.throws(() => compileFilter(expr, linkType, snapLen), (e: unknown) => e instanceof LiveCaptureError && e.code === 'capture.bad_filter', `${file}: ${expr}`);
          rejectedByBoth++;
          continue;
        }
        const f = compileFilter(expr, linkType, snapLen);
        let ours = 0;
        for (const p of packets) if (f.matches(p.data, p.origLen)) ours++;
        assert.equal(ours, oracle.count, `${file} (link type ${linkType}): '${expr}'`);
        compared++;
        if (ours > 0) matchedSomething++;
      }
    }
    // The sample must exercise both outcomes, or this test could pass on nothing.
    assert.ok(compared >= 200, `compared ${compared}`);
    assert.ok(matchedSomething >= 30, `matched in ${matchedSomething}`);
    assert.ok(rejectedByBoth >= 1, `rejected ${rejectedByBoth}`);
  });

  test('a bad expression carries libpcap\'s message', () => {
    assert.throws(
      () => compileFilter('tcp port', 1, 65535),
      (e: unknown) => e instanceof LiveCaptureError && e.code === 'capture.bad_filter' && /'tcp port': can't parse filter expression: syntax error/.test(e.message),
    );
    assert.throws(
      () => compileFilter('port 99999', 1, 65535),
      (e: unknown) => e instanceof LiveCaptureError && e.code === 'capture.bad_filter' && /illegal port number 99999 > 65535/.test(e.message),
    );
    // Ethernet addresses mean nothing on raw IP.
    assert.throws(
      () => compileFilter('ether host 02:00:00:00:00:01', 101, 65535),
      (e: unknown) => e instanceof LiveCaptureError && e.code === 'capture.bad_filter' && /ethernet addresses supported only on/.test(e.message),
    );
  });

  test('a tap checks a live filter before it makes anything: refused when it fits no link type a live capture can have', () => {
    assert.throws(
      () => checkFilterExpression('tcp port'),
      (e: unknown) => e instanceof LiveCaptureError && e.code === 'capture.bad_filter' && /'tcp port': can't parse filter expression: syntax error/.test(e.message),
    );
    // Fits Ethernet but not raw IP: passes here, and each interface's link type decides when the capture opens.
    assert.doesNotThrow(() => checkFilterExpression('ether host 02:00:00:00:00:01'));
    assert.doesNotThrow(() => checkFilterExpression('tcp port 80 and not host 10.0.0.1'));
  });

  test('LINKTYPE_RAW (101) compiles as libpcap\'s DLT_RAW and looks at the IP header first', () => {
    // 45 00 00 1c 00 01 00 00 40 11 00 00 0a 00 00 01 0a 00 00 02   IPv4, UDP, 10.0.0.1 -> 10.0.0.2
    // 30 39 00 35 00 08 00 00                                        UDP 12345 -> 53
    const pkt = Buffer.from('4500001c0001000040110000' + '0a0000010a000002' + '3039003500080000', 'hex');
    assert.equal(compileFilter('udp dst port 53', 101).matches(pkt), true);
    assert.equal(compileFilter('udp dst port 54', 101).matches(pkt), false);
    assert.equal(compileFilter('src host 10.0.0.1', 101).matches(pkt), true);
    // Offset 0 is the IP header on raw IP, so the same bytes are no Ethernet frame.
    assert.equal(compileFilter('udp dst port 53', 1).matches(pkt), false);
  });

  test('origLen decides length filters when the snaplen cut the packet', () => {
    const pkt = Buffer.alloc(60);
    const f = compileFilter('greater 1000', 1, 64);
    assert.equal(f.matches(pkt), false);
    assert.equal(f.matches(pkt, 1500), true);
    assert.ok(f.instructions > 0);
  });
});

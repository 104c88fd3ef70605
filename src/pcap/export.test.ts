// Export against an oracle: real traffic (curl → nginx, dig → dnsmasq, redis-cli →
// redis-server) recorded by tcpdump in test namespaces, fed through the pipeline (for
// entries) and the ring (for packets); the packets the ring exports for chosen entries
// must be byte-identical to what tshark selects from the recording for the same
// connections.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCaptureFile } from '../capture/index.js';
import type { Entry } from '../entries/entry.js';
import { compile } from '../kfl/index.js';
import { createPipeline } from '../pipeline/index.js';
import { createTestNet, curlConfig, digArgs, netnsUnavailableReason, type TestNet } from '../../test/support/netns.js';
import { flowKey, flowsFromEntries, type FlowRequest } from './flow.js';
import { openPacketRing } from './ring.js';
import type { ExportOptions, PacketRing } from './types.js';
import { capinfos, readPackets, tsharkFields, type StoredPacket } from './test-support.js';

const hasTools = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v redis-server && command -v redis-cli'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const skip = netnsUnavailableReason() ?? (hasTools ? false : 'redis-server/redis-cli are not installed');
const T = { timeout: 120_000 };
const REDIS_PORT = 6379;

describe('export of recorded traffic', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapline-pcap-export-'));
  const recording = join(dir, 'recorded.pcap');
  let net: TestNet;
  let ring: PacketRing;
  let clientIp = '';
  let serverIp = '';
  const entries: Entry[] = [];
  let n = 0;

  before(async () => {
    net = await createTestNet('pcapexport');
    clientIp = net.ip.client;
    serverIp = net.ip.server;
    const nginx = await net.startNginx();
    const dns = await net.startDnsmasq();
    const redis = net.spawn('server', 'redis-server', ['--port', String(REDIS_PORT), '--bind', serverIp, '--save', '', '--appendonly', 'no', '--protected-mode', 'no']);
    for (let i = 0; i < 200; i++) {
      const r = await net.exec('server', 'ss', ['-H', '-ltn', `sport = :${REDIS_PORT}`], { check: false });
      if (r.stdout.trim() !== '') break;
      if (redis.exitCode !== null) throw new Error('redis-server exited');
      await new Promise((r) => setTimeout(r, 25));
    }
    const cap = await net.capture('client', net.iface.client, recording);
    const curl = async (paths: string[]): Promise<void> => {
      const cfg = join(net.dir, `curl-${n++}.cfg`);
      writeFileSync(cfg, curlConfig(nginx.baseUrl, paths.map((path) => ({ path }))));
      await net.exec('client', 'curl', ['-K', cfg]);
    };
    // Connection 1: three requests on one keep-alive connection, the 500 in the middle.
    await curl(['/healthz', '/status/500', '/files/size-16k.bin']);
    // Connection 2: a large body (many segments) and a 404.
    await curl(['/files/size-1m.bin', '/missing/page']);
    const names = dns.records.slice(0, 3).map((r) => ({ name: r.name, type: r.type }));
    await net.exec('client', 'dig', digArgs(dns.ip, dns.port, names, false));
    await net.exec('client', 'dig', digArgs(dns.ip, dns.port, names.slice(0, 2), true));
    await net.exec('client', 'redis-cli', ['-h', serverIp, '-p', String(REDIS_PORT), 'SET', 'tapline', 'ring']);
    await net.exec('client', 'redis-cli', ['-h', serverIp, '-p', String(REDIS_PORT), 'GET', 'tapline']);
    const stats = await cap.stop();
    assert.equal(stats.droppedByKernel, 0);
    await net.destroy();

    // Small segments, so connections cross segment boundaries.
    ring = openPacketRing({ dir: join(dir, 'ring'), maxBytes: 256 << 20, maxAgeSec: 1e9, segmentBytes: 256 * 1024, flushIntervalMs: 0 });
    const pipeline = createPipeline({ onEntry: (e) => entries.push(e) });
    await readCaptureFile(recording, (p) => {
      pipeline.push(p);
      ring.write(p);
    });
    pipeline.finish();
  });

  after(async () => {
    ring?.close();
    await net?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function exportFile(opts: Partial<ExportOptions>): Promise<{ file: string; packets: StoredPacket[]; count: number }> {
    const file = join(dir, `export-${n++}.pcapng`);
    const fd = openSync(file, 'w');
    let count: number;
    try {
      count = (await ring.export({ from: 0, to: Number.MAX_SAFE_INTEGER, comment: 'test', ...opts }, fd)).packets;
    } finally {
      closeSync(fd);
    }
    assert.equal(capinfos(file).get('Number of packets'), String(count), 'capinfos reads the export whole');
    return { file, packets: await readPackets(file), count };
  }

  /** The recording's packets that tshark's display filter selects, written by tshark and read back. */
  function tsharkSelect(filter: string): Promise<StoredPacket[]> {
    const out = join(dir, `tshark-${n++}.pcapng`);
    execFileSync('tshark', ['-r', recording, '-Y', filter, '-w', out], { stdio: 'ignore' });
    return readPackets(out);
  }

  /** tcp.stream of the connection whose client port is `port`. */
  function tcpStream(port: number): number {
    const rows = tsharkFields(recording, ['tcp.stream'], ['-Y', `tcp.port == ${port}`]);
    const streams = new Set(rows.map((r) => r[0]));
    assert.equal(streams.size, 1, `one connection on port ${port}`);
    return Number([...streams][0]);
  }

  /**
   * `got` holds `want`'s packets in the order an export writes them: by timestamp, ties in
   * capture order (src/pcap/README.md). That is the recording's order unless the kernel
   * stamped a packet earlier than the one tcpdump wrote before it, which happens on a veth
   * now and then (a 66-byte ACK 8 µs before the 1514-byte segment ahead of it).
   */
  function assertSame(got: StoredPacket[], recorded: StoredPacket[]): void {
    const want = [...recorded].sort((a, b) => a.tsSec - b.tsSec || a.tsNsec - b.tsNsec);
    assert.ok(want.length > 0);
    assert.equal(got.length, want.length);
    for (let i = 0; i < want.length; i++) {
      assert.deepEqual([got[i]!.tsSec, got[i]!.tsNsec, got[i]!.origLen], [want[i]!.tsSec, want[i]!.tsNsec, want[i]!.origLen], `packet ${i} times`);
      assert.ok(got[i]!.data.equals(want[i]!.data), `packet ${i} bytes`);
    }
  }

  test('the ring holds every recorded packet, and exports them all byte-identical', T, async () => {
    assert.ok(ring.segments().length >= 5, `${ring.segments().length} segments`);
    const all = await exportFile({});
    assertSame(all.packets, await readPackets(recording));
  });

  test('KFL "http and response.status == 500": the whole keep-alive connection of that entry', T, async () => {
    const q = compile('http and response.status == 500');
    const hits = entries.filter((e) => q.match(e));
    assert.equal(hits.length, 1);
    const flows = flowsFromEntries(hits);
    assert.equal(flows.length, 1);
    const out = await exportFile({ flows });
    // Three requests, the handshake and the FINs: everything tshark puts in that stream.
    assertSame(out.packets, await tsharkSelect(`tcp.stream == ${tcpStream(hits[0]!.src.port)}`));
  });

  test('entries of two connections and of DNS over UDP and TCP, together, in capture order', T, async () => {
    const notFound = entries.filter((e) => e.protocol.name === 'http' && (e.response as { status?: number } | undefined)?.status === 404);
    const dnsEntries = entries.filter((e) => e.protocol.name === 'dns');
    assert.equal(notFound.length, 1);
    assert.equal(dnsEntries.length, 5, 'three questions over UDP, two over TCP');
    const flows = flowsFromEntries([...notFound, ...dnsEntries]);
    const out = await exportFile({ flows });
    const stream = tcpStream(notFound[0]!.src.port);
    assertSame(out.packets, await tsharkSelect(`tcp.stream == ${stream} || udp.port == 53 || tcp.port == 53`));
  });

  test('a connection without a dissector (redis) is exported by its 5-tuple', T, async () => {
    const rows = tsharkFields(recording, ['tcp.srcport', 'tcp.stream'], ['-Y', `tcp.dstport == ${REDIS_PORT} && tcp.flags.syn == 1 && tcp.flags.ack == 0`]);
    assert.equal(rows.length, 2, 'two redis-cli connections');
    const [port, stream] = rows[1]!.map(Number) as [number, number];
    const flows: FlowRequest[] = [{ key: flowKey(clientIp, port, serverIp, REDIS_PORT, 6) }];
    const out = await exportFile({ flows, comment: `tapline export --flow ${clientIp}:${port}-${serverIp}:${REDIS_PORT}/tcp` });
    assertSame(out.packets, await tsharkSelect(`tcp.stream == ${stream}`));
    // The RESP request `GET tapline` (tshark 4.0 has no redis dissector: look at the TCP payload).
    const resp = '*2\r\n$3\r\nGET\r\n$7\r\ntapline\r\n';
    assert.equal(tsharkFields(out.file, ['frame.number'], ['-Y', `tcp.payload == ${Buffer.from(resp).toString('hex').replace(/(..)(?!$)/g, '$1:')}`]).length, 1);
  });

  test('capture-filter path: a predicate over raw frames and a time window', T, async () => {
    // UDP over IPv4 on Ethernet: ethertype 0x0800 at 12, protocol 17 at 23.
    const first = (await readPackets(recording))[0]!;
    const fromMs = first.tsSec * 1000 + first.tsNsec / 1e6;
    const out = await exportFile({ from: fromMs, to: fromMs + 3_600_000, filter: (pkt, linkType) => linkType === 1 && pkt.readUInt16BE(12) === 0x0800 && pkt[23] === 17 });
    assertSame(out.packets, await tsharkSelect('udp && !icmp'));
  });

  test('pod names from the name resolution block show in tshark', T, async () => {
    const names = new Map([
      [clientIp, ['frontend-7d9f-x2.shop']],
      [serverIp, ['nginx-0.web']],
    ]);
    const out = await exportFile({ flows: flowsFromEntries(entries.filter((e) => e.protocol.name === 'http').slice(0, 1)), names, comment: 'names' });
    const rows = tsharkFields(out.file, ['ip.src_host', 'ip.dst_host'], ['-N', 'n']);
    assert.ok(rows.length > 0);
    for (const [src, dst] of rows) assert.deepEqual([src, dst].sort(), ['frontend-7d9f-x2.shop', 'nginx-0.web']);
  });
});

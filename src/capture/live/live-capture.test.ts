import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPcapRecordParser, readCaptureFile, LinkType } from '../index.js';
import { createTestNet, curlConfig, digArgs, netnsUnavailableReason, type TestNet } from '../../../test/support/netns.js';
import { repoRoot } from '../../../test/support/paths.js';
import { openLiveCapture, liveCaptureUnavailableReason, LiveCaptureError, BUILD_COMMAND, type LiveCapture, type TsResolution } from './index.js';

const skipAddon = liveCaptureUnavailableReason() ?? undefined;
const skipNet = skipAddon ?? netnsUnavailableReason() ?? undefined;

interface Pkt {
  tsSec: number;
  tsNsec: number;
  origLen: number;
  data: Buffer;
}

/** Keeps every batch a capture hands over, with what came along with it. */
function collector(): {
  batches: { batch: Buffer; linkType: number; ts: TsResolution; iface: string }[];
  errors: LiveCaptureError[];
  onBatch: (batch: Buffer, linkType: number, ts: TsResolution, iface: string) => void;
  onError: (e: LiveCaptureError) => void;
  packets(): Pkt[];
} {
  const batches: { batch: Buffer; linkType: number; ts: TsResolution; iface: string }[] = [];
  const errors: LiveCaptureError[] = [];
  return {
    batches,
    errors,
    onBatch: (batch, linkType, ts, iface) => batches.push({ batch, linkType, ts, iface }),
    onError: (e) => errors.push(e),
    packets(): Pkt[] {
      const out: Pkt[] = [];
      for (const b of batches) {
        // One parser per batch: a batch always ends on a record boundary.
        const parser = createPcapRecordParser(b.linkType, 262144, b.ts, (p) => {
          out.push({ tsSec: p.tsSec, tsNsec: p.tsNsec, origLen: p.origLen, data: p.data });
        });
        parser.push(b.batch);
        parser.end();
      }
      return out;
    },
  };
}

async function readFilePackets(file: string): Promise<Pkt[]> {
  const out: Pkt[] = [];
  await readCaptureFile(file, (p) => out.push({ tsSec: p.tsSec, tsNsec: p.tsNsec, origLen: p.origLen, data: p.data }));
  return out;
}

/**
 * What a packet belongs to: `ipv4 proto src:port>dst:port`, 'arp', 'ipv6' or 'other',
 * read from the network layer on (the link header is skipped by the caller).
 */
function flowKey(l3: Buffer, etherType: number): string {
  if (etherType === 0x0806) return 'arp';
  if (etherType === 0x86dd) return 'ipv6';
  if (etherType !== 0x0800) return 'other';
  const ihl = (l3[0]! & 0x0f) * 4;
  const proto = l3[9]!;
  const src = `${l3[12]}.${l3[13]}.${l3[14]}.${l3[15]}`;
  const dst = `${l3[16]}.${l3[17]}.${l3[18]}.${l3[19]}`;
  const ports = proto === 6 || proto === 17 ? [l3.readUInt16BE(ihl), l3.readUInt16BE(ihl + 2)] : [0, 0];
  return `ipv4 ${proto} ${src}:${ports[0]}>${dst}:${ports[1]}`;
}

/** Ethernet frame → [etherType, bytes from the network layer on]. */
function ethernetL3(frame: Buffer): [number, Buffer] {
  return [frame.readUInt16BE(12), frame.subarray(14)];
}

/*
 * SLL2 (LINKTYPE_LINUX_SLL2), 20 bytes before the network layer:
 *   00 01 02 03  protocol type (EtherType, big-endian), reserved
 *   04 .. 07     interface index (big-endian)
 *   08 09 0a 0b  ARPHRD type, packet type, address length
 *   0c .. 13     link-layer address (8 bytes, padded)
 */
function sll2L3(frame: Buffer): [number, number, Buffer] {
  return [frame.readUInt16BE(0), frame.readUInt32BE(4), frame.subarray(20)];
}

/** Packets grouped by flow, each flow's packets as hex in capture order. */
function byFlow(packets: [string, Buffer][], keep: (key: string) => boolean): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const [key, bytes] of packets) {
    if (!keep(key)) continue;
    let list = m.get(key);
    if (!list) m.set(key, (list = []));
    list.push(bytes.toString('hex'));
  }
  return m;
}

function sortedEntries(m: Map<string, string[]>): [string, string[]][] {
  return [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/**
 * tcpdump on the same interface, as test/support/netns.ts runs it but writing
 * nanosecond timestamps, so ours can be compared to the last digit.
 */
async function startTcpdump(net: TestNet, file: string): Promise<{ stop(): Promise<string> }> {
  const child = net.spawn('client', 'tcpdump', ['-i', net.iface.client, '-n', '-U', '--immediate-mode', '--time-stamp-precision=nano', '-s', '2048', '-B', '65536', '-w', file]);
  let err = '';
  child.stderr!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: string) => {
      err += d;
      // From "listening on" on, nothing is missed.
      if (err.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`tcpdump exited (${code}): ${err}`)));
  });
  return {
    async stop(): Promise<string> {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
      return err;
    },
  };
}

function isTestAddress(ip: string, net: TestNet): boolean {
  return ip === net.ip.client || ip === net.ip.server || ip.startsWith('127.');
}

describe('openLiveCapture on a veth between test namespaces', { skip: skipNet }, () => {
  let net: TestNet;
  let tcpdumpPackets: Pkt[];
  let tcpdumpReport: string;
  const all = collector();
  const dnsOnly = collector();
  const anyDev = collector();
  // Copies each batch out and gives its buffer back (takeBuffer), as the tap does once a
  // batch is dissected; every other time it offers one too small, which must not be used.
  const again = { batches: [] as Buffer[], given: new Set<ArrayBuffer>(), spare: undefined as ArrayBuffer | undefined, refills: 0, asked: 0 };
  let caps: { all: LiveCapture; dnsOnly: LiveCapture; any: LiveCapture; again: LiveCapture };
  let tlcIndex: number;
  let startedAt: number;
  let stoppedAt: number;

  before(async () => {
    net = await createTestNet('live');
    const nginx = await net.startNginx();
    const dns = await net.startDnsmasq();
    const file = join(net.dir, 'tcpdump.pcap');
    const tcpdump = await startTcpdump(net, file);
    const common = { netns: net.ns.client, snaplen: 2048 };
    startedAt = Date.now();
    caps = {
      all: openLiveCapture({ ...common, interfaces: [net.iface.client], onBatch: all.onBatch, onError: all.onError }),
      dnsOnly: openLiveCapture({ ...common, interfaces: [net.iface.client], filter: 'port 53', onBatch: dnsOnly.onBatch, onError: dnsOnly.onError }),
      any: openLiveCapture({ ...common, interfaces: 'any', onBatch: anyDev.onBatch, onError: anyDev.onError }),
      again: openLiveCapture({
        ...common,
        interfaces: [net.iface.client],
        batchBytes: 4096, // many batches of this short traffic
        onBatch: (batch) => {
          assert.equal(batch.byteOffset, 0);
          if (again.given.has(batch.buffer as ArrayBuffer)) again.refills++;
          again.batches.push(Buffer.from(batch));
          batch.fill(0xa5); // what was delivered is not read again
          again.spare = batch.buffer as ArrayBuffer;
        },
        takeBuffer: (bytes) => {
          const b = again.asked++ % 2 === 1 ? new ArrayBuffer(Math.max(0, bytes - 1)) : again.spare;
          again.spare = undefined;
          if (b !== undefined) again.given.add(b);
          return b;
        },
        onError: (e) => assert.fail(e),
      }),
    };
    tlcIndex = Number(/^(\d+):/.exec(execFileSync('ip', ['-n', net.ns.client, '-o', 'link', 'show', net.iface.client], { encoding: 'utf8' }))![1]);

    const cfg = join(net.dir, 'curl.cfg');
    writeFileSync(
      cfg,
      curlConfig(nginx.baseUrl, [
        { path: '/json/small.json' },
        { path: '/files/size-64k.bin' },
        { path: '/html/index.html', compressed: true },
        { path: '/status/500' },
        { path: '/api/orders', method: 'POST', body: '{"sku":"SKU-00042"}' },
      ]),
    );
    await net.exec('client', 'curl', ['-K', cfg]);
    const questions = [
      { name: 'cart.shop.svc.cluster.local', type: 'A' },
      { name: 'www.example.test', type: 'CNAME' },
      { name: 'missing.example.test', type: 'A' },
    ];
    await net.exec('client', 'dig', digArgs(dns.ip, dns.port, questions, false));
    await net.exec('client', 'dig', digArgs(dns.ip, dns.port, questions.slice(0, 1), true));

    // Ours drain the kernel's buffers before they resolve; tcpdump runs in immediate mode
    // and writes each packet through (-U), so it is stopped after ours.
    await Promise.all([caps.all.stop(), caps.dnsOnly.stop(), caps.any.stop(), caps.again.stop()]);
    stoppedAt = Date.now();
    tcpdumpReport = await tcpdump.stop();
    tcpdumpPackets = await readFilePackets(file);
  });

  after(async () => {
    await Promise.all(caps ? [caps.all.stop(), caps.dnsOnly.stop(), caps.any.stop(), caps.again.stop()] : []);
    await net?.destroy();
  });

  test('describes the interface: Ethernet, nanosecond timestamps', () => {
    assert.deepEqual(caps.all.interfaces, [{ name: 'tlc0', linkType: LinkType.ETHERNET, tsResolution: 'ns', snaplen: 2048, warning: null }]);
    assert.equal(caps.all.linkType, LinkType.ETHERNET);
    assert.ok(all.batches.every((b) => b.iface === 'tlc0' && b.linkType === 1 && b.ts === 'ns'));
    assert.deepEqual(all.errors, []);
  });

  test('captures the same packets as tcpdump on the same interface, flow by flow, byte for byte', () => {
    const ours = all.packets();
    const keyed = (ps: Pkt[]): [string, Buffer][] => ps.map((p) => {
      const [type, l3] = ethernetL3(p.data);
      return [flowKey(l3, type), p.data];
    });
    // IPv6 neighbour and router chatter starts on its own whenever the kernel likes,
    // possibly between the two captures' starts; everything else is the test's traffic.
    const keep = (k: string): boolean => k !== 'ipv6';
    const oursByFlow = byFlow(keyed(ours), keep);
    const theirsByFlow = byFlow(keyed(tcpdumpPackets), keep);
    assert.deepEqual(sortedEntries(oursByFlow), sortedEntries(theirsByFlow));
    // The traffic itself: one HTTP connection to 8080, DNS over UDP and over TCP.
    const flows = [...oursByFlow.keys()];
    assert.ok(flows.some((k) => k.startsWith('ipv4 6 ') && k.endsWith(`>${net.ip.server}:8080`)), flows.join('\n'));
    assert.ok(flows.some((k) => k.startsWith('ipv4 17 ') && k.endsWith(`>${net.ip.server}:53`)), flows.join('\n'));
    assert.ok(flows.some((k) => k.startsWith('ipv4 6 ') && k.endsWith(`>${net.ip.server}:53`)), flows.join('\n'));
    const tcpPackets = [...oursByFlow.entries()].filter(([k]) => k.startsWith('ipv4 6 ')).reduce((n, [, l]) => n + l.length, 0);
    assert.ok(tcpPackets > 60, `only ${tcpPackets} TCP packets`); // 64 KiB alone needs 45 segments
    assert.match(tcpdumpReport, /\b0 packets dropped by kernel/);
  });

  test('timestamps are the kernel\'s: sent packets carry to the nanosecond the stamp tcpdump wrote', () => {
    // The kernel stamps an outgoing packet once for every tap (dev_queue_xmit_nit clones it
    // once); an incoming one is stamped per socket when nothing stamped it before, so
    // only the sent ones can be compared exactly.
    const sent = (p: Pkt): boolean => ethernetL3(p.data)[0] === 0x0800 && ethernetL3(p.data)[1].subarray(12, 16).join('.') === net.ip.client;
    const stamp = (p: Pkt): string => `${p.tsSec}.${String(p.tsNsec).padStart(9, '0')} ${p.data.toString('hex')}`;
    const ours = all.packets();
    assert.deepEqual(ours.filter(sent).map(stamp).sort(), tcpdumpPackets.filter(sent).map(stamp).sort());
    assert.ok(ours.filter(sent).length > 10);
    // Every stamp, received ones too, lies within the wall-clock time the test ran.
    for (const p of ours) {
      const ms = p.tsSec * 1000 + p.tsNsec / 1e6;
      assert.ok(ms >= startedAt - 1 && ms <= stoppedAt + 1, `${ms} outside ${startedAt}..${stoppedAt}`);
    }
    // Nanoseconds really are nanoseconds: not every stamp is a whole microsecond.
    assert.ok(ours.some((p) => p.tsNsec % 1000 !== 0));
  });

  test('packets arrive in batches, and the counters agree with what was delivered', () => {
    const n = all.packets().length;
    const s = caps.all.stats();
    assert.equal(s.captured, n);
    assert.equal(s.capturedBytes, all.packets().reduce((a, p) => a + p.data.length, 0));
    assert.equal(s.batches, all.batches.length);
    assert.ok(all.batches.length * 2 <= n, `${all.batches.length} batches for ${n} packets`);
    assert.equal(s.droppedByKernel, 0);
    assert.equal(s.droppedByInterface, 0);
    assert.ok(s.received >= n);
    assert.equal(s.interfaces.length, 1);
    assert.equal(s.interfaces[0]!.name, 'tlc0');
    assert.equal(s.interfaces[0]!.running, false);
    assert.equal(s.interfaces[0]!.captured, n);
  });

  test('batches copied into buffers given back (takeBuffer) hold the same packets; a buffer too small is not used', () => {
    const records = (bs: Buffer[]): string[] => {
      const out: string[] = [];
      for (const b of bs) {
        // Bytes only: a received packet is stamped per socket (see the timestamps test). IPv6
        // chatter may come between the two captures' starts (see the tcpdump test).
        const parser = createPcapRecordParser(LinkType.ETHERNET, 262144, 'ns', (p) => {
          if (ethernetL3(p.data)[0] !== 0x86dd) out.push(p.data.toString('hex'));
        });
        parser.push(b);
        parser.end();
      }
      return out;
    };
    const want = records(all.batches.map((b) => b.batch));
    assert.ok(want.length > 60);
    assert.deepEqual(records(again.batches), want);
    assert.ok(again.asked >= again.batches.length, `asked ${again.asked} times for ${again.batches.length} batches`);
    // Half the offers were big enough: those batches came in the buffer given back.
    assert.ok(again.refills >= 1 && again.refills <= Math.ceil(again.batches.length / 2), `${again.refills} of ${again.batches.length} batches refilled`);
  });

  test('filter "port 53" captures the DNS packets and nothing else', () => {
    const ours = dnsOnly.packets().map((p): [string, Buffer] => {
      const [type, l3] = ethernetL3(p.data);
      return [flowKey(l3, type), p.data];
    });
    const isDns = (k: string): boolean => /:53>|:53$/.test(k);
    assert.ok(ours.length > 0);
    assert.deepEqual(ours.filter(([k]) => !isDns(k)).map(([k]) => k), []);
    const theirs = tcpdumpPackets.map((p): [string, Buffer] => {
      const [type, l3] = ethernetL3(p.data);
      return [flowKey(l3, type), p.data];
    });
    assert.deepEqual(sortedEntries(byFlow(ours, isDns)), sortedEntries(byFlow(theirs, isDns)));
    assert.ok(ours.some(([k]) => k.startsWith('ipv4 17 ')) && ours.some(([k]) => k.startsWith('ipv4 6 ')));
  });

  test('"any" delivers SLL2 with interface indexes; every address is inside the test namespaces', () => {
    assert.equal(caps.any.linkType, LinkType.LINUX_SLL2);
    assert.equal(caps.any.interfaces[0]!.name, 'any');
    const packets = anyDev.packets().map((p) => sll2L3(p.data));
    assert.ok(packets.length > 0);
    // The veth's IPv4 packets seen through "any" are the veth capture's, minus the Ethernet header.
    const viaAny = packets.filter(([type, idx]) => type === 0x0800 && idx === tlcIndex).map(([, , l3]) => l3.toString('hex'));
    const direct = all.packets().map((p) => ethernetL3(p.data)).filter(([type]) => type === 0x0800).map(([, l3]) => l3.toString('hex'));
    assert.deepEqual(viaAny.sort(), direct.sort());
    for (const [type, , l3] of packets) {
      if (type === 0x0800) {
        const src = `${l3[12]}.${l3[13]}.${l3[14]}.${l3[15]}`;
        const dst = `${l3[16]}.${l3[17]}.${l3[18]}.${l3[19]}`;
        assert.ok(isTestAddress(src, net) && isTestAddress(dst, net), `${src} > ${dst}`);
      } else if (type === 0x86dd) {
        // Only link-local, multicast, loopback or unspecified (duplicate address detection).
        for (const off of [8, 24]) {
          const a = l3.subarray(off, off + 16);
          const linkLocal = a[0] === 0xfe && (a[1]! & 0xc0) === 0x80;
          const multicast = a[0] === 0xff;
          const loopOrUnspec = a.subarray(0, 15).every((b) => b === 0) && (a[15] === 0 || a[15] === 1);
          assert.ok(linkLocal || multicast || loopOrUnspec, a.toString('hex'));
        }
      } else {
        assert.equal(type, 0x0806, `unexpected protocol 0x${type.toString(16)}`);
      }
    }
  });

  test('stop() is idempotent: the same promise, and nothing arrives after it', async () => {
    const n = all.batches.length;
    const p1 = caps.all.stop();
    assert.equal(caps.all.stop(), p1);
    await p1;
    assert.equal(all.batches.length, n);
  });
});

describe('stopping under load', { skip: skipNet }, () => {
  test('stop() while batches are in flight delivers whole records and ends the thread', async () => {
    const net = await createTestNet('livestop');
    try {
      const nginx = await net.startNginx();
      const c = collector();
      let stopAfterFirst: Promise<void> | undefined;
      let batchesAtStop = -1;
      const cap: LiveCapture = openLiveCapture({
        interfaces: [net.iface.client],
        netns: net.ns.client,
        batchBytes: 65536,
        batchPool: 2,
        flushMs: 1,
        onBatch(batch, linkType, ts, iface) {
          c.onBatch(batch, linkType, ts, iface);
          if (!stopAfterFirst) {
            batchesAtStop = c.batches.length;
            stopAfterFirst = cap.stop();
          }
        },
        onError: c.onError,
      });
      // 5 MB keeps the link busy while the capture stops.
      const transfer = net.exec('client', 'curl', ['-s', '-o', '/dev/null', `${nginx.baseUrl}/files/size-5m.bin`]);
      await transfer;
      if (!stopAfterFirst) await cap.stop();
      await stopAfterFirst;
      const after = c.batches.length;
      assert.ok(batchesAtStop >= 1);
      // Every batch parses to whole records: nothing torn by the stop.
      const packets = c.packets();
      assert.equal(packets.length, cap.stats().captured);
      assert.equal(cap.stats().interfaces[0]!.running, false);
      assert.deepEqual(c.errors, []);
      await cap.stop();
      assert.equal(c.batches.length, after);
    } finally {
      await net.destroy();
    }
  });
});

describe('a consumer slower than the link', { skip: skipNet }, () => {
  /** Captures one 5 MiB download with a pool of `batchPool` batches of `batchBytes`, each taking `msPerBatch` to consume. */
  async function download(net: TestNet, baseUrl: string, batchPool: number, batchBytes: number, msPerBatch: number) {
    const c = collector();
    const cap: LiveCapture = openLiveCapture({
      interfaces: [net.iface.client],
      netns: net.ns.client,
      filter: 'tcp',
      batchBytes,
      batchPool,
      // Only full batches go out while the download runs: on a busy machine, part-filled ones
      // handed over every 50 ms could use up the roomy pool too.
      flushMs: 2000,
      onBatch(batch, linkType, ts, iface) {
        c.onBatch(batch, linkType, ts, iface);
        const until = Date.now() + msPerBatch;
        while (Date.now() < until);
      },
      onError: c.onError,
    });
    const got = await net.exec('client', 'curl', ['-s', '-o', '/dev/null', '-w', '%{size_download}', `${baseUrl}/files/size-5m.bin`]);
    assert.equal(got.stdout.trim(), String(5 * 1024 * 1024));
    await cap.stop();
    const packets = c.packets();
    const payload = packets.reduce((n, p) => {
      const [etherType, l3] = ethernetL3(p.data);
      if (etherType !== 0x0800 || l3[9] !== 6) return n;
      const ihl = (l3[0]! & 0x0f) * 4;
      return n + l3.readUInt16BE(2) - ihl - (l3[ihl + 12]! >> 4) * 4;
    }, 0);
    assert.deepEqual(c.errors, []);
    return { stats: cap.stats(), packets: packets.length, payload };
  }

  test('the capture waits for its batches (stalls) while the kernel buffer holds the packets, and loses none', async () => {
    const net = await createTestNet('livestall');
    try {
      const nginx = await net.startNginx();
      // 16 batches of 1 MiB hold the whole download: the capture never waits.
      const roomy = await download(net, nginx.baseUrl, 16, 1 << 20, 0);
      assert.equal(roomy.stats.stalls, 0);
      // 2 batches of 64 KiB, 10 ms each: the link is far faster than this consumer.
      const slow = await download(net, nginx.baseUrl, 2, 65536, 10);
      assert.ok(slow.stats.stalls > 0, `stalls ${slow.stats.stalls} in ${slow.stats.batches} batches`);
      for (const r of [roomy, slow]) {
        assert.equal(r.stats.droppedByKernel, 0);
        assert.equal(r.packets, r.stats.captured);
        // Every byte of the file (and of both heads) was captured.
        assert.ok(r.payload > 5 * 1024 * 1024, `${r.payload} bytes of TCP payload`);
      }
    } finally {
      await net.destroy();
    }
  });
});

const self = fileURLToPath(import.meta.url);
const childScript = self.replace(/live-capture\.test\.(ts|js)$/, 'live-capture-child.$1');

function runChild(wrapper: string[], args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; signal: string | null; out: Record<string, unknown>; stderr: string }> {
  const node = [process.execPath, ...process.execArgv.filter((a) => !a.startsWith('--test')), childScript, ...args];
  const [cmd, ...rest] = [...wrapper, ...node];
  return new Promise((resolve, reject) => {
    const child = execFile(cmd!, rest, { cwd: repoRoot, env, encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line) {
        reject(new Error(`child printed nothing (${err?.message}): ${stderr}`));
        return;
      }
      resolve({ code: child.exitCode, signal: child.signalCode, out: JSON.parse(line) as Record<string, unknown>, stderr });
    });
  });
}

function hasTool(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

describe('errors', { skip: skipAddon }, () => {
  test('without CAP_NET_RAW and CAP_NET_ADMIN the error names them and says how to grant them', { skip: !isRoot || !hasTool('capsh') ? 'needs root and capsh (libcap2-bin)' : undefined }, async () => {
    // capsh drops both from the bounding set; the exec'd shell (and node) can then never hold them.
    const r = await runChild(['capsh', '--drop=cap_net_raw,cap_net_admin', '--', '-c', 'exec "$0" "$@"'], ['open']);
    assert.deepEqual(r.out.missing, ['CAP_NET_RAW', 'CAP_NET_ADMIN']);
    assert.equal(r.out.ok, false);
    assert.equal(r.out.code, 'capture.permission_denied');
    assert.equal(r.out.interfaceName, 'lo');
    const msg = r.out.message as string;
    assert.match(msg, /^live capture on lo needs the CAP_NET_RAW and CAP_NET_ADMIN capabilities, which this process does not have\./);
    assert.match(msg, /setcap cap_net_raw,cap_net_admin=eip \/\S+node\S*`/);
    assert.match(msg, /or run as root/);
    assert.match(msg, /libpcap: .*Operation not permitted/);
  });

  test('with the capabilities the same child opens the capture', { skip: !isRoot ? 'needs root' : undefined }, async () => {
    const r = await runChild([], ['open']);
    assert.deepEqual(r.out, { missing: [], ok: true });
  });

  test('an addon that is not built gives capture.addon_missing with the build command', async () => {
    const r = await runChild([], ['open'], { ...process.env, TAPLINE_PCAP_ADDON: '/nonexistent/pcap_binding.node' });
    assert.equal(r.out.code, 'capture.addon_missing');
    assert.ok((r.out.message as string).includes('/nonexistent/pcap_binding.node is missing'));
    assert.ok((r.out.message as string).includes(BUILD_COMMAND));
  });

  test('exiting the process while capturing, without stop(), ends cleanly', { skip: !isRoot ? 'needs root' : undefined }, async () => {
    const r = await runChild([], ['exit']);
    assert.equal(r.out.ok, true);
    assert.ok((r.out.batchBytes as number) >= 16 + 42 + 32);
    assert.equal(r.signal, null);
    assert.equal(r.code, 0);
  });

  test('a bad filter fails at start with libpcap\'s message', { skip: !isRoot ? 'needs root' : undefined }, () => {
    assert.throws(
      () => openLiveCapture({ interfaces: ['lo'], filter: 'port 99999', onBatch() {}, onError() {} }),
      (e: unknown) => e instanceof LiveCaptureError && e.code === 'capture.bad_filter' && e.interfaceName === 'lo' && /illegal port number 99999 > 65535/.test(e.message),
    );
  });

  test('an unknown interface, a repeated name and an option out of range are coded errors', { skip: !isRoot ? 'needs root' : undefined }, () => {
    const noop = { onBatch() {}, onError() {} };
    assert.throws(
      () => openLiveCapture({ interfaces: ['tlnope0'], ...noop }),
      (e: unknown) => e instanceof LiveCaptureError && e.code === 'capture.no_such_interface' && e.interfaceName === 'tlnope0' && /tlnope0/.test(e.message),
    );
    assert.throws(() => openLiveCapture({ interfaces: ['lo', 'lo'], ...noop }), (e: unknown) => e instanceof LiveCaptureError && e.code === 'capture.bad_option');
    assert.throws(() => openLiveCapture({ interfaces: [], ...noop }), (e: unknown) => e instanceof LiveCaptureError && e.code === 'capture.bad_option');
    assert.throws(
      () => openLiveCapture({ interfaces: ['lo'], snaplen: 10, ...noop }),
      (e: unknown) => e instanceof LiveCaptureError && e.code === 'capture.bad_option' && /snaplen must be an integer in 64\.\.262144/.test(e.message),
    );
  });
});

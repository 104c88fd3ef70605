/**
 * Live-capture throughput: tcpreplay sends N small UDP frames into the client end of a
 * veth between test namespaces; the capture listens on the server end. Compared with
 * `tcpdump -w /dev/null` on the same link at the same rates.
 *
 *   node --import tsx src/capture/live/bench-live.ts [packets] [rate,rate,...|top]
 *   node --import tsx src/capture/live/bench-live.ts [packets] drain
 *
 * Needs root, iproute2, tcpdump, tcpreplay. Prints one line per run and, per tool, the
 * highest rate that lost nothing.
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPcapRecordParser } from '../index.js';
import { pcapFileHeader } from '../capture-writer.js';
import { createTestNet, type TestNet } from '../../../test/support/netns.js';
import { openLiveCapture } from './index.js';

const total = Number(process.argv[2] ?? 500_000);
const rates = (process.argv[3] ?? '50000,100000,200000,300000,400000,600000,top').split(',');

/** A pcap of `n` 60-byte Ethernet/IPv4/UDP frames from the client to the server address. */
function writeTrafficFile(file: string, n: number, src: string, dst: string): void {
  const frameLen = 60;
  const buf = Buffer.alloc(24 + n * (16 + frameLen));
  pcapFileHeader(1).copy(buf, 0);
  const ip = (s: string): number[] => s.split('.').map(Number);
  for (let i = 0; i < n; i++) {
    const o = 24 + i * (16 + frameLen);
    buf.writeUInt32LE(Math.floor(i / 1_000_000), o);
    buf.writeUInt32LE(i % 1_000_000, o + 4);
    buf.writeUInt32LE(frameLen, o + 8);
    buf.writeUInt32LE(frameLen, o + 12);
    const f = o + 16;
    buf.fill(0xff, f, f + 6); // broadcast: the peer takes it without ARP
    Buffer.from([0x02, 0, 0, 0, 0, 1]).copy(buf, f + 6);
    buf.writeUInt16BE(0x0800, f + 12);
    const ipo = f + 14;
    buf[ipo] = 0x45;
    buf.writeUInt16BE(46, ipo + 2);
    buf[ipo + 8] = 64;
    buf[ipo + 9] = 17;
    Buffer.from(ip(src)).copy(buf, ipo + 12);
    Buffer.from(ip(dst)).copy(buf, ipo + 16);
    buf.writeUInt16BE(40000 + (i % 1000), ipo + 20);
    buf.writeUInt16BE(9, ipo + 22); // discard
    buf.writeUInt16BE(26, ipo + 24);
  }
  writeFileSync(file, buf);
}

async function replay(net: TestNet, file: string, rate: string): Promise<number> {
  const args = rate === 'top' ? ['--topspeed'] : ['--pps', rate];
  const t0 = process.hrtime.bigint();
  await net.exec('client', 'tcpreplay', ['-q', '-i', net.iface.client, ...args, file], { timeoutMs: 600_000 });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function runOurs(net: TestNet, file: string, rate: string): Promise<{ got: number; dropped: number; secs: number }> {
  let got = 0;
  const cap = openLiveCapture({
    interfaces: [net.iface.server],
    netns: net.ns.server,
    filter: 'udp port 9',
    onBatch(batch, linkType, ts) {
      // The least a consumer does: walk every record.
      const p = createPcapRecordParser(linkType, 262144, ts, () => {
        got++;
      });
      p.push(batch);
      p.end();
    },
    onError(e) {
      console.error(e);
    },
  });
  const secs = await replay(net, file, rate);
  await cap.stop();
  return { got, dropped: cap.stats().droppedByKernel, secs };
}

/** `tcpdump -w /dev/null 'udp port 9'` on the server's veth with `extra` flags, once it says it is listening; stderr() is all it wrote so far. */
async function startTcpdump(net: TestNet, extra: string[]): Promise<{ child: ReturnType<typeof spawn>; stderr(): string }> {
  const child = spawn('ip', ['netns', 'exec', net.ns.server, 'tcpdump', '-i', net.iface.server, '-n', ...extra, '-w', '/dev/null', 'udp port 9'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8');
  await new Promise<void>((resolve) =>
    child.stderr!.on('data', (d: string) => {
      err += d;
      if (err.includes('listening on')) resolve();
    }),
  );
  return { child, stderr: () => err };
}

async function runTcpdump(net: TestNet, file: string, rate: string): Promise<{ got: number; dropped: number; secs: number }> {
  // tcpdump's defaults (2 MiB buffer would be unfair to it next to our 32 MiB): same buffer as ours.
  const { child, stderr } = await startTcpdump(net, ['-B', String(32 * 1024)]);
  const secs = await replay(net, file, rate);
  // tcpdump reads in block mode with a 1 s timeout: let the last block reach it before SIGINT.
  await sleep(1200);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await exited;
  const num = (re: RegExp): number => Number(re.exec(stderr())?.[1] ?? NaN);
  return { got: num(/(\d+) packets? captured/), dropped: num(/(\d+) packets? dropped by kernel/), secs };
}

/**
 * The addon-to-JavaScript ceiling: the main thread is blocked (execFileSync) while
 * tcpreplay fills the kernel ring, then the time to hand everything to JavaScript is
 * measured. No sender limits this number.
 */
async function drainRate(net: TestNet, file: string): Promise<void> {
  let got = 0;
  let t0 = 0n;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const cap = openLiveCapture({
    interfaces: [net.iface.server],
    netns: net.ns.server,
    filter: 'udp port 9',
    bufferBytes: 1 << 30,
    onBatch(batch, linkType, ts) {
      const p = createPcapRecordParser(linkType, 262144, ts, () => {
        got++;
      });
      p.push(batch);
      p.end();
      if (got === total) resolveAll();
    },
    onError(e) {
      console.error(e);
    },
  });
  execFileSync('ip', ['netns', 'exec', net.ns.client, 'tcpreplay', '-q', '-i', net.iface.client, '--topspeed', file]);
  t0 = process.hrtime.bigint();
  await all;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const s = cap.stats();
  await cap.stop();
  console.log(`drain: ${total} packets queued in the kernel reached JS in ${secs.toFixed(3)} s = ${Math.round(total / secs)} pps, ${(s.capturedBytes / secs / 1e6).toFixed(1)} MB/s of packet data (batches ${s.batches}, kernel drops ${s.droppedByKernel})`);
}

/** The same for tcpdump: stopped (SIGSTOP) while the ring fills, then timed from SIGCONT until `-c N` makes it exit. */
async function drainRateTcpdump(net: TestNet, file: string): Promise<void> {
  const { child, stderr } = await startTcpdump(net, ['-B', String(1 << 20), '-c', String(total)]);
  // `ip netns exec` execs tcpdump in place: the child's pid is tcpdump's.
  const pid = child.pid!;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(pid, 'SIGSTOP');
  execFileSync('ip', ['netns', 'exec', net.ns.client, 'tcpreplay', '-q', '-i', net.iface.client, '--topspeed', file]);
  const t0 = process.hrtime.bigint();
  process.kill(pid, 'SIGCONT');
  await exited;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`drain: tcpdump -w /dev/null took ${secs.toFixed(3)} s = ${Math.round(total / secs)} pps (${stderr().trim().split('\n').slice(-3).join('; ')})`);
}

const net = await createTestNet('benchlive');
try {
  const file = join(net.dir, 'udp.pcap');
  writeTrafficFile(file, total, net.ip.client, net.ip.server);
  execFileSync('ip', ['-n', net.ns.server, 'link', 'set', net.iface.server, 'promisc', 'on']);
  const best: Record<string, string> = { tapline: '-', tcpdump: '-' };
  if (rates[0] === 'drain') {
    await drainRate(net, file);
    await drainRateTcpdump(net, file);
  }
  for (const rate of rates[0] === 'drain' ? [] : rates) {
    for (const [name, run] of [['tapline', runOurs], ['tcpdump', runTcpdump]] as const) {
      const r = await run(net, file, rate);
      const pps = Math.round(total / r.secs);
      const lossFree = r.got === total && r.dropped === 0;
      if (lossFree) best[name] = `${pps} pps (asked ${rate})`;
      console.log(`${name.padEnd(8)} rate=${rate.padStart(7)} sent ${pps} pps  got ${r.got}/${total}  kernel drops ${r.dropped}${lossFree ? '  loss-free' : ''}`);
    }
  }
  if (rates[0] !== 'drain') console.log(`highest loss-free: tapline ${best.tapline}; tcpdump ${best.tcpdump}`);
} finally {
  await net.destroy();
}

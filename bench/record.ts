// Records the benchmark capture: real clients (curl, dig) talking to real
// servers (nginx, dnsmasq) in two network namespaces, written by tcpdump.
// Recorded once into .cache/bench/ (gitignored) and reused; removed files are
// recorded again. Run it alone with `node dist/bench/record.js [--force]`.
//
// The mix, per curl process (one keep-alive connection, reopened by curl
// after the 500/503 answers nginx closes): mostly 0.3–50 KB JSON and HTML,
// half of it gzip (chunked), 404s on varied API paths, 500/503, 304s,
// redirects, POSTs with bodies, HEADs, and about 1 in 250 a 1–5 MB file.
// Beside it, dig asks many names and types over UDP and TCP, with NXDOMAINs.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../test/support/paths.js';
import {
  createTestNet,
  curlConfig,
  digArgs,
  dnsRecords,
  nginxResources,
  parseCurlWriteOut,
  type HttpRequestSpec,
  type TestNet,
} from '../test/support/netns.js';
import { prng as rng } from '../src/common/prng.js';

/** Bump when the mix changes, so old caches are not measured as new ones. */
export const CAPTURE_VERSION = 'v1';
export const benchCacheDir = join(repoRoot, '.cache', 'bench');
export const captureFile = join(benchCacheDir, `capture-${CAPTURE_VERSION}.pcap`);

/** Limits of one recording: it stops at whichever comes first after the size is reached. */
export const RECORD_LIMITS = {
  /** Stop starting rounds once the file is this big. */
  targetBytes: 210 * 1000 * 1000,
  /** Never start a round after this long (the whole recording stays under 3 minutes). */
  deadlineMs: 150_000,
  maxRounds: 40,
  /** Concurrent curl processes per round, each on its own connection. */
  curlClients: 6,
  requestsPerClient: 350,
  /** dig processes per round: UDP ones and one TCP one. */
  digUdpClients: 3,
  questionsPerDig: 200,
  tcpQuestionsPerRound: 40,
  /** Bound on one client command. */
  commandTimeoutMs: 60_000,
} as const;

export interface CaptureSummary {
  file: string;
  version: string;
  bytes: number;
  packets: number;
  rounds: number;
  httpRequests: number;
  httpByStatus: Record<string, number>;
  dnsQuestions: { udp: number; tcp: number };
  droppedByKernel: number;
  recordSeconds: number;
}

const IMS_FUTURE = 'Fri, 01 Jan 2100 00:00:00 GMT';
const API_WORDS = ['users', 'orders', 'carts', 'payments', 'items', 'sessions', 'inventory', 'prices'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

/** One curl process's requests: weights give the mix described at the top. */
function requestMix(r: () => number, n: number): HttpRequestSpec[] {
  const res = nginxResources();
  const json = res.filter((x) => x.path.startsWith('/json/') && x.bodyLength! <= 60_000).map((x) => x.path);
  const html = res.filter((x) => x.path.startsWith('/html/') || x.path.startsWith('/chunked/')).map((x) => x.path);
  const small = ['/files/size-1k.bin', '/files/size-16k.bin', '/files/size-64k.bin', '/files/size-100.bin', '/files/size-0.bin'];
  const large = ['/files/size-1m.bin', '/files/size-3m.bin', '/files/size-5m.bin', '/json/export.json'];
  const out: HttpRequestSpec[] = [];
  for (let i = 0; i < n; i++) {
    const x = r();
    const id = Math.floor(r() * 100000);
    const q = `?id=${id}&page=${1 + (id % 7)}`;
    if (x < 0.42) out.push({ path: pick(r, json) + q, compressed: r() < 0.5, headers: { Accept: 'application/json' } });
    else if (x < 0.55) out.push({ path: pick(r, html), compressed: r() < 0.7 });
    else if (x < 0.63) out.push({ path: `/api/v1/${pick(r, API_WORDS)}/${id}` });
    else if (x < 0.65) out.push({ path: '/status/500' });
    else if (x < 0.66) out.push({ path: '/status/503' });
    else if (x < 0.74) out.push({ path: pick(r, json), headers: { 'If-Modified-Since': IMS_FUTURE } });
    else if (x < 0.78) out.push({ path: r() < 0.5 ? '/redirect' : '/moved' });
    else if (x < 0.84) {
      const body = JSON.stringify({ sku: `SKU-${id}`, qty: 1 + (id % 5), note: 'n'.repeat(id % 400) });
      out.push({ path: '/api/orders', method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
    } else if (x < 0.87) out.push({ path: '/echo', method: 'POST', body: 'e'.repeat(500 + (id % 20000)) });
    else if (x < 0.89) out.push({ path: pick(r, [...json, ...html]), method: 'HEAD' });
    else if (x < 0.996) out.push({ path: pick(r, small) });
    else out.push({ path: pick(r, large) });
  }
  return out;
}

function dnsMix(r: () => number, n: number): { name: string; type: string }[] {
  const zone = dnsRecords();
  const out: { name: string; type: string }[] = [];
  for (let i = 0; i < n; i++) {
    const x = r();
    if (x < 0.7) {
      const rec = pick(r, zone.records);
      out.push({ name: rec.name, type: rec.type });
    } else if (x < 0.85) out.push({ name: pick(r, ['www.example.test', 'api.shop.svc.cluster.local']), type: pick(r, ['A', 'AAAA']) });
    else out.push({ name: `pod-${Math.floor(r() * 1e6)}.${pick(r, ['shop', 'billing', 'data'])}.svc.cluster.local`, type: pick(r, ['A', 'AAAA', 'SRV']) });
  }
  return out;
}

function capinfosPacketsSync(file: string): number {
  const r = spawnSync('capinfos', ['-M', '-c', file], { encoding: 'utf8' });
  const m = /Number of packets:\s+(\d+)/.exec(r.stdout);
  if (!m) throw new Error(`capinfos ${file} failed: ${r.stderr}`);
  return Number(m[1]);
}

/** Records a fresh capture into `file` (written beside it, then renamed into place). */
export async function recordCapture(file: string = captureFile, log: (s: string) => void = console.log): Promise<CaptureSummary> {
  const L = RECORD_LIMITS;
  mkdirSync(benchCacheDir, { recursive: true });
  const partial = `${file}.partial`;
  rmSync(partial, { force: true });
  const started = Date.now();
  const net: TestNet = await createTestNet('bench');
  const r = rng(0x7a911e);
  const byStatus: Record<string, number> = {};
  let httpRequests = 0;
  const dnsQuestions = { udp: 0, tcp: 0 };
  let rounds = 0;
  try {
    const web = [await net.startNginx({ port: 8080 }), await net.startNginx({ port: 80 })];
    const dns = await net.startDnsmasq();
    const cap = await net.capture('client', net.iface.client, partial);
    while (rounds < L.maxRounds && Date.now() - started < L.deadlineMs && (!existsSync(partial) || statSync(partial).size < L.targetBytes)) {
      const jobs: Promise<void>[] = [];
      for (let c = 0; c < L.curlClients; c++) {
        const cfg = join(net.dir, `curl-${rounds}-${c}.cfg`);
        writeFileSync(cfg, curlConfig(web[c % web.length]!.baseUrl, requestMix(r, L.requestsPerClient)));
        jobs.push(
          net.exec('client', 'curl', ['-K', cfg], { timeoutMs: L.commandTimeoutMs }).then((res) => {
            for (const t of parseCurlWriteOut(res.stdout)) {
              httpRequests++;
              byStatus[t.status] = (byStatus[t.status] ?? 0) + 1;
            }
          }),
        );
      }
      for (let d = 0; d < L.digUdpClients; d++) {
        const qs = dnsMix(r, L.questionsPerDig);
        dnsQuestions.udp += qs.length;
        jobs.push(net.exec('client', 'dig', digArgs(dns.ip, dns.port, qs, false), { timeoutMs: L.commandTimeoutMs }).then(() => undefined));
      }
      const tcpQs = dnsMix(r, L.tcpQuestionsPerRound);
      dnsQuestions.tcp += tcpQs.length;
      jobs.push(net.exec('client', 'dig', digArgs(dns.ip, dns.port, tcpQs, true), { timeoutMs: L.commandTimeoutMs }).then(() => undefined));
      await Promise.all(jobs);
      rounds++;
      log(`  round ${rounds}: ${(statSync(partial).size / 1e6).toFixed(1)} MB, ${httpRequests} HTTP requests`);
    }
    const stats = await cap.stop();
    if (stats.captured !== stats.receivedByFilter) log(`  warning: ${stats.receivedByFilter - stats.captured} packets reached tcpdump but not the file`);
    if (stats.droppedByKernel > 0) log(`  warning: the kernel dropped ${stats.droppedByKernel} packets (the capture has gaps, as real ones do)`);
    renameSync(partial, file);
    const summary: CaptureSummary = {
      file,
      version: CAPTURE_VERSION,
      bytes: statSync(file).size,
      packets: capinfosPacketsSync(file),
      rounds,
      httpRequests,
      httpByStatus: byStatus,
      dnsQuestions,
      droppedByKernel: stats.droppedByKernel,
      recordSeconds: (Date.now() - started) / 1000,
    };
    writeFileSync(`${file}.json`, JSON.stringify(summary, null, 2) + '\n');
    return summary;
  } finally {
    await net.destroy();
    rmSync(partial, { force: true });
  }
}

/** The summary written beside a capture, or one rebuilt from the file (capinfos) when it is missing. */
export function readSummary(file: string): CaptureSummary {
  const side = `${file}.json`;
  if (existsSync(side)) {
    const s = JSON.parse(readFileSync(side, 'utf8')) as CaptureSummary;
    if (s.bytes === statSync(file).size) return s;
  }
  const bytes = statSync(file).size;
  return { file, version: CAPTURE_VERSION, bytes, packets: capinfosPacketsSync(file), rounds: 0, httpRequests: 0, httpByStatus: {}, dnsQuestions: { udp: 0, tcp: 0 }, droppedByKernel: 0, recordSeconds: 0 };
}

/** The cached capture, recorded first when it is missing. */
export async function ensureCapture(log: (s: string) => void = console.log): Promise<CaptureSummary> {
  if (existsSync(captureFile)) return readSummary(captureFile);
  log(`recording ${captureFile} (once; it is cached)`);
  return recordCapture(captureFile, log);
}

/** Copies of the capture laid end to end, each shifted past the previous one, until the file reaches `targetBytes`. */
export function ensureScaledCapture(base: CaptureSummary, targetBytes: number, label: string, log: (s: string) => void = console.log): CaptureSummary {
  const out = join(benchCacheDir, `capture-${CAPTURE_VERSION}-${label}.pcap`);
  if (existsSync(out)) return readSummary(out);
  const copies = Math.ceil(targetBytes / base.bytes);
  log(`building ${out}: ${copies} copies of ${base.file}, timestamps shifted`);
  // Each copy starts one second after the previous one ends.
  const info = spawnSync('capinfos', ['-M', '-u', '-S', base.file], { encoding: 'utf8' });
  const duration = Number(/Capture duration:\s+([\d.]+)/.exec(info.stdout)?.[1] ?? '60');
  const step = Math.ceil(duration) + 1;
  const parts: string[] = [];
  try {
    for (let i = 0; i < copies; i++) {
      const part = `${out}.part${i}`;
      const r = spawnSync('editcap', ['-F', 'pcap', '-t', String(i * step), base.file, part], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`editcap failed: ${r.stderr}`);
      parts.push(part);
    }
    const m = spawnSync('mergecap', ['-F', 'pcap', '-a', '-w', `${out}.partial`, ...parts], { encoding: 'utf8' });
    if (m.status !== 0) throw new Error(`mergecap failed: ${m.stderr}`);
    renameSync(`${out}.partial`, out);
  } finally {
    for (const p of parts) rmSync(p, { force: true });
    rmSync(`${out}.partial`, { force: true });
  }
  const summary: CaptureSummary = {
    ...base,
    file: out,
    bytes: statSync(out).size,
    packets: capinfosPacketsSync(out),
    httpRequests: base.httpRequests * copies,
    httpByStatus: Object.fromEntries(Object.entries(base.httpByStatus).map(([k, v]) => [k, v * copies])),
    dnsQuestions: { udp: base.dnsQuestions.udp * copies, tcp: base.dnsQuestions.tcp * copies },
  };
  writeFileSync(`${out}.json`, JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

function describe(s: CaptureSummary): string {
  const statuses = Object.entries(s.httpByStatus).map(([k, v]) => `${k}:${v}`).join(' ');
  return [
    `capture   ${s.file}`,
    `size      ${(s.bytes / 1e6).toFixed(1)} MB, ${s.packets} packets`,
    `http      ${s.httpRequests} requests (${statuses})`,
    `dns       ${s.dnsQuestions.udp} UDP + ${s.dnsQuestions.tcp} TCP questions`,
    `recorded  in ${s.recordSeconds.toFixed(1)} s, ${s.rounds} rounds, ${s.droppedByKernel} dropped by the kernel`,
  ].join('\n');
}

export { describe as describeCapture };

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const force = process.argv.includes('--force');
  const summary = force ? await recordCapture(captureFile) : await ensureCapture();
  console.log(describe(summary));
}

/**
 * The entry store's speed: entries/s written for N synthesized entries (default 1,000,000)
 * and the time of `http and response.status == 500` over them (first page and full count).
 * `npm run bench` calls benchStore(); `node --import tsx src/store/bench.ts [N]` runs it alone.
 *
 * The entries are the real pipeline's output for the HTTP and DNS fixtures, cloned with
 * varied ids, streams, timestamps, addresses, namespaces and statuses.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCaptureFile } from '../capture/index.js';
import { createPipeline } from '../pipeline/index.js';
import type { Entry } from '../entries/index.js';
import { openEntryStore } from './store.js';

export interface StoreBenchRow {
  name: string;
  value: number;
  unit: string;
  detail?: string;
}

export interface StoreBenchOptions {
  entries?: number;
  /** Where the database goes (a fresh temporary folder by default, removed afterwards). */
  dir?: string;
  log?(line: string): void;
}

export const fixtureDir = fileURLToPath(new URL('../protocols/', import.meta.url)).replace(/dist[\\/]src[\\/]/, 'src/');

/** Entries of the HTTP and DNS fixtures, through the real pipeline. */
export async function fixtureEntries(): Promise<Entry[]> {
  const out: Entry[] = [];
  for (const f of ['http/fixtures/nginx.pcap', 'dns/fixtures/dns-dnsmasq.pcap']) {
    const p = createPipeline({ onEntry: (e) => out.push(e) });
    await readCaptureFile(join(fixtureDir, f), (pk) => p.push(pk));
    p.finish();
  }
  return out;
}

const NAMESPACES = ['shop', 'payments', 'kube-system', 'monitoring', 'default'];
// About 1 in 100 HTTP responses is a 500, as in a mostly healthy service.
const STATUSES = [...new Array<number>(80).fill(200), ...new Array<number>(8).fill(304), 201, 204, 301, 400, 401, 403, 404, 404, 404, 502, 503, 500];

/** The i-th synthetic entry: a clone of a fixture entry with fields varied by i. */
export function syntheticEntry(bases: readonly Entry[], i: number, t0: number): Entry {
  const b = bases[i % bases.length]!;
  const pod = (i * 7919) % 400;
  const svc = (i * 104729) % 40;
  const e: Entry = {
    ...b,
    id: `node-a/${String(i >> 2).padStart(12, '0')}-${i & 3}`,
    stream: String(i >> 2).padStart(12, '0'),
    index: i & 3,
    // Roughly time-ordered with some disorder, as entries leave parallel threads.
    timestamp: t0 + i * 2 + ((i * 31) % 7),
    src: { ...b.src, ip: `10.1.${pod >> 8}.${pod & 255}`, namespace: NAMESPACES[pod % NAMESPACES.length]!, pod: `pod-${pod}` },
    dst: { ...b.dst, ip: `10.96.0.${svc}`, namespace: NAMESPACES[svc % NAMESPACES.length]!, service: `svc-${svc}` },
  };
  if (b.protocol.name === 'http' && b.response) e.response = { ...b.response, status: STATUSES[(i * 2654435761) % STATUSES.length] };
  return e;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function timeIt(runs: number, fn: () => unknown): { ms: number; result: unknown } {
  let result: unknown;
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    result = fn();
    times.push(performance.now() - t);
  }
  return { ms: median(times), result };
}

export async function benchStore(opts: StoreBenchOptions = {}): Promise<StoreBenchRow[]> {
  const n = opts.entries ?? 1_000_000;
  const log = opts.log ?? ((line: string) => console.log(line));
  const bases = (await fixtureEntries()).filter((e) => JSON.stringify(e).length < 4096);
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'tapline-store-bench-'));
  const rows: StoreBenchRow[] = [];
  const store = openEntryStore({ dir });
  try {
    const t0 = Date.UTC(2026, 0, 1);
    let addMs = 0;
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const e = syntheticEntry(bases, i, t0);
      const a = performance.now();
      store.add(e);
      addMs += performance.now() - a;
      if ((i & 1023) === 0) await store.drain();
    }
    await store.flush();
    const writeMs = performance.now() - start;
    const st = store.stats();
    if (st.entries !== n || st.dropped !== 0) throw new Error(`stored ${st.entries} of ${n} entries (${st.dropped} dropped)`);
    rows.push({ name: 'write', value: Math.round(n / (writeMs / 1000)), unit: 'entries/s', detail: `${n} entries in ${(writeMs / 1000).toFixed(1)} s` });
    rows.push({ name: 'add() on the main thread', value: +((addMs / n) * 1000).toFixed(2), unit: 'µs/entry', detail: 'serialize + buffer; the commit runs on the writer thread' });
    rows.push({ name: 'size on disk', value: Math.round(st.bytes / n), unit: 'bytes/entry', detail: `${(st.bytes / 1e6).toFixed(0)} MB` });

    const q = 'http and response.status == 500';
    const page = timeIt(5, () => store.query({ kfl: q, limit: 100 }));
    const pr = page.result as ReturnType<typeof store.query>;
    rows.push({ name: `query "${q}" first page of 100`, value: +page.ms.toFixed(1), unit: 'ms', detail: `${pr.entries.length} entries, ${pr.scanned} scanned` });
    const full = timeIt(3, () => store.count({ kfl: q }));
    rows.push({ name: `query "${q}" full count`, value: +full.ms.toFixed(1), unit: 'ms', detail: `${String(full.result)} matches` });
    // For contrast: a count the indexes cannot narrow, so the match function sees every entry.
    const scan = timeIt(1, () => store.count({ kfl: 'request.method == "GET"' }));
    rows.push({ name: 'count without push-down (request.method == "GET")', value: +scan.ms.toFixed(1), unit: 'ms', detail: `${String(scan.result)} matches` });
    // A field no index answers, with a text only a few rows hold: rows without it are
    // skipped on their stored bytes, unparsed (PushDownPlan.texts).
    const rare = 'request.path == "/no/such/path"';
    const textScan = timeIt(1, () => store.count({ kfl: rare }));
    rows.push({ name: `count by text without an index (${rare})`, value: +textScan.ms.toFixed(1), unit: 'ms', detail: `${String(textScan.result)} matches` });
    const ip = timeIt(5, () => store.query({ kfl: 'src.ip == "10.1.0.77" or dst.ip == "10.1.0.77"', limit: 100 }));
    rows.push({ name: 'query by ip first page of 100', value: +ip.ms.toFixed(1), unit: 'ms' });
    const newest = timeIt(5, () => store.query({ limit: 100 }));
    rows.push({ name: 'newest 100, no query', value: +newest.ms.toFixed(1), unit: 'ms' });
    for (const r of rows) log(`  ${r.name.padEnd(58)} ${String(r.value).padStart(10)} ${r.unit}${r.detail ? `  (${r.detail})` : ''}`);
    return rows;
  } finally {
    await store.close();
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const n = process.argv[2] ? Number(process.argv[2]) : undefined;
  await benchStore({ entries: n });
}

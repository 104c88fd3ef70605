// `npm run bench`: measures Tapline against tshark and tcpdump on the same
// recorded capture, in the same run, on the same machine.
//
//   npm run bench                      every section on the ~240 MB capture
//   npm run bench -- --only read       one section (comma-separated for several)
//   npm run bench -- --size 1g         a ~1 GB capture made of shifted copies (the memory target)
//   npm run bench -- --runs 5 --warmup 1 --list
//
// A section is one async function in SECTIONS below; add one to measure
// something new. Results are printed and written to .cache/bench/last-run.json.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../test/support/paths.js';
import { benchCacheDir, describeCapture, ensureCapture, ensureScaledCapture, type CaptureSummary } from './record.js';
import { GNU_TIME, measure, measureAlternating, toolVersion, type Measurement, type Timed } from './measure.js';
import { readCaptureFile } from '../src/capture/index.js';
import { createPipeline } from '../src/pipeline/index.js';
import { benchDispatch } from '../src/pipeline/bench.js';
import type { Entry } from '../src/entries/index.js';
import { benchKfl, kflBenchCases } from '../src/kfl/bench.js';
import { DEFAULT_TAP_BENCH, TAP_SECTIONS, type TapBenchOptions } from './tap-bench.js';
import { benchThreads } from './threads.js';

export interface BenchContext {
  capture: CaptureSummary;
  size: CaptureSize;
  runs: number;
  warmup: number;
  /** Options of the tap sections (live, flood). */
  tap: TapBenchOptions;
  log(line: string): void;
}

export interface BenchSection {
  name: string;
  description: string;
  /** Returns what is saved in last-run.json under the section's name. */
  run(ctx: BenchContext): Promise<unknown>;
}

type CaptureSize = '200m' | '1g';

/** Peak RSS Tapline must stay under while reading the 1 GB capture. */
export const MEMORY_TARGET_MIB = 300;

const taplineBin = join(repoRoot, 'bin', 'tapline.js');

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function table(rows: Measurement[], capture: CaptureSummary): string[] {
  const head = `${pad('tool', 10)} ${pad('seconds', 9, true)} ${pad('packets/s', 12, true)} ${pad('MB/s', 8, true)} ${pad('peak RSS MiB', 13, true)}  runs (s)`;
  const lines = [head, '-'.repeat(head.length + 10)];
  for (const m of rows) {
    lines.push(
      `${pad(m.label, 10)} ${pad(m.seconds.toFixed(2), 9, true)} ${pad(Math.round(capture.packets / m.seconds).toLocaleString('en-US'), 12, true)} ` +
        `${pad((capture.bytes / 1e6 / m.seconds).toFixed(1), 8, true)} ${pad(m.peakRssMiB === null ? '-' : m.peakRssMiB.toFixed(0), 13, true)}  ${m.allSeconds.map((s) => s.toFixed(2)).join(' ')}`,
    );
  }
  return lines;
}

/** Set here by the sandbox for its proxy's certificate authority; costs every Node start the parsing of the file it names. */
const EXTRA_CA = 'NODE_EXTRA_CA_CERTS';

/** Reading the whole capture: Tapline's `read` against tshark (HTTP+DNS fields) and tcpdump (one line per packet). */
const readSection: BenchSection = {
  name: 'read',
  description: 'read the whole capture: tapline read vs tshark -Y "http or dns" -T fields vs tcpdump -n -r',
  async run(ctx) {
    const file = ctx.capture.file;
    const opts = { runs: ctx.runs, warmup: ctx.warmup };
    // Tapline and tcpdump take turns, five runs each at least (under a second a run on the
    // 200 MB capture): their ratio is the target, and the machine's speed drifts.
    const fast: Timed[] = [{ label: 'tcpdump', cmd: 'tcpdump', args: ['-n', '-r', file] }];
    if (existsSync(taplineBin)) {
      fast.unshift({ label: 'tapline', cmd: process.execPath, args: [taplineBin, 'read', file] });
      if (process.env[EXTRA_CA] !== undefined) {
        // Node reads every certificate of that file when it starts, before any of
        // Tapline's code runs (tens of ms); `read` opens no TLS connection.
        const env = { ...process.env };
        delete env[EXTRA_CA];
        fast.splice(1, 0, { label: 'tapline*', cmd: process.execPath, args: [taplineBin, 'read', file], env });
      }
      // The same with two dissection threads beside the reading one (flow-sharded).
      fast.splice(fast.length - 1, 0, { label: 'tapline-w2', cmd: process.execPath, args: [taplineBin, 'read', file, '--workers', '2'] });
    } else {
      ctx.log(`  tapline: skipped, ${taplineBin} does not exist yet`);
    }
    const rows: Measurement[] = await measureAlternating(fast, { ...opts, runs: ctx.size === '1g' ? ctx.runs : Math.max(ctx.runs, 5) });
    rows.splice(
      rows.length - 1,
      0,
      await measure(
        'tshark',
        'tshark',
        ['-r', file, '-Y', 'http or dns', '-T', 'fields', '-e', 'http.request.method', '-e', 'http.request.uri', '-e', 'http.response.code', '-e', 'dns.qry.name'],
        opts,
      ),
    );
    for (const l of table(rows, ctx.capture)) ctx.log(`  ${l}`);

    const by = new Map(rows.map((r) => [r.label, r]));
    const tapline = by.get('tapline');
    const ratios: Record<string, number> = {};
    if (tapline) {
      for (const other of ['tshark', 'tcpdump']) {
        const o = by.get(other)!;
        ratios[`tapline/${other}`] = o.seconds / tapline.seconds;
        ctx.log(`  tapline throughput = ${(o.seconds / tapline.seconds).toFixed(2)} x ${other}'s`);
      }
      const clean = by.get('tapline*');
      if (clean !== undefined) {
        const o = by.get('tcpdump')!;
        ratios['tapline*/tcpdump'] = o.seconds / clean.seconds;
        ctx.log(
          `  tapline* (${EXTRA_CA} unset, whose certificates Node parses at every start; medians ` +
            `${((tapline.seconds - clean.seconds) * 1000).toFixed(0)} ms apart) throughput = ${(o.seconds / clean.seconds).toFixed(2)} x tcpdump's`,
        );
      }
      if (ctx.size === '1g' && tapline.peakRssMiB !== null) {
        const ok = tapline.peakRssMiB < MEMORY_TARGET_MIB;
        ctx.log(`  memory target (< ${MEMORY_TARGET_MIB} MiB on 1 GB): ${ok ? 'met' : 'MISSED'} at ${tapline.peakRssMiB.toFixed(0)} MiB`);
      }
    }
    // The serial part of `--workers N`: what the reading thread alone can hand out.
    const d = await benchDispatch(file);
    const rate = (s: number) => `${Math.round(d.packets / s).toLocaleString('en-US')} packets/s (${(ctx.capture.bytes / 1e6 / s).toFixed(0)} MB/s, ${s.toFixed(2)} s)`;
    ctx.log(`  reading thread alone (the serial part of --workers N): reading only ${rate(d.readSeconds)}`);
    ctx.log(`    handing out raw frames (what --workers N does): ${rate(d.rawSeconds)}; decoded packets instead: ${rate(d.decodedSeconds)}`);
    return { measurements: rows, ratios, dispatch: d };
  },
};

/** Entries the kfl section evaluates queries over (the issue's "one million in-memory entries"). */
export const KFL_BENCH_ENTRIES = 1_000_000;

/** Every entry of a capture, read on this thread through the whole pipeline (as `tapline read --workers 0`). */
async function captureEntries(file: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  const pipeline = createPipeline({ nodeName: 'bench', onEntry: (e) => entries.push(e) });
  await readCaptureFile(file, pipeline.push);
  pipeline.finish();
  return entries;
}

/**
 * KFL: compiled queries over one million in-memory entries, and the same selection by jq.
 * The million is the capture's entries over and over (the same objects, so memory stays
 * that of one capture). jq and the JSON-lines run read each distinct entry once: the whole
 * million as JSON would be ~100 times the capture's JSON (bodies included), so their rates are
 * per entry of that file.
 */
const kflSection: BenchSection = {
  name: 'kfl',
  description: `KFL over ${KFL_BENCH_ENTRIES.toLocaleString('en-US')} in-memory entries of the capture vs jq over the same entries as JSON lines`,
  async run(ctx) {
    // The 1 GB capture is shifted copies of the base one: the same entries, more slowly read.
    const distinct = await captureEntries(ctx.capture.file);
    if (distinct.length === 0) throw new Error(`no entries in ${ctx.capture.file}`);
    const entries: Entry[] = new Array(KFL_BENCH_ENTRIES);
    for (let i = 0; i < KFL_BENCH_ENTRIES; i++) entries[i] = distinct[i % distinct.length]!;
    ctx.log(`  ${distinct.length.toLocaleString('en-US')} distinct entries, repeated to ${KFL_BENCH_ENTRIES.toLocaleString('en-US')}; jq reads the distinct ones as JSON lines`);
    const rows = await benchKfl(entries, kflBenchCases, { jsonLinesEntries: distinct });
    const head = `${pad('query', 15)} ${pad('in memory', 14, true)} ${pad('JSON lines', 13, true)} ${pad('jq', 12, true)} ${pad('vs jq', 7, true)}  matched (jq, per distinct)  target`;
    ctx.log(`  ${head}`);
    ctx.log(`  ${'-'.repeat(head.length)}`);
    const targets: Record<string, number> = { 'protocol macro': 5e6, 'status 500': 5e6, 'header regex': 1e6 };
    const verdicts: Record<string, boolean> = {};
    for (const r of rows) {
      const target = targets[r.name];
      const met = (target === undefined || r.entriesPerSec >= target) && r.ratioEndToEnd > 1;
      verdicts[r.name] = met;
      ctx.log(
        `  ${pad(r.name, 15)} ${pad(`${(r.entriesPerSec / 1e6).toFixed(2)} M/s`, 14, true)} ${pad(`${(r.endToEndEntriesPerSec / 1e3).toFixed(1)} k/s`, 13, true)} ` +
          `${pad(`${(r.jqEntriesPerSec / 1e3).toFixed(1)} k/s`, 12, true)} ${pad(`x${r.ratioEndToEnd.toFixed(2)}`, 7, true)}  ` +
          `${pad(`${r.matched} (${r.jqMatched}, ${r.jsonLinesMatched})`, 26)}  ` +
          `${target === undefined ? '' : `>= ${target / 1e6} M/s, `}faster than jq: ${met ? 'met' : 'MISSED'}`,
      );
      if (r.jqMatched !== r.jsonLinesMatched) ctx.log(`  ! ${r.name}: jq selected ${r.jqMatched} of the JSON lines, KFL ${r.jsonLinesMatched}`);
    }
    return { distinctEntries: distinct.length, entries: KFL_BENCH_ENTRIES, rows, targetsMet: verdicts };
  },
};

/** CPU per thread of the tap's live path fed from the capture (bench/threads.ts). */
const threadsSection: BenchSection = {
  name: 'threads',
  description: 'CPU seconds per thread of tapline tap --read on the capture (capture, dissection, store), from /proc',
  async run(ctx) {
    const packets = ctx.capture.packets;
    const rows = await benchThreads(taplineBin, ctx.capture.file, ctx.runs, ctx.log);
    const total = rows[0]!.seconds.map((_, i) => rows.reduce((sum, r) => sum + r.seconds[i]!, 0));
    const best = Math.min(...total);
    // "other" includes the start (loading, then V8 compiling the hot code on its helper
    // threads), which a running tap has long paid: the live section warms the tap up first.
    ctx.log(`  ${((best * 1e6) / packets).toFixed(1)} µs of CPU per packet, all threads, start-up included (least of ${total.length} runs)`);
    return { packets, rows, totalSeconds: total };
  },
};

/** Every section, in the order they run. */
export const SECTIONS: BenchSection[] = [readSection, kflSection, threadsSection, ...TAP_SECTIONS];

interface Args {
  only: string[] | null;
  size: CaptureSize;
  runs: number | null;
  warmup: number;
  list: boolean;
  tap: TapBenchOptions;
}

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} takes a whole number >= 1, not ${value}`);
  return n;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { only: null, size: '200m', runs: null, warmup: 1, list: false, tap: { ...DEFAULT_TAP_BENCH } };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === '--only') a.only = v().split(',').filter(Boolean);
    else if (k === '--size') {
      const s = v().toLowerCase();
      if (s !== '200m' && s !== '1g') throw new Error(`--size is 200m or 1g, not ${s}`);
      a.size = s;
    } else if (k === '--runs') a.runs = Math.max(1, Number(v()));
    else if (k === '--warmup') a.warmup = Math.max(0, Number(v()));
    else if (k === '--list') a.list = true;
    else if (k === '--live-packets') a.tap.livePackets = positive(k, v());
    else if (k === '--live-rates') a.tap.liveRates = v().split(',').filter(Boolean);
    else if (k === '--live-climbs') a.tap.liveClimbs = positive(k, v());
    else if (k === '--flood-seconds') a.tap.floodSeconds = positive(k, v());
    else if (k === '--tap-workers') a.tap.tapWorkers = positive(k, v());
    else throw new Error(`unknown argument ${k} (try --only, --size, --runs, --warmup, --list, --live-packets, --live-rates, --live-climbs, --flood-seconds, --tap-workers)`);
  }
  return a;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.list) {
    for (const s of SECTIONS) console.log(`${s.name.padEnd(10)} ${s.description}`);
    return;
  }
  const chosen = args.only ? SECTIONS.filter((s) => args.only!.includes(s.name)) : SECTIONS;
  const unknown = (args.only ?? []).filter((n) => !SECTIONS.some((s) => s.name === n));
  if (unknown.length) throw new Error(`no bench section ${unknown.join(', ')}; there are: ${SECTIONS.map((s) => s.name).join(', ')}`);

  const log = (l: string): void => console.log(l);
  let capture = await ensureCapture(log);
  if (args.size === '1g') capture = ensureScaledCapture(capture, 1000 * 1000 * 1000, '1g', log);
  const runs = args.runs ?? (args.size === '1g' ? 1 : 3);
  log(describeCapture(capture));
  log(`machine   node ${process.version}; ${toolVersion('tshark')}; ${toolVersion('tcpdump')}`);
  log(`timing    median of ${runs} run(s) after ${args.warmup} warm-up; peak RSS ${existsSync(GNU_TIME) ? `from ${GNU_TIME}` : 'not measured (install Debian package "time")'}`);

  const results: Record<string, unknown> = {};
  const ctx: BenchContext = { capture, size: args.size, runs, warmup: args.warmup, tap: args.tap, log };
  for (const s of chosen) {
    log(`\n[${s.name}] ${s.description}`);
    results[s.name] = await s.run(ctx);
  }
  const out = join(benchCacheDir, 'last-run.json');
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), capture, runs, results }, null, 2) + '\n');
  log(`\nresults written to ${out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(`bench: ${(e as Error).message}`);
    process.exit(1);
  });
}

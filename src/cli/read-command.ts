import { hostname } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { parseArgs } from 'node:util';
import { readCaptureFile, CaptureFileError, captureFileProblem } from '../capture/index.js';
import { fileErrorText } from '../common/file-errors.js';
import type { PacketSink } from '../capture/types.js';
import { createParallelPipeline, createPipeline, LimitError, namedLimits, parseLimitOverrides, type PipelineSummary } from '../pipeline/index.js';
import { registry } from '../protocols/index.js';
import type { CompiledQuery } from '../kfl/index.js';
import { createEntryPrinter } from './entry-printer.js';
import { formatBytes, formatCount } from './output.js';
import { createSharedOutput, FdLineWriter, outputClosed, type LineBlock } from './fd-writer.js';
import { OrderedOutput } from './ordered-output.js';
import type { PrinterSpec } from './entry-printer.js';
import { tableHeader, tableRow } from './table.js';
import { siblingModule } from '../common/worker.js';
import { setOtherThreadsNice } from '../common/thread-priority.js';

export const readHelp = `Usage: tapline read FILE|- [options]

Reads a capture file (pcap or pcapng, gzip-compressed or not; "-" for standard input),
reassembles TCP, dissects HTTP/1.x and DNS (found by content, on any port), and prints one
entry per request/response pair.

Options:
  --format jsonl|table   jsonl: one entry per line as JSON (the default when stdout is not
                         a terminal); table: one readable line per entry (the default on a
                         terminal)
  --kfl QUERY            print only the entries that match the KFL query
                         (e.g. 'http and response.status >= 500'); see "tapline kfl fields"
  --filter EXPR          read only the packets this capture filter matches (pcap-filter
                         syntax, as tcpdump -r FILE EXPR), e.g. 'host 10.0.0.7 and port 80'
  --node NAME            node name used in entry ids (default: this host's name)
  --max-body BYTES       body text kept per message; longer bodies are cut and marked
                         (default 65536)
  --pair-timeout SEC     seconds a request waits for its response before it is an entry of
                         its own with error.type "pair-not-found" (default 10)
  --set NAME=VALUE       change a named limit of the packet path (repeatable), e.g.
                         --set http.maxHeaderBytes=8192 --set reassembly.maxFlows=50000;
                         "tapline read --limits" lists every limit and its default
  --limits               print every named limit with its default value, and exit
  --workers N            dissection threads beside the reading thread; 0 dissects on the
                         reading thread (default 0: measured on two cores, the hand-over to
                         threads still costs more than it saves for a file). The reading
                         thread hands out raw frames (about 2 M packets/s here) and the
                         threads decode them. The output is the same every run: with 1,
                         byte for byte what 0 prints; with more, the same entries in an
                         order of their own (and stream ids numbered per thread)
  --quiet                no summary on standard error
  --summary-json         the summary on standard error as one JSON object
  --no-progress          no progress bar (it is shown only when stderr is a terminal)
  -h, --help             this text

Summary (standard error): packets, bytes, flows, entries, issues by code, TCP gaps, time,
packets/s. Exit status: 0 when the whole file was read; 1 when the file is damaged (every
entry before the damage is printed, then an error naming the byte offset); 2 on bad usage.
`;

const STOP = new Error('stop reading');

/**
 * Nice value of the helper threads during a one-thread read: below the reading thread, not
 * so far below that a busy machine keeps them from compiling (19 would give them a 70th of
 * a core shared with nice-0 work, 5 a quarter).
 */
const HELPER_THREADS_NICE = 5;

/** How much V8 lets the old generation grow past what a full collection left, in % (setFlagsFromString below). */
const HEAP_GROWING_PERCENT = 400;

/** The descriptor behind a standard stream (tests pass their own streams with an fd). */
function outFd(out: NodeJS.WriteStream): number {
  const fd = (out as { fd?: unknown }).fd;
  return typeof fd === 'number' ? fd : 1;
}

export async function runReadCommand(argv: string[], out: NodeJS.WriteStream, err: NodeJS.WriteStream): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        format: { type: 'string' },
        kfl: { type: 'string' },
        filter: { type: 'string' },
        node: { type: 'string' },
        'max-body': { type: 'string' },
        'pair-timeout': { type: 'string' },
        workers: { type: 'string' },
        set: { type: 'string', multiple: true },
        limits: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        'summary-json': { type: 'boolean', default: false },
        'no-progress': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    err.write(`tapline read: ${(e as Error).message}\n\n${readHelp}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out.write(readHelp);
    return 0;
  }
  if (values.limits) {
    for (const [name, value] of namedLimits(registry)) out.write(`${name}=${value}\n`);
    return 0;
  }
  if (positionals.length !== 1) {
    err.write(`tapline read: expected exactly one FILE (or - for standard input), got ${positionals.length}\n\n${readHelp}`);
    return 2;
  }
  const file = positionals[0];
  const format = values.format ?? (out.isTTY ? 'table' : 'jsonl');
  if (format !== 'jsonl' && format !== 'table') {
    err.write(`tapline read: --format must be jsonl or table, not ${JSON.stringify(format)}\n`);
    return 2;
  }
  const maxBodyText = positiveInt(values['max-body'], 65536, '--max-body', err);
  const pairTimeoutSec = positiveInt(values['pair-timeout'], 10, '--pair-timeout', err);
  const workers = positiveInt(values.workers, 0, '--workers', err);
  if (maxBodyText === undefined || pairTimeoutSec === undefined || workers === undefined) return 2;

  // KFL and the capture filter (libpcap) are loaded only when asked for: each is a few ms of every run's start.
  let query: CompiledQuery | undefined;
  if (values.kfl !== undefined) {
    const { compile, KflError, formatKflError } = await import('../kfl/index.js');
    try {
      query = compile(values.kfl);
    } catch (e) {
      if (e instanceof KflError) {
        err.write(`tapline read: bad --kfl query\n${formatKflError(values.kfl, e)}\n`);
        return 2;
      }
      throw e;
    }
    for (const w of query.warnings) err.write(`tapline read: --kfl warning: ${w.message}\n`);
  }

  /** The packets the capture filter keeps go on to `sink` (all of them without --filter). */
  let filtered = (sink: PacketSink): PacketSink => sink;
  if (values.filter !== undefined) {
    const { keepPackets, packetFilter } = await import('../capture/live/index.js');
    try {
      const keep = packetFilter(values.filter);
      filtered = (sink) => keepPackets(sink, keep);
    } catch (e) {
      if ((e as { code?: string }).code !== 'capture.bad_filter') throw e;
      err.write(`tapline read: ${(e as Error).message} [capture.bad_filter]\n`);
      return 2;
    }
  }

  // A file that cannot be opened is said before anything is printed (no summary of nothing).
  const problem = captureFileProblem(file);
  if (problem !== undefined) {
    err.write(`tapline read: ${file}: ${problem}\n`);
    return 1;
  }

  const output = createSharedOutput(query?.limit);
  const spec: PrinterSpec = { format: format as 'jsonl' | 'table', kfl: values.kfl, output, fd: outFd(out) };
  let overrides;
  try {
    overrides = parseLimitOverrides(values.set ?? [], registry);
  } catch (e) {
    if (!(e instanceof LimitError)) throw e;
    err.write(`tapline read: ${e.message} [${e.code}]\n`);
    return 2;
  }
  const flowSettings = {
    nodeName: values.node ?? hostname(),
    settings: { maxBodyText, pairTimeoutSec, lazyBodyText: true, ...overrides.settings },
    reassemblyLimits: overrides.reassemblyLimits,
    protocolLimits: overrides.protocolLimits,
    detection: overrides.detection,
  };
  const progress = !values.quiet && !values['no-progress'] && err.isTTY ? createProgressBar(err) : undefined;
  const header = new FdLineWriter(spec.fd, output);
  if (format === 'table') {
    header.line(tableHeader());
    header.flush();
    Atomics.sub(output.words, 1, 1); // the header is not an entry
  }
  // The reader stops early once nobody reads the output any more, or limit(n) is reached.
  const stopEarly = () => outputClosed(output) || header.full;

  // A read's heap holds little for long (flows, pending requests), while it allocates at a
  // high rate: V8's default growth let the old generation fill 9-12 times in a read of the
  // benchmark capture, each time a full collection of a ~10 MB heap. Growing it by 5× at
  // each step instead: 3 of them, GC pauses 70 → 57 ms, the reading thread's CPU 557 →
  // 537 ms (medians of 14 alternated runs). V8 reads this flag whenever it sets the next
  // limit, so it holds from here on.
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  if (workers === 0) {
    // The threads V8 and libuv have started so far (TurboFan compiling, concurrent
    // marking) yield to this one, which dissects. On two cores they otherwise took its core
    // for a share of the first half second, when TurboFan compiles the most: the benchmark
    // read went from 787 ms at nice 0 to 748 at 5 (medians of 10 alternated runs; 10 and 19
    // gave 754 and 744). With dissection threads they are left alone: those threads and the
    // reading one can fill every core, and the helpers at nice 5 cost --workers 2 about 5 %.
    setOtherThreadsNice(HELPER_THREADS_NICE);
  }
  const started = process.hrtime.bigint();
  let failure: Error | undefined;
  let summary: PipelineSummary;
  if (workers === 0) {
    const printer = createEntryPrinter({ ...spec, recycleBodies: true }, query);
    const pipeline = createPipeline({ ...flowSettings, decodeLimits: overrides.decodeLimits, onEntry: printer.onEntry });
    try {
      await readCaptureFile(file, filtered(pipeline.push), { onProgress: progress, beforeRead: () => (stopEarly() ? Promise.reject(STOP) : undefined) });
    } catch (e) {
      if (e !== STOP) failure = e as Error;
    }
    summary = pipeline.finish();
    printer.flush();
  } else {
    // Every thread's lines come here and are written in the order their batches left, so
    // that a file gives the same output however the threads' work interleaves.
    const collect: PrinterSpec = { ...spec, collect: true, recycleBodies: true };
    const ordered = new OrderedOutput(header, workers);
    const pipeline = createParallelPipeline({
      workers,
      workerUrl: siblingModule(import.meta.url, 'read-worker'),
      settings: flowSettings,
      decodeLimits: overrides.decodeLimits,
      sinkData: collect,
      onBatchSent: (worker) => ordered.batchSent(worker),
      onSinkMessage: (lines, worker, after) => ordered.linesFrom(worker, lines as LineBlock[], after),
    });
    try {
      await readCaptureFile(file, filtered(pipeline.push), {
        onProgress: progress,
        beforeRead: () => (stopEarly() ? Promise.reject(STOP) : pipeline.drained()),
      });
    } catch (e) {
      if (e !== STOP) failure = e as Error;
    }
    try {
      summary = await pipeline.finish();
      ordered.end();
    } catch (e) {
      failure ??= e as Error;
      summary = { packets: 0, bytes: 0, flows: 0, entries: 0, gaps: 0, gapBytes: 0, issues: {} };
    }
  }
  const printed = header.written;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  progress?.(-1, undefined);
  if (outputClosed(output)) return 0;

  if (!values.quiet) {
    if (values['summary-json']) err.write(JSON.stringify({ file, ...summary, printed, seconds, error: failure?.message }) + '\n');
    else err.write(formatSummary(file, summary, printed, seconds));
  }
  if (failure !== undefined) {
    if (failure instanceof CaptureFileError) {
      err.write(`tapline read: ${file}: ${failure.message} [${failure.code}]\n`);
      return 1;
    }
    const text = fileErrorText(failure);
    if (text !== undefined) {
      err.write(`tapline read: ${file}: ${text}\n`);
      return 1;
    }
    throw failure;
  }
  return 0;
}

function positiveInt(text: string | undefined, fallback: number, flag: string, err: NodeJS.WriteStream): number | undefined {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) {
    err.write(`tapline read: ${flag} must be a whole number ≥ 0, not ${JSON.stringify(text)}\n`);
    return undefined;
  }
  return n;
}

export function formatSummary(file: string, s: PipelineSummary, printed: number, seconds: number): string {
  const issues = Object.entries(s.issues)
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${code} ${formatCount(n)}`);
  const lines = [
    `tapline read: ${file}`,
    `  packets ${formatCount(s.packets)} (${formatBytes(s.bytes)})  flows ${formatCount(s.flows)}  entries ${formatCount(s.entries)}${printed !== s.entries ? ` (${formatCount(printed)} printed)` : ''}  gaps ${formatCount(s.gaps)} (${formatBytes(s.gapBytes)})`,
    `  time ${seconds.toFixed(2)} s  ${formatCount(Math.round(s.packets / Math.max(seconds, 1e-9)))} packets/s  ${formatBytes(Math.round(s.bytes / Math.max(seconds, 1e-9)))}/s`,
  ];
  if (issues.length > 0) lines.push(`  issues ${issues.join(' · ')}`);
  return lines.join('\n') + '\n';
}

/** A one-line bar on a terminal; called with done = -1 to clear it. */
function createProgressBar(err: NodeJS.WriteStream): (done: number, total: number | undefined) => void {
  let last = 0;
  return (done, total) => {
    if (done < 0) {
      if (last !== 0) err.write('\r\x1b[K');
      return;
    }
    const now = Date.now();
    if (now - last < 200) return;
    last = now;
    if (total === undefined || total === 0) {
      err.write(`\r\x1b[K  read ${formatBytes(done)}`);
      return;
    }
    const width = 30;
    const fill = Math.min(width, Math.round((done / total) * width));
    err.write(`\r\x1b[K  [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${Math.floor((done / total) * 100)}%  ${formatBytes(done)} / ${formatBytes(total)}`);
  };
}

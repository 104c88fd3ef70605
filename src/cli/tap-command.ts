import { availableParallelism, hostname } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { captureFileProblem } from '../capture/index.js';
import { compile, KflError, formatKflError } from '../kfl/index.js';
import { LimitError, parseLimitOverrides } from '../pipeline/index.js';
import { registry } from '../protocols/index.js';
import { startTap, type TapSource } from '../tap/tap.js';
import { defaultDataDir, parseDuration, parseListen, parseSize, UsageError } from './args.js';
import { tableHeader, tableRow } from './table.js';

/** A --read/--replay file that cannot be opened (exit status 1, as for `tapline read`). */
class FileProblem extends Error {}

export const tapHelp = `Usage: tapline tap [options]

Captures live traffic on this machine, dissects it (HTTP/1.x, DNS, found by content on any
port), stores the entries, keeps the raw packets of the recent past in a rolling ring, and
serves both over an HTTP API with token authentication. On a terminal it also shows the
entries as they come, one line each.

Capture:
  --interface NAME     interface to capture on (repeatable; default: any, i.e. all)
  --filter EXPR        capture filter in pcap-filter syntax (e.g. 'not port 22'); with
                       --read/--replay, only the file's packets it matches go through
  --snaplen BYTES      bytes kept per packet (default 262144)
  --buffer SIZE        kernel capture buffer per interface (default 32MiB)
  --no-promisc         do not put interfaces in promiscuous mode
  --netns NAME         capture inside that network namespace (a name under /run/netns, or
                       /proc/PID/ns/net; needs CAP_SYS_ADMIN); the API stays on this host
  --read FILE          feed a capture file through the same path instead of capturing
  --replay FILE        the same, paced by the packets' timestamps (see --speed)
  --speed X            replay speed: 1 real time, 10 ten times faster (default 1)
  --once               with --read/--replay: stop once the file is done (default: keep serving)

Storage and API:
  --data DIR           data folder (default: $TAPLINE_DATA or ~/.local/share/tapline);
                       one tap at a time: a second one on it is refused (DIR/tap.lock)
  --listen HOST:PORT   API address (default 127.0.0.1:8899)
  --token TOKEN        API token (default: made at first start, kept in DIR/token)
  --retention-age DUR  keep entries this long (default 7d)
  --retention-size SZ  keep at most this many bytes of entries (default 2GB)
  --ring-age DUR       keep raw packets this long (default 1h)
  --ring-size SZ       keep at most this many bytes of raw packets (default 1GB)

Dissection and view:
  --workers N          dissection threads (default: cores - 1, at least 1)
  --memory SIZE        heap the dissection threads share; flow tables and reassembly
                       buffers are sized to fit it (default 192MiB)
  --set NAME=VALUE     change a named limit (see "tapline read --limits")
  --kfl QUERY          which entries the terminal view shows (the store keeps all)
  --node NAME          node name in entry ids (default: this host's name)
  --quiet              no terminal view
  -h, --help           this text

Without CAP_NET_RAW and CAP_NET_ADMIN (run as root, or grant them to node with setcap),
live capture stops with an error that says so. Stop with Ctrl-C.
`;

/** How the command learns it should stop: by default SIGINT/SIGTERM; a tap thread is told by its parent. */
export interface StopSource {
  onStop(stop: () => void): () => void;
  /** Whether standard output is a terminal (a thread's stdout is a pipe to its parent). */
  isTTY: boolean;
}

const signals: StopSource = {
  onStop(stop) {
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    return () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    };
  },
  isTTY: process.stdout.isTTY === true,
};

export async function runTapCommand(argv: string[], out: NodeJS.WriteStream, err: NodeJS.WriteStream, stopSource: StopSource = signals): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        interface: { type: 'string', multiple: true },
        filter: { type: 'string' },
        snaplen: { type: 'string' },
        buffer: { type: 'string' },
        'no-promisc': { type: 'boolean', default: false },
        netns: { type: 'string' },
        read: { type: 'string' },
        replay: { type: 'string' },
        speed: { type: 'string' },
        once: { type: 'boolean', default: false },
        data: { type: 'string' },
        listen: { type: 'string' },
        token: { type: 'string' },
        'retention-age': { type: 'string' },
        'retention-size': { type: 'string' },
        'ring-age': { type: 'string' },
        'ring-size': { type: 'string' },
        workers: { type: 'string' },
        memory: { type: 'string' },
        set: { type: 'string', multiple: true },
        kfl: { type: 'string' },
        node: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    err.write(`tapline tap: ${(e as Error).message}\n\n${tapHelp}`);
    return 2;
  }
  if (values.help) {
    out.write(tapHelp);
    return 0;
  }

  let view: ReturnType<typeof compile> | undefined;
  let source: TapSource;
  let opts;
  try {
    if (values.read !== undefined && values.replay !== undefined) throw new UsageError('give --read or --replay, not both');
    const file = values.read ?? values.replay;
    source =
      file !== undefined
        ? { kind: 'file', path: file, speed: values.replay !== undefined ? Number(values.speed ?? '1') : 0, filter: values.filter }
        : {
            kind: 'live',
            interfaces: values.interface ?? 'any',
            filter: values.filter,
            snaplen: values.snaplen === undefined ? undefined : parseSize(values.snaplen, '--snaplen'),
            bufferBytes: values.buffer === undefined ? undefined : parseSize(values.buffer, '--buffer'),
            promiscuous: !values['no-promisc'],
            netns: values.netns,
          };
    if (file !== undefined) {
      const given = { interface: values.interface, snaplen: values.snaplen, buffer: values.buffer, netns: values.netns, 'no-promisc': values['no-promisc'] || undefined };
      const liveOnly = Object.entries(given).filter(([, v]) => v !== undefined).map(([k]) => `--${k}`);
      if (liveOnly.length > 0) throw new UsageError(`${liveOnly.join(', ')} ${liveOnly.length > 1 ? 'apply' : 'applies'} to live capture, not to --read/--replay`);
    }
    const problem = file === undefined ? undefined : captureFileProblem(file);
    if (problem !== undefined) throw new FileProblem(`${file}: ${problem}`);
    if (source.kind === 'file' && !(source.speed! >= 0)) throw new UsageError(`--speed takes a number > 0, not ${JSON.stringify(values.speed)}`);
    const workers = values.workers === undefined ? Math.max(1, availableParallelism() - 1) : Number(values.workers);
    if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers takes a whole number ≥ 1, not ${JSON.stringify(values.workers)}`);
    opts = {
      source,
      dataDir: resolve(values.data ?? defaultDataDir()),
      listen: parseListen(values.listen ?? '127.0.0.1:8899'),
      token: values.token,
      workers,
      nodeName: values.node ?? hostname(),
      memoryBytes: parseSize(values.memory ?? '192MiB', '--memory'),
      limits: parseLimitOverrides(values.set ?? [], registry),
      retention: {
        maxAgeSec: parseDuration(values['retention-age'] ?? '7d', '--retention-age'),
        maxBytes: parseSize(values['retention-size'] ?? '2GB', '--retention-size'),
      },
      ring: {
        maxAgeSec: parseDuration(values['ring-age'] ?? '1h', '--ring-age'),
        maxBytes: parseSize(values['ring-size'] ?? '1GB', '--ring-size'),
      },
    };
    if (values.kfl !== undefined) view = compile(values.kfl);
  } catch (e) {
    if (e instanceof KflError) err.write(`tapline tap: bad --kfl query\n${formatKflError(values.kfl!, e)}\n`);
    else if (e instanceof FileProblem) {
      // Said before the store, the ring and the API start.
      err.write(`tapline tap: ${e.message}\n`);
      return 1;
    } else if (e instanceof UsageError || e instanceof LimitError) err.write(`tapline tap: ${e.message}\n`);
    else throw e;
    return 2;
  }

  const showTable = !values.quiet && stopSource.isTTY;
  if (showTable) out.write(tableHeader() + '\n');
  let finished: (code: number) => void = () => {};
  const done = new Promise<number>((r) => (finished = r));
  let tap;
  try {
    tap = await startTap({
      ...opts,
      onEntry: showTable ? (e) => (view === undefined || view.match(e) ? out.write(tableRow(e) + '\n') : undefined) : undefined,
      onSourceEnd(_summary, error) {
        if (error) err.write(`tapline tap: ${source.kind === 'file' ? source.path : 'capture'}: ${error.message}\n`);
        else err.write(`tapline tap: ${source.kind === 'file' ? source.path : 'capture'} read to its end${values.once ? '' : '; still serving the API (Ctrl-C stops)'}\n`);
        if (values.once) finished(error ? 1 : 0);
      },
    });
  } catch (e) {
    const code = (e as { code?: string }).code;
    err.write(`tapline tap: ${(e as Error).message}${code ? ` [${code}]` : ''}\n`);
    // A filter libpcap cannot compile is bad usage, as in `tapline read --filter`.
    return code === 'capture.bad_filter' ? 2 : 1;
  }
  const what = source.kind === 'file' ? `reading ${source.path}${source.filter ? ` (filter: ${source.filter})` : ''}` : `capturing on ${source.interfaces === 'any' ? 'all interfaces' : source.interfaces.join(', ')}${source.netns ? ` in network namespace ${source.netns}` : ''}${source.filter ? ` (filter: ${source.filter})` : ''}`;
  err.write(
    `tapline tap: ${what}; data in ${opts.dataDir}\n` +
      `  API ${tap.url}  token ${tap.token}${tap.tokenCreated ? ` (new, kept in ${opts.dataDir}/token)` : ''}\n` +
      `  try: node bin/tapline.js query --hub ${tap.url} --token ${tap.token} --kfl 'http'\n`,
  );
  const unsubscribe = stopSource.onStop(() => finished(0)); // a second signal while stopping is harmless
  const code = await done;
  unsubscribe();
  await tap.stop(); // finishing the pipeline flushes the last entries, so count after it
  const s = tap.stats();
  err.write(`tapline tap: stopped; ${s.packets} packets, ${s.entries} entries, drops kernel ${s.drops.kernel} interface ${s.drops.interface} tapline ${s.drops.tapline}\n`);
  return code;
}

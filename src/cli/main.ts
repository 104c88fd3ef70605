import { Worker } from 'node:worker_threads';
import { setFlagsFromString } from 'node:v8';

// Each command's module is loaded when it runs: `tapline read` does not pay for loading
// the tap's API server and store (0.1 s of a 0.2 s start).
const readCommand = () => import('./read-command.js');
const tapCommand = () => import('./tap-command.js');
const hubClientCommands = () => import('./hub-client-commands.js');
const kflCommand = () => import('./kfl-command.js');

const help = `Usage: tapline COMMAND [options]

Protocol-level sight of your network: capture, reassemble and dissect traffic into
entries (HTTP, DNS, …), query them with KFL.

Commands:
  tap              capture live traffic here, store entries and packets, serve the API
  read FILE|-      entries from a pcap/pcapng file (or standard input) as JSON lines or a table
  query            stored entries from a running tap, by KFL, as JSON lines
  export           a PCAPNG of a running tap's packets, by KFL or capture filter
  kfl check QUERY  validate a KFL query and explain it (normalised form, push-down plan, warnings)
  kfl fields       the fields KFL can query, by protocol
  help [COMMAND]   this text, or a command's

Run "tapline COMMAND --help" for a command's options.
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'read':
      return (await readCommand()).runReadCommand(rest, process.stdout, process.stderr);
    case 'tap':
      if (rest.includes('--help') || rest.includes('-h')) return (await tapCommand()).runTapCommand(rest, process.stdout, process.stderr);
      return runTapThread(rest);
    case 'query':
      return (await hubClientCommands()).runQueryCommand(rest, process.stdout, process.stderr);
    case 'export':
      return (await hubClientCommands()).runExportCommand(rest, process.stdout, process.stderr);
    case 'kfl':
      return (await kflCommand()).runKflCommand(rest, process.stdout, process.stderr);
    case 'help':
      if (rest[0] === 'read') process.stdout.write((await readCommand()).readHelp);
      else if (rest[0] === 'tap') process.stdout.write((await tapCommand()).tapHelp);
      else if (rest[0] === 'query') process.stdout.write((await hubClientCommands()).queryHelp);
      else if (rest[0] === 'export') process.stdout.write((await hubClientCommands()).exportHelp);
      else if (rest[0] === 'kfl') return (await kflCommand()).runKflCommand(['--help'], process.stdout, process.stderr);
      else process.stdout.write(help);
      return 0;
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(help);
      return 0;
    case '--version':
      process.stdout.write('tapline 0.1.0\n');
      return 0;
    default:
      process.stderr.write(`tapline: unknown command ${JSON.stringify(command)}\n\n${help}`);
      return 2;
  }
}

/** Heap of the thread that runs the tap's packet path, API and store client (MiB). */
const TAP_THREAD_HEAP_MB = 160;

/**
 * Old generation V8 lets each of the tap's threads fill before its first full collection
 * (MiB). V8 starts small and grows the limit as the heap grows, so the packet path's
 * threads spent their first seconds in back-to-back full collections: on the benchmark
 * capture 39 of them and 3.1 s of CPU, against 10 and 2.7 s from 48 MiB (64: 5 and
 * 2.6 s, but more resident memory under a flood). Each thread's heap cap is unchanged.
 */
const TAP_INITIAL_OLD_SPACE_MB = 48;

/** Runs `tapline tap` on a thread with a capped heap, relaying SIGINT/SIGTERM to it. */
function runTapThread(argv: string[]): Promise<number> {
  // V8 reads these when each isolate is made: they apply to the threads started from here on.
  setFlagsFromString(`--initial-old-space-size=${TAP_INITIAL_OLD_SPACE_MB}`);
  // Each thread collects its own garbage, with no helper threads. The tap already keeps
  // every core busy with its own threads, and the helpers' work only competes with them:
  // in the live benchmark's 200k pps step the tap's CPU went from 5.6–5.9 to 5.1–5.2 µs a
  // packet, the helpers' share ("other") from 0.16–0.19 s to 0.07–0.08 s. (`read`, one
  // thread on two cores, gains nothing from it: 0.87–0.96 s against 0.89 s.)
  setFlagsFromString('--single-threaded-gc');
  // `gc` for the capture thread, which frees the live batches it drops (src/tap/batch-garbage.ts).
  setFlagsFromString('--expose-gc');
  return new Promise((resolve) => {
    const worker = new Worker(new URL('./tap-thread.js', import.meta.url), {
      workerData: { argv, isTTY: process.stdout.isTTY === true },
      resourceLimits: { maxOldGenerationSizeMb: TAP_THREAD_HEAP_MB, maxYoungGenerationSizeMb: 16 },
    });
    let code = 1;
    const stop = () => worker.postMessage({ stop: true });
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    worker.on('message', (m: { exit?: number }) => {
      if (m.exit !== undefined) code = m.exit;
    });
    worker.on('error', (err) => {
      process.stderr.write(`tapline tap: ${err.message}\n`);
      code = 1;
    });
    worker.on('exit', () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(code);
    });
  });
}

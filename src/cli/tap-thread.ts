// `tapline tap` runs on this thread so that its heap has a limit (a process's main thread
// cannot be given one after it has started): under a flood the packet path makes garbage
// faster than V8 collects it unless the heap is capped. The process's main thread only
// relays signals.
import { parentPort, workerData } from 'node:worker_threads';
import { nameThread } from '../common/thread-name.js';
import { runTapCommand } from './tap-command.js';

// Capture, the packet ring and the API run here.
nameThread('tl-capture');

const { argv, isTTY } = workerData as { argv: string[]; isTTY: boolean };
const stops = new Set<() => void>();
parentPort!.on('message', (m: { stop?: true }) => {
  if (m.stop) for (const stop of stops) stop();
});
const code = await runTapCommand(argv, process.stdout, process.stderr, {
  isTTY,
  onStop(stop) {
    stops.add(stop);
    return () => stops.delete(stop);
  },
});
parentPort!.postMessage({ exit: code });
// Everything was stopped; a native handle left behind must not keep the thread alive.
process.exit(code);

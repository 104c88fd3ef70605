// The worker of thread-priority.test.ts: reports its thread id, after setting its own nice
// value to 7 unless workerData says `nice: null`.
import { parentPort, workerData } from 'node:worker_threads';
import { currentThreadId, setThreadNice } from './thread-priority.js';

const keep = (workerData as { nice?: null } | undefined)?.nice === null;
parentPort!.postMessage(keep ? currentThreadId() : setThreadNice(7));
setInterval(() => undefined, 1000);

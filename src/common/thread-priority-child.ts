// The worker of thread-priority.test.ts: lowers its own priority and reports its thread id.
import { parentPort } from 'node:worker_threads';
import { setThreadNice } from './thread-priority.js';

parentPort!.postMessage(setThreadNice(7));
setInterval(() => undefined, 1000);

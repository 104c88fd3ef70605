import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { siblingModule, startWorker } from './worker.js';

/** Field 19 of /proc/PID/task/TID/stat, the nice value (counted after the parenthesised name). */
const niceOf = (tid: number): number => Number(readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[16]);

test('setThreadNice changes the calling thread only, as /proc shows it', async () => {
  // thread-priority-child sets its own nice value to 7 and reports its thread id.
  const worker = startWorker(siblingModule(import.meta.url, 'thread-priority-child'));
  const tid = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  try {
    assert.ok(Number.isInteger(tid) && tid !== process.pid, `thread id ${tid}`);
    assert.equal(niceOf(tid), 7);
    assert.equal(niceOf(process.pid), getPriority(process.pid));
    assert.notEqual(niceOf(process.pid), 7);
  } finally {
    await worker.terminate();
  }
});

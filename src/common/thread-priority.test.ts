import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { siblingModule, startWorker } from './worker.js';
import { setOtherThreadsNice } from './thread-priority.js';

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

test('setOtherThreadsNice changes every thread but the caller, and threads started after keep the caller\'s', async () => {
  const before = startWorker(siblingModule(import.meta.url, 'thread-priority-child'), { workerData: { nice: null } });
  const beforeTid = await new Promise<number>((resolve, reject) => {
    before.once('message', resolve);
    before.once('error', reject);
  });
  const own = niceOf(process.pid);
  try {
    const changed = setOtherThreadsNice(own + 3);
    // The worker, and V8's and libuv's helper threads.
    assert.ok(changed >= 2, `${changed} threads changed`);
    assert.equal(niceOf(beforeTid), own + 3);
    assert.equal(niceOf(process.pid), own);
    const after = startWorker(siblingModule(import.meta.url, 'thread-priority-child'), { workerData: { nice: null } });
    try {
      const afterTid = await new Promise<number>((resolve, reject) => {
        after.once('message', resolve);
        after.once('error', reject);
      });
      assert.equal(niceOf(afterTid), own);
    } finally {
      await after.terminate();
    }
  } finally {
    await before.terminate();
  }
});

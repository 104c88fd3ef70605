import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createSendQueue, type SendQueueLimits } from './send-queue.js';

/** A socket that takes messages and completes their writes only when told to. */
function fakeSocket() {
  const sent: string[] = [];
  const pending: (() => void)[] = [];
  return {
    sent,
    send: (text: string, done: () => void) => {
      sent.push(text);
      pending.push(done);
    },
    /** Completes the oldest pending write. */
    flushOne: () => pending.shift()!(),
    get pending() {
      return pending.length;
    },
  };
}

const notice = (n: number) => `dropped ${n}`;

describe('send queue', () => {
  test('sends at once while the in-flight bytes are under the limit, then queues', () => {
    const s = fakeSocket();
    const limits: SendQueueLimits = { maxInFlightBytes: 10, maxQueued: 100, maxQueuedBytes: 1000 };
    const q = createSendQueue(s.send, limits, notice);
    q.push('aaaa'); // 4 in flight
    q.push('bbbb'); // 8
    q.push('cccc'); // 12: sent, as 8 < 10
    q.push('dddd'); // waits
    assert.deepEqual(s.sent, ['aaaa', 'bbbb', 'cccc']);
    assert.equal(q.inFlightBytes, 12);
    assert.equal(q.queued, 1);
    s.flushOne(); // 8 in flight → dddd goes
    assert.deepEqual(s.sent, ['aaaa', 'bbbb', 'cccc', 'dddd']);
    assert.equal(q.queued, 0);
    assert.equal(q.dropped, 0);
  });

  test('a socket that never drains: memory stays bounded, the oldest are dropped, the count is exact', () => {
    const s = fakeSocket();
    const drops: number[] = [];
    const q = createSendQueue(s.send, { maxInFlightBytes: 1, maxQueued: 50, maxQueuedBytes: 1 << 20 }, notice, (n) => drops.push(n));
    for (let i = 0; i < 10_000; i++) {
      q.push(`message ${i}`);
      assert.ok(q.queued <= 50);
    }
    assert.deepEqual(s.sent, ['message 0']);
    assert.equal(q.queued, 50);
    assert.equal(q.dropped, 10_000 - 1 - 50);
    assert.equal(drops.length, q.dropped);
    assert.equal(q.queuedBytes, Array.from({ length: 50 }, (_, k) => Buffer.byteLength(`message ${9950 + k}`)).reduce((a, b) => a + b));
    // Once the socket moves: the notice first, then the newest 50 in order.
    while (s.pending > 0) s.flushOne();
    assert.deepEqual(s.sent, ['message 0', `dropped ${10_000 - 51}`, ...Array.from({ length: 50 }, (_, k) => `message ${9950 + k}`)]);
  });

  test('the byte bound drops by size too (multi-byte characters counted in bytes)', () => {
    const s = fakeSocket();
    const q = createSendQueue(s.send, { maxInFlightBytes: 1, maxQueued: 1000, maxQueuedBytes: 12 }, notice);
    q.push('first');
    q.push('ééé'); // 6 bytes
    q.push('ààà'); // 12 bytes queued: at the bound, kept
    assert.equal(q.queuedBytes, 12);
    assert.equal(q.dropped, 0);
    q.push('x'); // 13 > 12: 'ééé' goes
    assert.equal(q.queuedBytes, 7);
    assert.equal(q.dropped, 1);
    q.push('y'.repeat(13)); // larger than the whole queue: dropped itself, the rest kept
    assert.equal(q.dropped, 2);
    assert.equal(q.queued, 2);
    while (s.pending > 0) s.flushOne();
    assert.deepEqual(s.sent, ['first', 'dropped 2', 'ààà', 'x']);
  });

  test('after close nothing is sent and late write completions are harmless', () => {
    const s = fakeSocket();
    const q = createSendQueue(s.send, { maxInFlightBytes: 1, maxQueued: 10, maxQueuedBytes: 100 }, notice);
    q.push('a');
    q.push('b');
    q.close();
    q.push('c');
    s.flushOne();
    assert.deepEqual(s.sent, ['a']);
    assert.equal(q.queued, 0);
  });
});

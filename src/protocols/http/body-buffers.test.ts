// Body buffers given back after their entry was written (recycleBodyBuffers): a file of its
// own, since the switch holds for the rest of the thread (node --test runs each file in a
// process of its own).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { BodyCollector, CODING_GZIP, CODING_NONE, giveBodyBuffer, recycleBodyBuffers, sizeClass } from './body.js';

const limits = { maxDecodedBytes: 1 << 30 };

function body(coding: number, wire: Buffer, cap = 1 << 16, step = 1460): Buffer {
  const c = new BodyCollector(cap, coding, 0, limits);
  for (let i = 0; i < wire.length; i += step) c.write(wire, i, Math.min(wire.length, i + step));
  return c.finish(true).kept;
}

test('a body buffer given back holds the next body of its size; each is taken back once, and buffers not made for bodies never', () => {
  recycleBodyBuffers();
  const a = body(CODING_NONE, Buffer.alloc(10_000, 'a'));
  assert.equal(a.toString(), 'a'.repeat(10_000));
  const under = a.buffer;
  // A view of the kept bytes (what an entry's text holds) gives back the whole buffer.
  giveBodyBuffer(a.subarray(0, 5));
  const b = body(CODING_NONE, Buffer.alloc(9_000, 'b'));
  assert.equal(b.buffer, under, 'the buffer given back is taken again');
  assert.equal(b.toString(), 'b'.repeat(9_000));

  // Given twice: taken back once, so two bodies never share it.
  giveBodyBuffer(b);
  giveBodyBuffer(b);
  const c = body(CODING_NONE, Buffer.alloc(9_000, 'c'));
  const d = body(CODING_NONE, Buffer.alloc(9_000, 'd'));
  assert.notEqual(c.buffer, d.buffer);
  assert.equal(c.toString() + d.toString(), 'c'.repeat(9_000) + 'd'.repeat(9_000));

  // A buffer the bodies did not make stays its owner's.
  const foreign = Buffer.allocUnsafeSlow(16_384);
  giveBodyBuffer(foreign);
  const e = body(CODING_NONE, Buffer.alloc(12_000, 'e'));
  assert.notEqual(e.buffer, foreign.buffer);
});

test('recycled buffers decode and cut bodies as fresh ones: gzip grown through every size, a prefix at a cap that is no power of two', () => {
  recycleBodyBuffers();
  const text = Buffer.from(Array.from({ length: 4000 }, (_, i) => `line ${i} of the body\n`).join(''));
  const wire = zlib.gzipSync(text);
  // Fill the free lists with buffers of every size, holding stale bytes.
  for (const n of [3_000, 6_000, 12_000, 30_000, 60_000]) giveBodyBuffer(body(CODING_NONE, Buffer.alloc(n, 'x')));
  for (const step of [1460, 7, wire.length]) {
    const kept = body(CODING_GZIP, wire, 1 << 16, step);
    assert.equal(kept.toString(), text.subarray(0, 1 << 16).toString(), `step ${step}`);
    giveBodyBuffer(kept);
  }
  // A cap of 50,000 bytes: the buffer taken may be longer (64 KiB), the prefix is not.
  const cut = new BodyCollector(50_000, CODING_GZIP, 0, limits);
  cut.write(wire, 0, wire.length);
  const r = cut.finish(true);
  assert.equal(r.kept.length, 50_000);
  assert.equal(r.kept.toString(), text.subarray(0, 50_000).toString());
  assert.equal(r.size, text.length);
  assert.equal(r.truncated, true);
  const plain = new BodyCollector(50_000, CODING_NONE, 0, limits);
  for (let i = 0; i < text.length; i += 1460) plain.write(text, i, Math.min(text.length, i + 1460));
  const p = plain.finish(true);
  assert.deepEqual([p.kept.length, p.kept.equals(text.subarray(0, 50_000)), p.size, p.truncated], [50_000, true, text.length, true]);
});

test('size classes: the smallest 4 KiB * 2^k that holds the bytes, on both sides of every power of two and past 2^31', () => {
  const byLoop = (bytes: number): number => {
    let k = 0;
    while (4096 * 2 ** k < bytes) k++;
    return k;
  };
  const sizes = [0, 1, 4095, 4096, 4097];
  for (let p = 13; p <= 34; p++) sizes.push(2 ** p - 1, 2 ** p, 2 ** p + 1);
  sizes.push(0x7fffffff, 0x80000000, 3e9);
  for (const n of sizes) assert.equal(sizeClass(n), byLoop(n), String(n));
});

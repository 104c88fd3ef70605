import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSharedOutput, FdLineWriter, LineBlocks, type LineBlock } from './fd-writer.js';
import { OrderedOutput } from './ordered-output.js';

/** Runs `body` with an FdLineWriter on a file, and returns the lines written. */
function written(limit: number | undefined, body: (out: FdLineWriter) => void): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'tapline-ordered-'));
  try {
    const path = join(dir, 'out');
    const fd = openSync(path, 'w');
    try {
      body(new FdLineWriter(fd, createSharedOutput(limit), 4096));
    } finally {
      closeSync(fd);
    }
    return readFileSync(path, 'utf8').split('\n').slice(0, -1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function blocks(...lines: string[]): LineBlock[] {
  const b = new LineBlocks(64);
  for (const l of lines) b.line(l);
  return b.take();
}

test('LineBlocks keeps every line, across blocks and in lines longer than a block', () => {
  const b = new LineBlocks(32);
  const lines = ['a', 'bb', 'x'.repeat(100), 'ccc', 'é'.repeat(20), 'd'];
  for (const l of lines) b.line(l);
  const taken = b.take();
  assert.ok(taken.length > 1, 'more than one block');
  assert.equal(
    taken.map((t) => t.lines).reduce((x, y) => x + y),
    lines.length,
  );
  assert.equal(Buffer.concat(taken.map((t) => t.bytes)).toString('utf8'), lines.join('\n') + '\n');
  assert.deepEqual(b.take(), [], 'taken once');
});

test('lines are written in the order their batches left, whatever order the threads answer in', () => {
  const out = written(undefined, (w) => {
    const o = new OrderedOutput(w, 2);
    o.batchSent(0);
    o.batchSent(1);
    o.batchSent(0);
    o.batchSent(1);
    // Thread 1 answers first: nothing can be written before thread 0's first batch is back.
    o.linesFrom(1, blocks('B2'), 'batch');
    assert.equal(o.pending, 4);
    o.linesFrom(1, blocks('B4a', 'B4b'), 'batch');
    o.linesFrom(0, blocks('B1'), 'batch');
    assert.equal(o.pending, 2, 'the first two batches went out');
    o.linesFrom(0, blocks('clock'), 'clock');
    o.linesFrom(0, [], 'batch');
    assert.equal(o.pending, 0);
    o.linesFrom(1, blocks('end1'), 'end');
    o.linesFrom(0, blocks('end0'), 'end');
    o.end();
  });
  assert.deepEqual(out, ['B1', 'B2', 'B4a', 'B4b', 'clock', 'end0', 'end1']);
});

test('at the end, lines of batches still out are written in order, and limit(n) holds', () => {
  const out = written(3, (w) => {
    const o = new OrderedOutput(w, 2);
    o.batchSent(0);
    o.batchSent(1);
    o.batchSent(0);
    o.linesFrom(1, blocks('B2a', 'B2b'), 'batch');
    o.linesFrom(0, blocks('end0', 'end0b'), 'end');
    o.end();
  });
  assert.deepEqual(out, ['B2a', 'B2b', 'end0']);
});

test('large blocks are written as they are, small ones gathered, in order', () => {
  const big = 'y'.repeat(3000);
  const out = written(undefined, (w) => {
    const o = new OrderedOutput(w, 1);
    for (let k = 0; k < 20; k++) {
      o.batchSent(0);
      o.linesFrom(0, k % 3 === 0 ? blocks(big + k) : blocks(`B${k}`, `C${k}`), 'batch');
    }
    o.end();
  });
  const want: string[] = [];
  for (let k = 0; k < 20; k++) want.push(...(k % 3 === 0 ? [big + k] : [`B${k}`, `C${k}`]));
  assert.deepEqual(out, want);
});

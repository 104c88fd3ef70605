import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dissectionBudget } from './tap.js';

test('the memory budget is shared by the dissection threads, flows and buffers sized inside each share', () => {
  const one = dissectionBudget(256 * 1024 * 1024, 1);
  assert.equal(one.heapMb, 256);
  assert.equal(one.maxFlows, Math.floor((256 * 1024 * 1024 * 0.4) / 1400));
  assert.equal(one.maxBufferedTotal, Math.floor(256 * 1024 * 1024 * 0.1));
  const two = dissectionBudget(256 * 1024 * 1024, 2);
  assert.equal(two.heapMb, 128);
  assert.ok(two.maxFlows * 2 <= one.maxFlows + 1);
  // A tiny budget still leaves a working thread.
  const tiny = dissectionBudget(1024, 4);
  assert.equal(tiny.heapMb, 64);
  assert.ok(tiny.maxFlows >= 1000);
});

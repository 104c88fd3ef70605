import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCount } from './output.js';

test('formatCount writes what toLocaleString("en-US") writes', () => {
  const samples = [0, 1, -1, 999, 1000, -1000, 12345, 100000, 999999, 1000000, 223540, -9876543210, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
  for (let k = 0; k < 2000; k++) samples.push(Math.floor((Math.random() - 0.3) * 10 ** (1 + (k % 15))));
  for (const n of samples) assert.equal(formatCount(n), n.toLocaleString('en-US'), String(n));
  // Not integers: left to toLocaleString.
  assert.equal(formatCount(1.5), (1.5).toLocaleString('en-US'));
});

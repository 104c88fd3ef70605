import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { batchGarbage } from './batch-garbage.js';

describe('batchGarbage', () => {
  test('starts one young-generation collection per threshold of dropped batch bytes', () => {
    const calls: unknown[] = [];
    const g = batchGarbage((o) => calls.push(o), 10 << 20);
    for (let i = 0; i < 35; i++) g.add(1 << 20);
    assert.equal(g.collections, 3);
    assert.deepEqual(calls, [{ type: 'minor' }, { type: 'minor' }, { type: 'minor' }]);
  });

  test('without an exposed gc it does nothing', () => {
    const g = batchGarbage(null, 1);
    for (let i = 0; i < 5; i++) g.add(1 << 20);
    assert.equal(g.collections, 0);
  });
});

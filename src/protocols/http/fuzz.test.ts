/**
 * Beyond the shared conformance suite: random gaps, closes and tiny limits mixed into real
 * exchanges. Nothing may throw, and a parser must always finish (no endless loop).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prng } from '../../common/prng.js';
import { continued, pipelined } from './samples.js';
import { drive, type Step } from './test-support.js';

test('http parser: random cuts, gaps and mutations never throw', () => {
  const rand = prng(0x417);
  const base: Step[] = [...pipelined, ...continued];
  let items = 0;
  for (let round = 0; round < 2000; round++) {
    const steps: Step[] = [];
    for (const s of base) {
      const data = Buffer.from(s.data!);
      if (rand() < 0.3) data[Math.floor(rand() * data.length)] = Math.floor(rand() * 256);
      let at = 0;
      while (at < data.length) {
        const n = 1 + Math.floor(rand() * 60);
        if (rand() < 0.05) steps.push({ dir: s.dir, gap: n });
        else steps.push({ ...s, data: data.subarray(at, at + n) });
        at += n;
      }
    }
    const limits: Record<string, number> = rand() < 0.3 ? { maxHeaderBytes: 1 + Math.floor(rand() * 200), maxChunkLine: 1 + Math.floor(rand() * 10), maxPendingRequests: 1 } : {};
    const r = drive(steps, { limits, settings: { maxBodyText: Math.floor(rand() * 20) } });
    for (const code of [...r.weirds, ...r.violations]) assert.match(code, /^[a-z0-9]+\.[a-z0-9_]+$/);
    items += r.items.length;
  }
  assert.ok(items > 2000, `${items} items`);
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fixtureEntries, syntheticEntry } from './bench.js';
import { withStore } from './test-support.js';

describe('retention', () => {
  test('by age: entries older than maxAgeSec go, the rest stay', async () => {
    // A long interval: the test runs the rounds itself with enforceRetention().
    await withStore({ retention: { maxAgeSec: 3600 }, retentionIntervalMs: 3_600_000, deleteChunk: 50 }, async (store) => {
      const bases = await fixtureEntries();
      const now = Date.now();
      const old = Array.from({ length: 300 }, (_, i) => ({ ...syntheticEntry(bases, i, 0), timestamp: now - 7_200_000 + i }));
      const fresh = Array.from({ length: 200 }, (_, i) => ({ ...syntheticEntry(bases, 1000 + i, 0), timestamp: now - 60_000 + i }));
      for (const e of [...fresh, ...old]) store.add(e);
      const deleted = await store.enforceRetention();
      assert.equal(deleted, 300);
      const s = store.stats();
      assert.equal(s.entries, 200);
      assert.equal(s.expired, 300);
      assert.equal(s.oldest, now - 60_000);
      assert.equal(store.get(old[0]!.id), undefined);
      assert.equal(store.get(fresh[0]!.id)!.id, fresh[0]!.id);
      // The per-protocol counts follow the deletes.
      assert.deepEqual(s.byProtocol, countBy(fresh.map((e) => e.protocol.name)));
    });
  });

  test('by size: the oldest go first and the file stops growing', async () => {
    const maxBytes = 3 * 1024 * 1024;
    await withStore({ retention: { maxBytes }, retentionIntervalMs: 3_600_000, deleteChunk: 200 }, async (store, dir) => {
      const bases = await fixtureEntries();
      const t0 = 1_700_000_000_000;
      let i = 0;
      const sizes: number[] = [];
      for (let round = 0; round < 8; round++) {
        // About 1.5 MB of entries per round, timestamps rising with i.
        for (let k = 0; k < 1000; k++, i++) store.add({ ...syntheticEntry(bases, i, t0), timestamp: t0 + i });
        await store.flush();
        await store.enforceRetention();
        sizes.push(statSync(join(dir, 'entries.db')).size);
      }
      const s = store.stats();
      assert.ok(s.expired > 0);
      assert.equal(s.entries + s.expired, 8000);
      // What is left is exactly the newest entries: nothing newer was deleted before an older one.
      const left = [...store.iterate({ order: 'asc' })];
      assert.equal(left.length, s.entries);
      const cutoff = left[0]!.timestamp;
      for (let k = 0; k < 8000; k++) {
        const e = syntheticEntry(bases, k, t0);
        assert.equal(store.get(e.id) !== undefined, t0 + k >= cutoff, `entry ${k}`);
      }
      // Live pages are under the limit; the file shrinks back with incremental vacuum.
      const db = new Database(join(dir, 'entries.db'), { readonly: true });
      const live = ((db.pragma('page_count', { simple: true }) as number) - (db.pragma('freelist_count', { simple: true }) as number)) * 8192;
      db.close();
      assert.ok(live <= maxBytes, `${live} live bytes`);
      assert.ok(sizes[7]! <= maxBytes + 1024 * 1024, `file ${sizes[7]} bytes, live ${live}, sizes ${sizes.join(' ')}, wal ${statSync(join(dir, 'entries.db-wal')).size}`);
    });
  });

  test('by size, a small store over a small budget keeps its newest entries (never deletes them all)', async () => {
    const maxBytes = 400 * 1000;
    await withStore({ retention: { maxBytes }, retentionIntervalMs: 3_600_000 }, async (store) => {
      const bases = await fixtureEntries();
      const t0 = 1_700_000_000_000;
      for (let i = 0; i < 540; i++) store.add({ ...syntheticEntry(bases, i, t0), timestamp: t0 + i });
      await store.flush();
      await store.enforceRetention();
      const left = [...store.iterate({ order: 'asc' })];
      assert.ok(left.length > 0 && left.length < 540, `${left.length} entries left`);
      // The survivors are exactly the newest ones.
      assert.equal(left[left.length - 1]!.timestamp, t0 + 539);
      assert.deepEqual(left.map((e) => e.timestamp), Array.from({ length: left.length }, (_, k) => t0 + 540 - left.length + k));
    });
  });

  test('runs by itself on the interval', () =>
    withStore({ retention: { maxAgeSec: 1 }, retentionIntervalMs: 20, flushIntervalMs: 5 }, async (store) => {
      const bases = await fixtureEntries();
      for (let i = 0; i < 50; i++) store.add({ ...syntheticEntry(bases, i, 0), timestamp: Date.now() - 10_000 });
      await store.flush();
      // No timing asserted: wait (bounded) until the writer's own rounds have removed them.
      // The writer commits the delete before its 'retained' message reaches this thread, so
      // the rows can be gone from the file a moment before `expired` counts them: wait for both.
      const done = (): boolean => store.stats().entries === 0 && store.stats().expired === 50;
      for (let k = 0; k < 500 && !done(); k++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(store.stats().entries, 0);
      assert.equal(store.stats().expired, 50);
    }));
});

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of [...xs].sort()) out[x] = (out[x] ?? 0) + 1;
  return out;
}

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readdirSync, readlinkSync, statSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Entry } from '../entries/index.js';
import { fixtureEntries, syntheticEntry } from './bench.js';
import { decodeLogRef, encodeLogRef, LOG_REF_BYTES, logFileName } from './entry-log.js';
import { encodeRows } from './schema.js';
import { inTempDir, withStore, withStoreIn } from './test-support.js';

const T0 = 1_700_000_000_000;
const plain = (e: Entry): unknown => JSON.parse(JSON.stringify(e));

function logFiles(dir: string): string[] {
  return readdirSync(join(dir, 'log')).sort();
}

/** What the database says each log file holds, and what its rows point to, by file. */
function bookkeeping(dir: string): { table: Map<number, { rows: number; bytes: number }>; refs: Map<number, { rows: number; bytes: number }>; inline: number } {
  const db = new Database(join(dir, 'entries.db'), { readonly: true });
  try {
    const table = new Map<number, { rows: number; bytes: number }>();
    for (const r of db.prepare('SELECT file, rows, bytes FROM entry_logs').all() as { file: number; rows: number; bytes: number }[]) {
      table.set(r.file, { rows: r.rows, bytes: r.bytes });
    }
    const refs = new Map<number, { rows: number; bytes: number }>();
    let inline = 0;
    for (const r of db.prepare('SELECT entry FROM entries').iterate() as IterableIterator<{ entry: string | Buffer }>) {
      const ref = decodeLogRef(r.entry);
      if (!ref) {
        inline++;
        continue;
      }
      const t = refs.get(ref.file) ?? { rows: 0, bytes: 0 };
      t.rows++;
      t.bytes += ref.length;
      refs.set(ref.file, t);
    }
    return { table, refs, inline };
  } finally {
    db.close();
  }
}

describe('entry log files', () => {
  test('a reference round-trips; entries themselves are not references', () => {
    const ref = { file: 4_000_000_001, offset: 2 ** 40 + 12345, length: 2 ** 31 + 7, json: true };
    const b = encodeLogRef(ref);
    assert.equal(b.length, LOG_REF_BYTES);
    assert.equal(b[0], 0xfe);
    assert.deepEqual(decodeLogRef(b), ref);
    assert.deepEqual(decodeLogRef(encodeLogRef({ ...ref, json: false })), { ...ref, json: false });
    assert.equal(decodeLogRef('{"id":"x"}'), undefined);
    assert.equal(decodeLogRef(Buffer.from([0xff, 0x0f, 0x6f, 0x22])), undefined); // V8's header
    assert.equal(decodeLogRef(Buffer.concat([b, Buffer.from([0])])), undefined); // not 16 bytes
    assert.equal(logFileName(42), '00000042.log');
  });

  test('every entry in log files: read back unchanged through get, query, count and iterate, across files and a restart', async () => {
    const bases = await fixtureEntries();
    const entries = Array.from({ length: 1500 }, (_, i) => syntheticEntry(bases, i, T0));
    await inTempDir(async (dir) => {
      const opts = { flushIntervalMs: 10, batchSize: 200, logFromBytes: 0, logFileBytes: 256 * 1024 };
      await withStoreIn(dir, opts, async (store) => {
        // Both ways in: rows packed by a dissection thread, and add().
        store.addEncoded(encodeRows(entries.slice(0, 700)));
        for (const e of entries.slice(700)) store.add(e);
        await store.flush();
        assert.equal(store.stats().entries, 1500);
      });
      const files = logFiles(dir);
      assert.ok(files.length >= 4, `${files.length} log files of at most ~256 KiB each: ${files.join(' ')}`);
      const { table, refs, inline } = bookkeeping(dir);
      assert.equal(inline, 0);
      assert.deepEqual([...table].sort(), [...refs].sort());
      assert.deepEqual(files, [...table.keys()].sort((a, b) => a - b).map(logFileName));

      await withStoreIn(dir, opts, async (store) => {
        for (const i of [0, 1, 699, 700, 1499]) assert.deepEqual(store.get(entries[i]!.id), plain(entries[i]!), `entry ${i}`);
        const all = [...store.iterate({ order: 'asc' })];
        assert.equal(all.length, 1500);
        const byId = new Map(entries.map((e) => [e.id, plain(e)]));
        for (const e of all) assert.deepEqual(e, byId.get(e.id));
        const want = entries.filter((e) => e.protocol.name === 'http' && (e.response as { status?: number } | undefined)?.status === 404).length;
        assert.ok(want > 0);
        assert.equal(store.count({ kfl: 'http and response.status == 404' }), want);
        assert.equal(store.query({ kfl: 'http and response.status == 404', limit: 10_000 }).entries.length, want);
        // A new file is begun after a restart: the last one, maybe torn by a crash, is never appended to.
        store.add(syntheticEntry(bases, 5000, T0));
        await store.flush();
        const before = new Set(files);
        const added = logFiles(dir).filter((f) => !before.has(f));
        assert.deepEqual(added, [logFileName(Number(files[files.length - 1]!.slice(0, 8)) + 1)]);
        // stats().bytes counts the log files.
        let logBytes = 0;
        for (const f of logFiles(dir)) logBytes += statSync(join(dir, 'log', f)).size;
        assert.ok(store.stats().bytes >= logBytes + statSync(join(dir, 'entries.db')).size);
      });
    });
  });

  test('retention by age deletes a log file once none of its entries is left, and keeps the rest readable', async () => {
    const bases = await fixtureEntries();
    const now = Date.now();
    await withStore({ retention: { maxAgeSec: 3600 }, retentionIntervalMs: 3_600_000, logFromBytes: 0, logFileBytes: 64 * 1024, flushIntervalMs: 10, batchSize: 100 }, async (store, dir) => {
      const old = Array.from({ length: 600 }, (_, i) => ({ ...syntheticEntry(bases, i, 0), timestamp: now - 7_200_000 + i }));
      const fresh = Array.from({ length: 300 }, (_, i) => ({ ...syntheticEntry(bases, 1000 + i, 0), timestamp: now - 60_000 + i }));
      for (const e of old) store.add(e);
      await store.flush();
      for (const e of fresh) store.add(e);
      await store.flush();
      const filesBefore = logFiles(dir);
      // Reads from the files about to go: no descriptor may outlive the read and pin their space.
      assert.deepEqual(store.get(old[0]!.id), plain(old[0]!));
      assert.equal(store.query({ kfl: 'timestamp < now() - hours(1)', limit: 10_000 }).entries.length, 600);
      assert.equal(await store.enforceRetention(), 600);
      const pinned = readdirSync('/proc/self/fd').map((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`);
        } catch {
          return '';
        }
      });
      assert.deepEqual(pinned.filter((l) => l.includes(join(dir, 'log')) && l.endsWith('(deleted)')), []);
      const { table, refs } = bookkeeping(dir);
      assert.deepEqual([...table].sort(), [...refs].sort());
      // Only files with a fresh entry (or the one being written) are left.
      const left = logFiles(dir);
      assert.ok(left.length < filesBefore.length, `${filesBefore.length} files before, ${left.length} after`);
      for (const f of left) assert.ok(table.has(Number(f.slice(0, 8))) || f === filesBefore[filesBefore.length - 1], `${f} holds no entry`);
      for (const e of fresh) assert.deepEqual(store.get(e.id), plain(e));
      assert.equal(store.get(old[0]!.id), undefined);
      assert.equal(store.stats().entries, 300);
    });
  });

  test('retention by size counts the entries in log files; the oldest go first and their files with them', async () => {
    const maxBytes = 2 * 1024 * 1024;
    const bases = await fixtureEntries();
    await withStore({ retention: { maxBytes }, retentionIntervalMs: 3_600_000, deleteChunk: 200, logFromBytes: 0, logFileBytes: 128 * 1024 }, async (store, dir) => {
      let i = 0;
      for (let round = 0; round < 6; round++) {
        for (let k = 0; k < 1000; k++, i++) store.add({ ...syntheticEntry(bases, i, T0), timestamp: T0 + i });
        await store.flush();
        await store.enforceRetention();
      }
      const s = store.stats();
      assert.ok(s.expired > 0);
      assert.equal(s.entries + s.expired, 6000);
      const left = [...store.iterate({ order: 'asc' })];
      assert.equal(left.length, s.entries);
      assert.deepEqual(left.map((e) => e.timestamp), Array.from({ length: left.length }, (_, k) => T0 + 6000 - left.length + k));
      // Live bytes (pages in use + entries in log files) are under the budget, and the log
      // files on disk exceed them by at most the partly expired files.
      const db = new Database(join(dir, 'entries.db'), { readonly: true });
      const pages = ((db.pragma('page_count', { simple: true }) as number) - (db.pragma('freelist_count', { simple: true }) as number)) * 8192;
      const logLive = (db.prepare('SELECT coalesce(sum(bytes), 0) AS n FROM entry_logs').get() as { n: number }).n;
      db.close();
      assert.ok(pages + logLive <= maxBytes, `${pages} + ${logLive} live bytes`);
      let onDisk = 0;
      for (const f of logFiles(dir)) onDisk += statSync(join(dir, 'log', f)).size;
      assert.ok(onDisk <= logLive + 2 * 128 * 1024, `${onDisk} bytes of log files for ${logLive} live`);
    });
  });

  test('a write that fails (disk full) loses its batch, counted and reported; the next batch goes to a new file and is stored', async () => {
    const bases = await fixtureEntries();
    const errors: string[] = [];
    await withStore({ flushIntervalMs: 60_000, batchSize: 1000, logFromBytes: 0, logFileBytes: 16 * 1024, onError: (e) => errors.push(e.message) }, async (store, dir) => {
      const batch = (from: number) => Array.from({ length: 20 }, (_, i) => syntheticEntry(bases, from + i, T0));
      for (const e of batch(0)) store.add(e);
      await store.flush();
      // The file the next batch opens (one past the newest: the first batch filled its
      // file past logFileBytes) is /dev/full, where every write fails with ENOSPC.
      const newest = Math.max(...logFiles(dir).map((f) => Number(f.slice(0, 8))));
      symlinkSync('/dev/full', join(dir, 'log', logFileName(newest + 1)));
      for (const e of batch(100)) store.add(e);
      await store.flush();
      let s = store.stats();
      assert.deepEqual([s.entries, s.failed], [20, 20]);
      assert.equal(errors.length, 1);
      assert.match(errors[0]!, /ENOSPC/);
      // The failed file is gone; the next batch lands in a new one and reads back.
      assert.equal(existsSync(join(dir, 'log', logFileName(newest + 1))), false);
      for (const e of batch(200)) store.add(e);
      await store.flush();
      s = store.stats();
      assert.deepEqual([s.entries, s.failed], [40, 20]);
      for (const from of [0, 200]) for (const e of batch(from)) assert.deepEqual(store.get(e.id), plain(e));
      for (const e of batch(100)) assert.equal(store.get(e.id), undefined);
      const { table, refs } = bookkeeping(dir);
      assert.deepEqual([...table].sort(), [...refs].sort());
    });
  });

  test('a log file not in the database (its commit lost to a crash) is deleted at open', async () => {
    const bases = await fixtureEntries();
    await inTempDir(async (dir) => {
      const opts = { flushIntervalMs: 10, logFromBytes: 0 };
      await withStoreIn(dir, opts, async (store) => {
        store.add(syntheticEntry(bases, 1, T0));
        await store.flush();
      });
      const kept = logFiles(dir);
      assert.equal(kept.length, 1);
      // Written by a batch whose transaction never committed.
      writeFileSync(join(dir, 'log', logFileName(7)), Buffer.alloc(1000, 0xab));
      await withStoreIn(dir, opts, async (store) => {
        // The writer thread opens on its own: a commit shows it has.
        store.add(syntheticEntry(bases, 2, T0));
        await store.flush();
        // Gone, and the next file is numbered past it.
        assert.deepEqual(logFiles(dir), [...kept, logFileName(8)]);
        for (const i of [1, 2]) assert.deepEqual(store.get(syntheticEntry(bases, i, T0).id), plain(syntheticEntry(bases, i, T0)));
      });
    });
  });

  test('entries whose log bytes are gone (file deleted, or cut short by a machine crash) are skipped, the others read', async () => {
    const bases = await fixtureEntries();
    const entries = Array.from({ length: 300 }, (_, i) => syntheticEntry(bases, i, T0));
    await inTempDir(async (dir) => {
      const opts = { flushIntervalMs: 10, batchSize: 100, logFromBytes: 0, logFileBytes: 64 * 1024 };
      await withStoreIn(dir, opts, async (store) => {
        for (const e of entries) store.add(e);
        await store.flush();
      });
      const files = logFiles(dir);
      assert.ok(files.length >= 3);
      unlinkSync(join(dir, 'log', files[0]!));
      const last = join(dir, 'log', files[files.length - 1]!);
      truncateSync(last, Math.floor(statSync(last).size / 2));
      appendFileSync(last, Buffer.alloc(100, 0)); // zeros where a write was lost
      const { refs } = bookkeeping(dir);
      const lost = refs.get(Number(files[0]!.slice(0, 8)))!.rows;
      await withStoreIn(dir, opts, (store) => {
        const read = [...store.iterate({ order: 'asc' })];
        assert.ok(read.length < 300 - lost, `${read.length} read, ${lost} in the deleted file`);
        assert.ok(read.length > 0);
        for (const e of read) assert.deepEqual(e, plain(entries.find((x) => x.id === e.id)!));
        assert.equal(store.count({ kfl: 'true' }), read.length);
        assert.equal(store.get(entries[0]!.id), undefined);
      });
    });
  });
});

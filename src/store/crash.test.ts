import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { entryOf } from './schema.js';
import { EntryLogReader, resolveStored } from './entry-log.js';
import { openEntryStore } from './index.js';
import { fixtureEntries, syntheticEntry } from './bench.js';

// From the sources (tsx) the child is TypeScript; from dist/ it is the compiled JavaScript.
const compiled = import.meta.url.endsWith('.js');
const child = fileURLToPath(new URL(compiled ? './crash-child.js' : './crash-child.ts', import.meta.url));
const loader = compiled ? [] : ['--import', 'tsx'];

// The default keeps the big synthetic entries in log files and the rest in the database;
// logFromBytes 0 puts every entry in the log files, which then take every write.
for (const [name, logFromBytes] of [['default', 4096], ['every entry in log files', 0]] as const) {
  test(`SIGKILL while writing (${name}): the store opens, is intact, and holds every entry reported committed`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapline-store-crash-'));
    try {
      const proc = spawn(process.execPath, [...loader, child, dir, String(logFromBytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let lastReported = 0;
      let reports = 0;
      const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));
      // Kill once several commits were reported, while the child is still adding.
      for await (const line of createInterface({ input: proc.stdout })) {
        const m = /^committed (\d+)$/.exec(line);
        assert.ok(m, `unexpected line from the child: ${line}`);
        lastReported = Number(m[1]);
        if (++reports === 12) {
          proc.kill('SIGKILL');
          break;
        }
      }
      assert.equal(await exited, 'SIGKILL');
      assert.ok(lastReported >= 500, `only ${lastReported} committed before the kill`);

      // The raw file first: SQLite's own check, then every stored entry is whole JSON.
      const db = new Database(join(dir, 'entries.db'));
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const n = (db.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n;
      const logs = new EntryLogReader(join(dir, 'log'));
      let inLogs = 0;
      for (const r of db.prepare('SELECT entry FROM entries').iterate() as IterableIterator<{ entry: Buffer }>) {
        const v = resolveStored(r.entry, logs);
        assert.ok(v !== undefined, 'a committed row points past its log file');
        if (v !== r.entry) inLogs++;
        entryOf(v);
      }
      logs.close();
      db.close();
      if (logFromBytes === 0) assert.equal(inLogs, n);
      else assert.ok(inLogs > 0 && inLogs < n, `${inLogs} of ${n} entries in log files`);
      assert.ok(n >= lastReported, `${n} stored < ${lastReported} reported committed`);

      const store = openEntryStore({ dir, logFromBytes });
      try {
        const bases = await fixtureEntries();
        for (let i = 0; i < lastReported; i++) {
          const want = syntheticEntry(bases, i, 1_767_225_600_000);
          assert.equal(store.get(want.id)?.timestamp, want.timestamp, `entry ${i} of ${lastReported} committed is missing`);
        }
        assert.equal(store.stats().entries, n);
        // The store keeps working after the crash.
        store.add(syntheticEntry(bases, 10_000_000, 0));
        await store.flush();
        assert.equal(store.stats().entries, n + 1);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

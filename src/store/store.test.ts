import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MessageChannel } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { compile, KflError } from '../kfl/index.js';
import type { Entry } from '../entries/index.js';
import { decodeEntries, encodeRows, openEntryStore, StoreError, type EntryStore } from './index.js';
import { fixtureEntries, syntheticEntry } from './bench.js';
import { INSERT_SQL, rowOf, SCHEMA_SQL, SCHEMA_VERSION, SPLIT_FROM_BODY_CHARS } from './schema.js';
import { serialize } from 'node:v8';
import { prng as rng } from '../common/prng.js';
import { inTempDir, withStore, withStoreIn } from './test-support.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'tapline-store-test-'));

/** All entries of a query, page by page, through the cursor. */
function allPages(store: EntryStore, kfl: string, order: 'asc' | 'desc', limit: number): string[] {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 10_000; guard++) {
    const r = store.query({ kfl, order, limit, cursor });
    ids.push(...r.entries.map((e) => e.id));
    if (!r.cursor) return ids;
    cursor = r.cursor;
  }
  throw new Error('paging never ended');
}

/**
 * A store in `dir` holding `entries` as a Tapline before schema 4 wrote an entry with a
 * body: V8-serialized. With `version`, the store says it is of that schema version.
 */
async function writeV8Store(dir: string, entries: readonly Entry[], version?: number): Promise<void> {
  await openEntryStore({ dir }).close();
  const db = new Database(join(dir, 'entries.db'));
  const insert = db.prepare(INSERT_SQL);
  const counts = db.prepare('INSERT INTO proto_counts (proto, n) VALUES (?, 1) ON CONFLICT(proto) DO UPDATE SET n = n + 1');
  for (const e of entries) {
    insert.run(...rowOf(e).slice(0, 11), serialize(e));
    counts.run(e.protocol.name);
  }
  if (version !== undefined) db.pragma(`user_version = ${version}`);
  db.close();
}

function byTime(a: Entry, b: Entry): number {
  return a.timestamp - b.timestamp;
}

describe('entry store with pipeline entries', () => {
  let dir: string;
  let store: EntryStore;
  let real: Entry[];
  let all: Entry[];

  before(async () => {
    real = await fixtureEntries();
    // The real pipeline output of nginx.pcap and dns-dnsmasq.pcap.
    assert.equal(real.filter((e) => e.protocol.name === 'http').length, 9);
    assert.equal(real.filter((e) => e.protocol.name === 'dns').length, 22);
    dir = tmp();
    store = openEntryStore({ dir, flushIntervalMs: 20 });
    // The real entries get ids of their own (both captures start at stream 1) and a
    // second node's name; synthetic clones add variety of addresses, namespaces, statuses.
    const renamed = real.map((e, i) => ({ ...e, id: `real/${i}` }));
    const synthetic = Array.from({ length: 3000 }, (_, i) => syntheticEntry(real, i, 1_767_225_600_000));
    all = [...renamed, ...synthetic];
    for (const e of all) store.add(e);
    await store.flush();
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every entry comes back unchanged by id', () => {
    for (const e of all.slice(0, 40)) assert.deepEqual(store.get(e.id), JSON.parse(JSON.stringify(e)));
    assert.equal(store.get('no/such-id'), undefined);
  });

  test('stats count per protocol and the time span', () => {
    const s = store.stats();
    const http = all.filter((e) => e.protocol.name === 'http').length;
    const dns = all.filter((e) => e.protocol.name === 'dns').length;
    assert.deepEqual(s.byProtocol, { dns, http });
    assert.equal(s.entries, all.length);
    assert.equal(s.oldest, Math.min(...all.map((e) => e.timestamp)));
    assert.equal(s.newest, Math.max(...all.map((e) => e.timestamp)));
    assert.equal(s.pending, 0);
    assert.ok(s.bytes > 0);
  });

  test('the real HTTP entries of nginx.pcap are found by KFL', () => {
    const r = store.query({ kfl: 'http and request.path == "/index.html" and id.startsWith("real/")', order: 'asc' });
    const want = real.map((e, i) => ({ e, id: `real/${i}` })).filter(({ e }) => e.protocol.name === 'http' && e.request?.path === '/index.html');
    assert.ok(want.length > 0);
    assert.deepEqual(
      r.entries.map((e) => e.id),
      want.sort((a, b) => a.e.timestamp - b.e.timestamp).map((w) => w.id),
    );
    assert.equal(r.cursor, undefined);
  });

  test('the real DNS entries are found by question name', () => {
    const name = (real.find((e) => e.protocol.name === 'dns')!.request as { questions: { name: string }[] }).questions[0]!.name;
    const r = store.query({ kfl: `dns and request.questions[0].name == "${name}" and id.startsWith("real/")`, limit: 1000 });
    const want = real.filter((e) => e.protocol.name === 'dns' && (e.request as { questions: { name: string }[] }).questions[0]?.name === name);
    assert.equal(r.entries.length, want.length);
    for (const e of r.entries) assert.equal(e.protocol.name, 'dns');
  });

  test('push-down never changes the answer: random queries equal a brute-force match', () => {
    const rand = rng(4);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const ips = [...new Set(all.flatMap((e) => [e.src.ip, e.dst.ip]))];
    const ports = [...new Set(all.flatMap((e) => [e.src.port, e.dst.port]))];
    const nss = [...new Set(all.flatMap((e) => [e.src.namespace, e.dst.namespace]).filter((x): x is string => !!x))];
    const times = all.map((e) => e.timestamp).sort((a, b) => a - b);
    const paths = [...new Set(all.map((e) => (e.request as { path?: string } | undefined)?.path).filter((x): x is string => !!x)), '/no/such/path'];
    const names = [...new Set(all.flatMap((e) => ((e.request as { questions?: { name: string }[] } | undefined)?.questions ?? []).map((q) => q.name)))];
    const atoms: (() => string)[] = [
      () => pick(['http', 'dns', 'redis', 'protocol.name == "http"']),
      () => `src.ip == "${pick(ips)}"`,
      () => `dst.ip == "${pick(ips)}"`,
      () => `${pick(['src', 'dst'])}.port == ${pick(ports)}`,
      () => `dst.port == "${pick(ports)}"`,
      () => `${pick(['src', 'dst'])}.namespace == "${pick(nss)}"`,
      () => `response.status ${pick(['==', '>=', '<', '>'])} ${pick([200, 304, 404, 500, 503])}`,
      () => `response.status == "${pick([200, 500])}"`,
      () => `timestamp ${pick(['>=', '<=', '>', '<', '=='])} ${pick(times)}`,
      () => `request.method == "GET"`,
      () => `response.code == "NOERROR"`,
      // Fields no index answers: the plan's texts skip rows whose stored bytes lack them.
      () => `request.path == ${JSON.stringify(pick(paths))}`,
      () => `request.path.${pick(['contains', 'startsWith', 'endsWith'])}(${JSON.stringify(pick(paths).slice(0, 1 + Math.floor(rand() * 6)))})`,
      () => `request.headers["user-agent"].startsWith("curl/")`,
      () => `request.questions[0].name.endsWith(${JSON.stringify(pick(names).slice(-6))})`,
      () => `id.contains("real/1")`,
    ];
    const expr = (depth: number): string => {
      const r = rand();
      if (depth > 2 || r < 0.4) return pick(atoms)();
      if (r < 0.65) return `(${expr(depth + 1)} and ${expr(depth + 1)})`;
      if (r < 0.9) return `(${expr(depth + 1)} or ${expr(depth + 1)})`;
      return `not ${expr(depth + 1)}`;
    };
    let pushedDown = 0;
    let withTexts = 0;
    for (let i = 0; i < 150; i++) {
      const q = expr(0);
      const c = compile(q);
      if (Object.keys(c.plan).length > 0) pushedDown++;
      if (c.plan.texts) withTexts++;
      const want = all.filter((e) => c.match(JSON.parse(JSON.stringify(e)))).sort(byTime).map((e) => e.id);
      const got = [...store.iterate({ kfl: q, order: 'asc' })].map((e) => e.id);
      assert.deepEqual(new Set(got), new Set(want), q);
      assert.equal(got.length, want.length, q);
      assert.equal(store.count({ kfl: q }), want.length, q);
    }
    // The generator must exercise the indexes, not only full scans.
    assert.ok(pushedDown > 75, `only ${pushedDown} queries had a plan`);
    assert.ok(withTexts > 20, `only ${withTexts} queries had texts`);
  });

  test('paging walks every match once, in order, both ways', () => {
    const q = 'http and response.status >= 400';
    const c = compile(q);
    const want = all.filter((e) => c.match(JSON.parse(JSON.stringify(e))));
    const asc = allPages(store, q, 'asc', 7);
    const desc = allPages(store, q, 'desc', 13);
    assert.equal(asc.length, want.length);
    assert.deepEqual(desc, [...asc].reverse());
    const ts = asc.map((id) => store.get(id)!.timestamp);
    assert.deepEqual(ts, [...ts].sort((a, b) => a - b));
  });

  test('a query narrowed by the plan reads only its candidates', () => {
    const r = store.query({ kfl: 'http and response.status == 500', limit: 10000 });
    const want = all.filter((e) => e.protocol.name === 'http' && e.response?.status === 500).length;
    assert.equal(r.entries.length, want);
    assert.equal(r.scanned, want);
  });

  test('limit(n) in the query caps the total over all pages', () => {
    const ids = allPages(store, 'dns and limit(25)', 'desc', 10);
    assert.equal(ids.length, 25);
    const r = store.query({ kfl: 'dns and limit(5)', limit: 100 });
    assert.equal(r.entries.length, 5);
    assert.equal(r.cursor, undefined);
  });

  test('from/to bound the time on top of the query', () => {
    const times = all.map((e) => e.timestamp).sort((a, b) => a - b);
    const from = times[100]!;
    const to = times[200]!;
    const got = [...store.iterate({ from, to, order: 'asc' })];
    assert.equal(got.length, all.filter((e) => e.timestamp >= from && e.timestamp <= to).length);
    assert.equal(store.query({ from: to, to: from }).entries.length, 0);
  });

  test('redact() blanks the paths in what is returned', () => {
    const r = store.query({ kfl: 'http and redact("request.headers") and limit(3)' });
    assert.equal(r.entries.length, 3);
    for (const e of r.entries) assert.equal(e.request!.headers, '[REDACTED]');
  });

  test('a bad query throws KflError with its span', () => {
    const q = 'http and response.status == ';
    let direct: KflError | undefined;
    try {
      compile(q);
    } catch (err) {
      direct = err as KflError;
    }
    assert.equal(direct?.code, 'kfl.expected_value');
    assert.throws(
      () => store.query({ kfl: q }),
      (err: unknown) => err instanceof KflError && err.code === 'kfl.expected_value' && JSON.stringify(err.span) === JSON.stringify(direct!.span),
    );
    // Past the end of "== ": where the missing value belongs.
    assert.equal(direct!.span.column, 29);
    assert.throws(() => store.count({ kfl: 'nosuchfn()' }), (err: unknown) => err instanceof KflError && err.code === 'kfl.unknown_function');
  });

  test('bad paging input is a coded StoreError', () => {
    const code = (fn: () => unknown): string => {
      try {
        fn();
      } catch (err) {
        assert.ok(err instanceof StoreError);
        return err.code;
      }
      return 'no error';
    };
    assert.equal(code(() => store.query({ cursor: 'garbage' })), 'store.bad_cursor');
    const c = store.query({ limit: 1, order: 'asc' }).cursor!;
    assert.equal(code(() => store.query({ cursor: c, order: 'desc' })), 'store.bad_cursor');
    assert.equal(code(() => store.query({ limit: 0 })), 'store.bad_limit');
    assert.equal(code(() => store.query({ limit: 2.5 })), 'store.bad_limit');
    assert.equal(code(() => store.query({ from: Number.NaN })), 'store.bad_time');
  });

  test('a page size over the maximum is cut to it, not refused', () => {
    const r = store.query({ limit: 50_000 });
    assert.equal(r.entries.length, all.length);
  });

  test('queries use the indexes the plan names', () => {
    const db = new Database(join(dir, 'entries.db'), { readonly: true });
    try {
      const plan = (sql: string, ...p: unknown[]): string =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...p) as { detail: string }[]).map((r) => r.detail).join(' | ');
      assert.match(plan('SELECT rowid, ts, entry FROM entries WHERE proto IN (?) AND status = ? ORDER BY ts DESC, rowid DESC', 'http', 500), /entries_status/);
      assert.match(plan('SELECT rowid, ts, entry FROM entries WHERE (src_ip = ? OR dst_ip = ?) ORDER BY ts DESC, rowid DESC', 'x', 'x'), /entries_src_ip.*entries_dst_ip|MULTI-INDEX OR/);
      // The status and namespace indexes leave NULLs out; what the plan asks for still uses them.
      assert.match(plan('SELECT rowid, ts, entry FROM entries WHERE status BETWEEN ? AND ? ORDER BY ts DESC, rowid DESC', 500, 599), /entries_status/);
      assert.match(plan('SELECT rowid, ts, entry FROM entries WHERE ts >= ? AND status = ? ORDER BY ts DESC, rowid DESC', 0, 500), /entries_status/);
      assert.match(plan('SELECT rowid, ts, entry FROM entries WHERE (src_ns IN (?, ?) OR dst_ns IN (?, ?)) ORDER BY ts DESC, rowid DESC', 'a', 'b', 'a', 'b'), /entries_src_ns.*entries_dst_ns/);
    } finally {
      db.close();
    }
  });
});

describe('entry store across inserts, restarts and duplicates', () => {
  test('pages stay stable while new entries arrive', () =>
    withStore({ flushIntervalMs: 10 }, async (store) => {
      const bases = await fixtureEntries();
      for (let i = 0; i < 500; i++) store.add(syntheticEntry(bases, i, 1_000_000));
      await store.flush();
      const seen: string[] = [];
      let cursor: string | undefined;
      let next = 500;
      do {
        const r = store.query({ limit: 37, cursor, order: 'desc' });
        seen.push(...r.entries.map((e) => e.id));
        cursor = r.cursor;
        // Newer entries (and some older than everything) land between two pages.
        for (let k = 0; k < 20; k++) store.add(syntheticEntry(bases, next++, 2_000_000));
        store.add({ ...syntheticEntry(bases, next++, 0), timestamp: 5 });
        await store.flush();
      } while (cursor);
      // Every entry stored before the first page is seen exactly once, plus the old ones
      // that were inserted below the cursor while paging.
      const first = new Set(Array.from({ length: 500 }, (_, i) => syntheticEntry(bases, i, 1_000_000).id));
      assert.equal(new Set(seen).size, seen.length);
      for (const id of first) assert.ok(seen.includes(id), id);
      for (const id of seen) assert.ok(first.has(id) || store.get(id)!.timestamp === 5, id);
    }));

  test('data survives close and reopen; duplicate ids keep the first entry', () =>
    inTempDir(async (dir) => {
      const bases = await fixtureEntries();
      const before = openEntryStore({ dir });
      for (let i = 0; i < 1200; i++) before.add(syntheticEntry(bases, i, 10_000));
      await before.close();
      await withStoreIn(dir, {}, async (store) => {
        assert.equal(store.stats().entries, 1200);
        const e = syntheticEntry(bases, 7, 10_000);
        assert.deepEqual(store.get(e.id), JSON.parse(JSON.stringify(e)));
        store.add({ ...e, elapsedTime: 999 });
        await store.flush();
        assert.equal(store.stats().duplicates, 1);
        assert.equal(store.stats().entries, 1200);
        assert.equal(store.get(e.id)!.elapsedTime, e.elapsedTime);
        const db = new Database(join(dir, 'entries.db'), { readonly: true });
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
        assert.equal(db.pragma('auto_vacuum', { simple: true }), 2);
        db.close();
      });
    }));

  test('maxStream: 0 when empty, then the highest stream number stored, after a reopen too', () =>
    inTempDir(async (dir) => {
      const bases = await fixtureEntries();
      const before = openEntryStore({ dir });
      assert.equal(before.maxStream(), 0);
      const streams = [7, 123_456_789_012, 42, 99];
      for (const [i, n] of streams.entries()) before.add({ ...syntheticEntry(bases, i, 0), stream: String(n).padStart(12, '0') });
      await before.flush();
      assert.equal(before.maxStream(), 123_456_789_012);
      await before.close();
      await withStoreIn(dir, {}, async (store) => assert.equal(store.maxStream(), 123_456_789_012));
    }));

  test('past maxPendingEntries add() drops and counts', () =>
    withStore({ maxPendingEntries: 100, batchSize: 1000, flushIntervalMs: 60_000 }, async (store) => {
      const bases = await fixtureEntries();
      for (let i = 0; i < 150; i++) store.add(syntheticEntry(bases, i, 0));
      assert.equal(store.stats().dropped, 50);
      assert.equal(store.stats().pending, 100);
      await store.flush();
      assert.equal(store.stats().entries, 100);
      assert.equal(store.committed, 100);
    }));

  test('past maxPendingBytes add() and addEncoded() drop and count; what is committed frees room again', () =>
    withStore({ maxPendingBytes: 64 * 1024, batchSize: 1000, flushIntervalMs: 60_000 }, async (store) => {
      const bases = await fixtureEntries();
      const sizes: number[] = [];
      let i = 0;
      // Entries go in until the stored bytes pending reach the bound; the rest are refused.
      for (; i < 200; i++) {
        const before = store.stats();
        store.add(syntheticEntry(bases, i, 0));
        const after = store.stats();
        if (after.dropped > before.dropped) break;
        sizes.push(after.pendingBytes - before.pendingBytes);
      }
      const s = store.stats();
      assert.ok(i < 200 && s.dropped === 1, `${i} added, ${s.dropped} dropped`);
      assert.equal(s.pending, sizes.length);
      assert.equal(s.pendingBytes, sizes.reduce((a, b) => a + b, 0));
      assert.ok(s.pendingBytes >= 64 * 1024 && s.pendingBytes - sizes[sizes.length - 1]! < 64 * 1024, `${s.pendingBytes} bytes pending`);
      store.addEncoded(encodeRows([syntheticEntry(bases, 500, 0)]));
      assert.equal(store.stats().dropped, 2);
      await store.flush();
      assert.deepEqual([store.stats().pending, store.stats().pendingBytes, store.stats().entries], [0, 0, sizes.length]);
      const rows = encodeRows([syntheticEntry(bases, 501, 0), syntheticEntry(bases, 502, 0)]);
      store.addEncoded(rows);
      assert.equal(store.stats().pendingBytes, rows.length);
      await store.flush();
      assert.equal(store.stats().entries, sizes.length + 2);
    }));

  test('rows packed elsewhere (addEncoded) are stored, read back and counted like added ones', async () => {
    const bases = await fixtureEntries();
    // Text beyond Latin-1 and a lone surrogate: the bytes cross threads as UTF-8.
    const packed = Array.from({ length: 80 }, (_, i) => {
      const e = syntheticEntry(bases, i, 1_767_225_600_000);
      return { ...e, id: `packed/${i}`, request: { ...e.request, note: `Grüße ✓ 😀 \ud800 "${i}"` } } as Entry;
    });
    const added = Array.from({ length: 20 }, (_, i) => ({ ...syntheticEntry(bases, 100 + i, 1_767_225_600_000), id: `added/${i}` }));
    const decoded = decodeEntries(encodeRows(packed.slice(0, 5)));
    assert.deepEqual(decoded, JSON.parse(JSON.stringify(packed.slice(0, 5))));
    // Packs are sized from bounds (3 bytes per UTF-16 unit); one of JSON text alone is cut to what it holds.
    const dns = bases.filter((e) => e.protocol.name === 'dns').slice(0, 20);
    assert.equal(dns.length, 20);
    const textOnly = encodeRows(dns);
    assert.equal(textOnly.buf.byteLength, textOnly.length);
    assert.deepEqual(decodeEntries(textOnly), JSON.parse(JSON.stringify(dns)));
    await inTempDir(async (dir) => {
      await withStoreIn(dir, { batchSize: 1000, flushIntervalMs: 60_000, maxPendingEntries: 90 }, async (store) => {
        // One batch mixes both kinds; a chunk is taken whole while fewer than
        // maxPendingEntries are pending (as add() takes one entry), else dropped whole.
        for (let i = 0; i < 60; i += 20) store.addEncoded(encodeRows(packed.slice(i, i + 20)));
        for (const e of added) store.add(e);
        assert.equal(store.stats().pending, 80);
        store.addEncoded(encodeRows(packed.slice(60)));
        assert.equal(store.stats().pending, 100);
        store.addEncoded(encodeRows(packed.slice(0, 20)));
        assert.equal(store.stats().dropped, 20);
        store.addEncoded(encodeRows([]));
        await store.flush();
      });
      await withStoreIn(dir, {}, (store) => {
        const st = store.stats();
        assert.equal(st.entries, 100);
        const want = [...packed, ...added];
        const byProto: Record<string, number> = {};
        for (const e of want) byProto[e.protocol.name] = (byProto[e.protocol.name] ?? 0) + 1;
        assert.deepEqual(st.byProtocol, byProto);
        for (const e of [...packed.slice(0, 25), ...added.slice(0, 5)]) assert.deepEqual(store.get(e.id), JSON.parse(JSON.stringify(e)));
        const q = compile('request.note.contains("😀")');
        assert.equal(store.count({ kfl: 'request.note.contains("😀")' }), want.filter((e) => q.match(JSON.parse(JSON.stringify(e)))).length);
        assert.equal(store.count({ kfl: 'request.note.contains("😀")' }), 80);
        const page = store.query({ kfl: 'id.startsWith("packed/")', order: 'asc', limit: 1000 });
        assert.deepEqual(page.entries.map((e) => e.id).sort(), packed.map((e) => e.id).sort());
      });
    });
  });

  test('entries decoded from packed rows outlive the rows being transferred to the writer', async () => {
    const bases = await fixtureEntries();
    const http = bases.find((e) => e.protocol.name === 'http')!;
    const text = 'gzip body '.repeat(3000);
    const gz = gzipSync(text);
    const deferred = { cap: 65536, maxDecodedBytes: 1 << 30, bytes: gz, overflow: false, gapped: false, tail: gz.subarray(gz.length - 4), complete: true };
    const gzipped = { ...http, id: 'gzipped', response: { ...http.response, content: { mimeType: 'text/plain', deferred } } } as unknown as Entry;
    const big = { ...http, id: 'big', response: { ...http.response, content: { mimeType: 'text/plain', size: 5000, text: 'x'.repeat(5000) } } } as Entry;
    const rows = encodeRows([http, gzipped, big]);
    const watched = decodeEntries(rows);
    // As the tap hands rows on to the store's writer thread: their memory leaves this one.
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(rows, [rows.buf]);
    port1.close();
    port2.close();
    assert.equal(rows.buf.byteLength, 0, 'transferred');
    assert.equal((watched[1]!.response as { content: { text: string } }).content.text, text);
    assert.equal((watched[2]!.response as { content: { text: string } }).content.text, 'x'.repeat(5000));
    assert.equal(watched[0]!.id, http.id);
  });

  test('entries with a large body are stored in the split form, the others as JSON; both read back unchanged', async () => {
    const bases = await fixtureEntries();
    const http = bases.find((e) => e.protocol.name === 'http')!;
    const withBody = (id: string, chars: number): Entry => ({
      ...http,
      id,
      response: { ...http.response, content: { mimeType: 'application/json', size: chars, text: '{"k":"v"},'.repeat(Math.ceil(chars / 10)).slice(0, chars) } },
    });
    const entries = [withBody('small', 100), withBody('edge-below', SPLIT_FROM_BODY_CHARS - 1), withBody('edge', SPLIT_FROM_BODY_CHARS), withBody('large', 40_000), bases.find((e) => e.protocol.name === 'dns')!];
    await withStore({ flushIntervalMs: 10 }, async (store, dir) => {
      // Packed elsewhere and added here.
      store.addEncoded(encodeRows([entries[0]!, entries[3]!]));
      for (const e of [entries[1]!, entries[2]!, entries[4]!]) store.add(e);
      await store.flush();
      for (const e of entries) assert.deepEqual(store.get(e.id), JSON.parse(JSON.stringify(e)), e.id);
      const db = new Database(join(dir, 'entries.db'), { readonly: true });
      const forms = Object.fromEntries(
        (db.prepare('SELECT id, typeof(entry) AS t, hex(substr(entry, 1, 1)) AS b FROM entries').all() as { id: string; t: string; b: string }[]).map((r) => [r.id, `${r.t} ${r.b}`]),
      );
      db.close();
      // JSON as text ("{" is 0x7B); the split form as a BLOB (0xFD: split-form.ts); from
      // 4 KiB serialized, a reference into a log file (0xFE, entry-log.ts).
      assert.deepEqual(forms, { small: 'text 7B', 'edge-below': 'text 7B', edge: 'blob FD', large: 'blob FE', [entries[4]!.id]: 'text 7B' });
    });
  });

  test('a query by text finds its entries in every stored form (JSON, split, V8 one-byte and two-byte strings, log files)', async () => {
    const bases = await fixtureEntries();
    const http = bases.find((e) => e.protocol.name === 'http')!;
    const make = (id: string, path: string, bodyChars: number): Entry => ({
      ...http,
      id,
      request: { ...http.request, path, headers: { ...(http.request as { headers: object }).headers, 'X-Note': `${id}: ${path}` } },
      response: { ...http.response, content: { mimeType: 'text/plain', size: bodyChars, text: 'x'.repeat(bodyChars) } },
    });
    const entries = [
      make('json', '/shop/orders', 10), // JSON text
      make('split', '/shop/orders', SPLIT_FROM_BODY_CHARS), // the split form: UTF-8 JSON and the body
      make('split-two-byte', '/shop/orders/\u20ac', SPLIT_FROM_BODY_CHARS),
      make('log', '/shop/orders', 5000), // the split form in a log file
      make('log-two-byte', '/caf\u00e9/\u20ac/shop/orders', 5000),
      make('other', '/shop/cart', SPLIT_FROM_BODY_CHARS),
    ];
    // Rows as a Tapline before schema 4 wrote them: V8-serialized (one-byte strings, and a
    // path that is a UTF-16 string).
    const v8Entries = [make('v8', '/shop/orders', SPLIT_FROM_BODY_CHARS), make('v8-two-byte', '/shop/orders/\u20ac', SPLIT_FROM_BODY_CHARS)];
    await inTempDir(async (dir) => {
      await writeV8Store(dir, v8Entries);
      await withStoreIn(dir, { flushIntervalMs: 10 }, async (store) => {
        for (const e of entries) store.add(e);
        await store.flush();
        const db = new Database(join(dir, 'entries.db'), { readonly: true });
        const forms = Object.fromEntries(
          (db.prepare('SELECT id, typeof(entry) AS t, hex(substr(entry, 1, 1)) AS b FROM entries').all() as { id: string; t: string; b: string }[]).map((r) => [r.id, `${r.t} ${r.b}`]),
        );
        db.close();
        assert.deepEqual(forms, {
          json: 'text 7B',
          split: 'blob FD',
          'split-two-byte': 'blob FD',
          v8: 'blob FF',
          'v8-two-byte': 'blob FF',
          log: 'blob FE',
          'log-two-byte': 'blob FE',
          other: 'blob FD',
        });
        for (const e of [...entries, ...v8Entries]) assert.deepEqual(store.get(e.id), JSON.parse(JSON.stringify(e)), e.id);
        const ids = (kfl: string): string[] => {
          assert.ok(compile(kfl).plan.texts, `${kfl} has texts`);
          const got = [...store.iterate({ kfl, order: 'asc' })].map((e) => e.id).sort();
          assert.equal(store.count({ kfl }), got.length, kfl);
          return got;
        };
        assert.deepEqual(ids('request.path.contains("shop/orders")'), ['json', 'log', 'log-two-byte', 'split', 'split-two-byte', 'v8', 'v8-two-byte']);
        assert.deepEqual(ids('request.path.endsWith("/shop/orders")'), ['json', 'log', 'log-two-byte', 'split', 'v8']);
        assert.deepEqual(ids('request.headers["x-note"].startsWith("v8-two-byte: /shop")'), ['v8-two-byte']);
        assert.deepEqual(ids('request.headers["x-note"].startsWith("split-two-byte: /shop")'), ['split-two-byte']);
        assert.deepEqual(ids('request.path == "/shop/cart"'), ['other']);
        assert.deepEqual(ids('request.path.contains("/nowhere")'), []);
      });
    });
  });

  test('a store of schema version 1 (entries as JSON text) is brought up to date and keeps every entry', async () => {
    const bases = await fixtureEntries();
    const old = bases.slice(0, 5).map((e, i) => ({ ...e, id: `v1/${i}` }));
    await inTempDir(async (dir) => {
      const db = new Database(join(dir, 'entries.db'));
      db.pragma('page_size = 8192');
      db.pragma('auto_vacuum = INCREMENTAL');
      db.pragma('journal_mode = WAL');
      // The version 1 table as it was: the entry in a TEXT column named json.
      db.exec(SCHEMA_SQL.replace('entry     BLOB    NOT NULL', 'json      TEXT    NOT NULL'));
      const insert = db.prepare(INSERT_SQL.replace(', entry)', ', json)'));
      const counts = new Map<string, number>();
      for (const e of old) {
        const row = rowOf(e);
        insert.run(...row.slice(0, 11), JSON.stringify(e));
        counts.set(e.protocol.name, (counts.get(e.protocol.name) ?? 0) + 1);
      }
      for (const [proto, n] of counts) db.prepare('INSERT INTO proto_counts (proto, n) VALUES (?, ?)').run(proto, n);
      db.pragma('user_version = 1');
      db.close();

      const fresh = bases.slice(5, 8).map((e, i) => ({ ...e, id: `v2/${i}` }));
      await withStoreIn(dir, { flushIntervalMs: 10 }, async (store) => {
        for (const e of fresh) store.add(e);
        await store.flush();
      });
      await withStoreIn(dir, {}, (store) => {
        for (const e of [...old, ...fresh]) assert.deepEqual(store.get(e.id), JSON.parse(JSON.stringify(e)), e.id);
        assert.equal(store.stats().entries, 8);
        assert.equal(store.count({ kfl: 'id.startsWith("v1/") or id.startsWith("v2/")' }), 8);
      });
      const check = new Database(join(dir, 'entries.db'), { readonly: true });
      assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.deepEqual(
        (check.prepare("SELECT typeof(entry) AS t, count(*) AS n FROM entries GROUP BY 1 ORDER BY 1").all() as { t: string; n: number }[]).map((r) => [r.t, r.n]),
        [['text', 8]],
      );
      check.close();
    });
  });

  test('a store of schema version 3 (bodies V8-serialized) is brought up to date and reads every entry', async () => {
    const http = (await fixtureEntries()).find((e) => e.protocol.name === 'http')!;
    const text = 'deferred gzip body '.repeat(400);
    const gz = gzipSync(text);
    const deferred = { cap: 65536, maxDecodedBytes: 1 << 30, bytes: gz, overflow: false, gapped: false, tail: gz.subarray(gz.length - 4), complete: true };
    const old = [
      { ...http, id: 'v3/gzip', response: { ...http.response, content: { mimeType: 'text/plain', deferred } } },
      { ...http, id: 'v3/text', response: { ...http.response, content: { mimeType: 'text/plain', size: 3000, text: 'z'.repeat(3000) } } },
    ] as Entry[];
    await inTempDir(async (dir) => {
      await writeV8Store(dir, old, 3);
      await withStoreIn(dir, {}, (store) => {
        assert.equal((store.get('v3/gzip')!.response as { content: { text: string } }).content.text, text);
        assert.deepEqual(store.get('v3/text'), JSON.parse(JSON.stringify(old[1])));
        assert.equal(store.count({ kfl: 'response.content.text.contains("deferred gzip body")' }), 1);
      });
      const check = new Database(join(dir, 'entries.db'), { readonly: true });
      assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      check.close();
    });
  });

  test('a store of schema version 4 (before raw binary bodies), 5 (before DNS messages) or 6 (before HTTP heads) has only its number raised and reads every entry', async () => {
    const http = (await fixtureEntries()).find((e) => e.protocol.name === 'http')!;
    const old = { ...http, id: 'old/text', response: { ...http.response, content: { mimeType: 'application/octet-stream', size: 1500, text: 'QUJD'.repeat(500), encoding: 'base64' } } } as Entry;
    assert.equal(SCHEMA_VERSION, 7);
    for (const version of [4, 5, 6]) {
      await inTempDir(async (dir) => {
        const first = openEntryStore({ dir });
        first.add(old);
        await first.close();
        const db = new Database(join(dir, 'entries.db'));
        db.pragma(`user_version = ${version}`);
        db.close();
        await withStoreIn(dir, {}, (store) => assert.deepEqual(store.get('old/text'), JSON.parse(JSON.stringify(old))));
        const check = new Database(join(dir, 'entries.db'), { readonly: true });
        assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION, `from version ${version}`);
        check.close();
      });
    }
  });

  test('a store of a newer schema version is refused with a clear error', () =>
    inTempDir(async (dir) => {
      await openEntryStore({ dir }).close();
      const db = new Database(join(dir, 'entries.db'));
      db.pragma('user_version = 99');
      db.close();
      assert.throws(() => openEntryStore({ dir }), new RegExp(`schema version 99, this Tapline reads versions up to ${SCHEMA_VERSION}$`));
    }));

  test('bad options fail at open with a code', () =>
    inTempDir((dir) => {
      assert.throws(() => openEntryStore({ dir, batchSize: 0 }), (e: unknown) => e instanceof StoreError && e.code === 'store.bad_option');
      assert.throws(
        () => openEntryStore({ dir, retention: { maxBytes: -1 } }),
        (e: unknown) => e instanceof StoreError && e.code === 'store.bad_option',
      );
    }));
});

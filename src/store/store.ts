/**
 * The entry store: SQLite in WAL mode on local disk. `add` buffers on the main thread and
 * hands batches to the writer thread (writer-thread.ts); `query`, `get`, `iterate` and
 * `stats` read through a connection of the main thread, which WAL lets run while the
 * writer commits. Queries run the KFL push-down plan as SQL first, then the compiled
 * match function on the candidates, and page by a cursor on (timestamp, rowid).
 */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { siblingModule, startWorker } from '../common/worker.js';
import { compile, type CompiledQuery } from '../kfl/index.js';
import type { Entry } from '../entries/index.js';
import { applyConnectionPragmas, createSchema, entryOf, prepareNewFile, rowOf, storedFormHas, type EncodedRows, type EntryRow } from './schema.js';
import { candidateSql, type Position } from './sql-plan.js';
import type { FromWriter, ToWriter, WriterSettings } from './writer-thread.js';
import { StoreError } from './errors.js';
import { DEFAULT_LOG_FILE_BYTES, DEFAULT_LOG_FROM_BYTES, EntryLogReader, logFilesBytes, resolveStored } from './entry-log.js';
import { makeDirs } from '../common/make-dirs.js';

export interface RetentionOptions {
  /** Entries whose timestamp is older than this many seconds are deleted. */
  maxAgeSec?: number;
  /** The live pages of the database file are kept under this many bytes (oldest deleted first). */
  maxBytes?: number;
}

export interface EntryStoreOptions {
  /** The folder of the database (created when missing); the file is `entries.db`. */
  dir: string;
  retention?: RetentionOptions;
  /** A batch goes to the writer at most this long after its first entry was added. Default 250. */
  flushIntervalMs?: number;
  /** A batch goes to the writer as soon as it holds this many entries. Default 1000. */
  batchSize?: number;
  /** Entries added but not yet committed, at most; past it add() drops and counts. Default 100000. */
  maxPendingEntries?: number;
  /**
   * Bytes of stored entries added but not yet committed, at most; past it add() drops and
   * counts. Default 128 MiB. The writer thread runs at a lower priority than the packet
   * path (writer-thread.ts), so in a burst entries wait here; this bounds what that costs.
   */
  maxPendingBytes?: number;
  /** How often the writer enforces retention. Default 1000. */
  retentionIntervalMs?: number;
  /** Rows deleted per retention transaction. Default 2000. */
  deleteChunk?: number;
  /** SQLite page cache per connection, MiB. Default 64. */
  cacheMiB?: number;
  /** Rows one query() call reads at most before it returns what it has, with a cursor. Default 200000. */
  maxScanRows?: number;
  /** Stored entries (serialized) from this many bytes on are kept in log files beside the database (entry-log.ts). Default 4096. */
  logFromBytes?: number;
  /** A log file is closed, and the next begun, at this many bytes. Default 64 MiB. */
  logFileBytes?: number;
  /** Called when the writer fails (disk full, file removed): the batch's entries are lost and counted. */
  onError?(err: Error): void;
}

export interface QueryOptions {
  kfl?: string;
  /** ms since the epoch, inclusive. */
  from?: number;
  /** ms since the epoch, inclusive. */
  to?: number;
  /** Page size: default 100, at most 10000. */
  limit?: number;
  /** From the previous page; the other options must be the same. */
  cursor?: string;
  /** By timestamp; default 'desc' (newest first). */
  order?: 'asc' | 'desc';
}

export interface QueryResult {
  entries: Entry[];
  /** Present when there may be more: pass it back for the next page. */
  cursor?: string;
  /** Candidate rows the match function looked at. */
  scanned: number;
}

export type IterateOptions = Omit<QueryOptions, 'limit' | 'cursor'>;

export interface StoreStats {
  entries: number;
  /** Bytes on disk: the database file, its WAL and the entry log files. */
  bytes: number;
  /** Timestamps (ms) of the oldest and newest entry; null when empty. */
  oldest: number | null;
  newest: number | null;
  byProtocol: Record<string, number>;
  /** Entries added and not yet committed. */
  pending: number;
  /** Bytes of their stored form. */
  pendingBytes: number;
  /** Entries add() refused because maxPendingEntries or maxPendingBytes were pending. */
  dropped: number;
  /** Entries lost to a failed write. */
  failed: number;
  /** Entries whose id was already stored (kept the first). */
  duplicates: number;
  /** Entries deleted by retention since open. */
  expired: number;
}

export interface EntryStore {
  /** Buffers the entry; it is committed within flushIntervalMs (or sooner when a batch fills). */
  add(entry: Entry): void;
  /**
   * The same for rows already made and packed elsewhere (`encodeRows`, e.g. in a
   * dissection thread): the buffer is handed on to the writer thread, not copied; the
   * caller must not use it afterwards. All of its rows are dropped (and counted) when
   * maxPendingEntries are pending.
   */
  addEncoded(rows: EncodedRows): void;
  query(opts?: QueryOptions): QueryResult;
  /** Every match (no page size), read a page at a time so no read transaction stays open. */
  iterate(opts?: IterateOptions): IterableIterator<Entry>;
  /** How many entries match (runs the match function on every candidate). */
  count(opts?: IterateOptions): number;
  get(id: string): Entry | undefined;
  /**
   * The highest stream number among the stored entries (0 when there are none). A tap
   * that starts again on the same store numbers its streams after it: entry ids are
   * `<node>/<stream>-<index>`, and a repeated id would be dropped as a duplicate.
   */
  maxStream(): number;
  stats(): StoreStats;
  /** Resolves when everything added so far is committed. */
  flush(): Promise<void>;
  /** Resolves when the pending entries are under half of maxPendingEntries (for producers that can wait). */
  drain(): Promise<void>;
  /** Runs a retention round now; resolves with the entries it deleted. */
  enforceRetention(): Promise<number>;
  /** Entries committed since open (the crash test reads it). */
  readonly committed: number;
  /** Commits what is buffered, stops the writer and closes the file. */
  close(): Promise<void>;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 10_000;
const ITERATE_PAGE = 1000;
const STATEMENT_CACHE = 64;

/** Starts the writer thread (from source too: see startWorker). */
function startWriter(settings: WriterSettings): Worker {
  return startWorker(siblingModule(import.meta.url, 'writer-thread'), { workerData: settings });
}

interface Cursor {
  pos: Position;
  /** Entries returned by the pages before, for a limit(n) in the query. */
  returned: number;
}

function encodeCursor(c: Cursor, order: 'asc' | 'desc'): string {
  return Buffer.from(JSON.stringify([c.pos.ts, c.pos.rowid, c.returned, order === 'asc' ? 1 : 0])).toString('base64url');
}

function decodeCursor(s: string, order: 'asc' | 'desc'): Cursor {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (
    !Array.isArray(v) ||
    v.length !== 4 ||
    !v.every((x) => typeof x === 'number' && Number.isFinite(x)) ||
    !Number.isInteger(v[1]) ||
    !Number.isInteger(v[2]) ||
    v[2] < 0
  ) {
    throw new StoreError('store.bad_cursor', 'the cursor is not one this store handed out');
  }
  if ((v[3] === 1) !== (order === 'asc')) throw new StoreError('store.bad_cursor', 'the cursor was made for the other order');
  return { pos: { ts: v[0] as number, rowid: v[1] as number }, returned: v[2] as number };
}

function checkTime(name: string, v: number | undefined): void {
  if (v !== undefined && !Number.isFinite(v)) throw new StoreError('store.bad_time', `${name} must be a number of ms since the epoch`);
}

export function openEntryStore(opts: EntryStoreOptions): EntryStore {
  const flushIntervalMs = opts.flushIntervalMs ?? 250;
  const batchSize = opts.batchSize ?? 1000;
  const maxPending = opts.maxPendingEntries ?? 100_000;
  const maxPendingBytes = opts.maxPendingBytes ?? 128 * 1024 * 1024;
  const maxScanRows = opts.maxScanRows ?? 200_000;
  const cacheMiB = opts.cacheMiB ?? 64;
  const retention = opts.retention ?? {};
  for (const [name, v] of [
    ['flushIntervalMs', flushIntervalMs],
    ['batchSize', batchSize],
    ['maxPendingEntries', maxPending],
    ['maxPendingBytes', maxPendingBytes],
    ['maxScanRows', maxScanRows],
    ['retention.maxAgeSec', retention.maxAgeSec],
    ['retention.maxBytes', retention.maxBytes],
    ['logFileBytes', opts.logFileBytes],
  ] as const) {
    if (v !== undefined && !(typeof v === 'number' && v > 0 && Number.isFinite(v))) {
      throw new StoreError('store.bad_option', `${name} must be a positive number, got ${String(v)}`);
    }
  }

  const logFromBytes = opts.logFromBytes ?? DEFAULT_LOG_FROM_BYTES;
  if (!(Number.isInteger(logFromBytes) && logFromBytes >= 0)) {
    throw new StoreError('store.bad_option', `logFromBytes must be a whole number ≥ 0, got ${String(opts.logFromBytes)}`);
  }

  makeDirs(opts.dir);
  const path = join(opts.dir, 'entries.db');
  const logDir = join(opts.dir, 'log');
  // The main thread creates the schema before the writer starts, so the reader below can
  // serve queries at once and open stays synchronous.
  const db = new Database(path);
  try {
    prepareNewFile(db);
    applyConnectionPragmas(db, cacheMiB);
    createSchema(db);
    db.pragma('query_only = ON');
  } catch (err) {
    db.close();
    throw err;
  }

  const settings: WriterSettings = {
    path,
    maxAgeSec: retention.maxAgeSec,
    maxBytes: retention.maxBytes,
    retentionIntervalMs: opts.retentionIntervalMs ?? 1000,
    deleteChunk: opts.deleteChunk ?? 2000,
    maxChunksPerRound: 50,
    vacuumPages: 4096,
    cacheMiB,
    logDir,
    logFromBytes,
    logFileBytes: opts.logFileBytes ?? DEFAULT_LOG_FILE_BYTES,
  };
  const logReader = new EntryLogReader(logDir);
  /**
   * The entry a row stores, read from its log file when it holds a reference; undefined
   * when that file is gone (retention deleted the row after this read began) or the bytes
   * are not whole (a machine crash lost a write that a committed row points to).
   */
  const stored = (value: string | Buffer, has?: (v: string | Buffer) => boolean): Entry | undefined => {
    const v = resolveStored(value, logReader);
    if (v === undefined || (has !== undefined && !has(v))) return undefined;
    if (v === value) return entryOf(v);
    try {
      return entryOf(v);
    } catch {
      return undefined;
    }
  };
  /** The plan's texts as a test of stored rows (storedFormHas), when it has any. */
  const textTest = (q: CompiledQuery | undefined): ((v: string | Buffer) => boolean) | undefined =>
    q?.plan.texts !== undefined ? storedFormHas(q.plan.texts) : undefined;
  const worker = startWriter(settings);

  let buffer: EntryRow[] = [];
  /** Packed rows waiting with `buffer` for the next batch, and how many rows they hold. */
  let packed: EncodedRows[] = [];
  let packedRows = 0;
  let timer: NodeJS.Timeout | undefined;
  let posted = 0;
  let committed = 0;
  let settled = 0; // committed or failed
  /** Bytes in buffer and packed, and in each batch posted and not yet settled (in order: the writer answers batches in order). */
  let bufferedBytes = 0;
  let postedBytes = 0;
  const postedBatchBytes: number[] = [];
  const pendingEntries = (): number => posted + buffer.length + packedRows - settled;
  const pendingBytes = (): number => bufferedBytes + postedBytes;
  /** Whether add() must refuse more now. */
  const full = (): boolean => pendingEntries() >= maxPending || pendingBytes() >= maxPendingBytes;
  /** Whether a waiting producer may go on (drain()). */
  const halfEmpty = (): boolean => pendingEntries() < maxPending / 2 && pendingBytes() < maxPendingBytes / 2;
  const settleBatch = (): void => {
    postedBytes -= postedBatchBytes.shift() ?? 0;
  };
  let dropped = 0;
  let failed = 0;
  let duplicates = 0;
  let expired = 0;
  let closed = false;
  let writerGone: Error | undefined;
  /** Waiters on `settled` reaching a count. */
  let flushWaiters: { upTo: number; resolve(): void; reject(e: Error): void }[] = [];
  let drainWaiters: (() => void)[] = [];
  let retentionWaiters: { resolve(n: number): void; reject(e: Error): void }[] = [];
  let closeWaiter: (() => void) | undefined;

  const reportError = (err: Error): void => {
    if (opts.onError) opts.onError(err);
  };

  const wakeWaiters = (): void => {
    if (flushWaiters.length) {
      const still: typeof flushWaiters = [];
      for (const w of flushWaiters) (settled >= w.upTo ? w.resolve() : still.push(w));
      flushWaiters = still;
    }
    if (drainWaiters.length && halfEmpty()) {
      const ws = drainWaiters;
      drainWaiters = [];
      for (const w of ws) w();
    }
  };

  worker.on('message', (m: FromWriter) => {
    switch (m.t) {
      case 'committed':
        committed += m.rows;
        settled += m.rows;
        settleBatch();
        duplicates += m.rows - m.inserted;
        wakeWaiters();
        break;
      case 'error':
        failed += m.rows;
        settled += m.rows;
        if (m.rows > 0) settleBatch(); // retention errors carry no batch
        reportError(new StoreError('store.write_failed', m.message));
        wakeWaiters();
        break;
      case 'retained':
        expired += m.deleted;
        if (m.requested) retentionWaiters.shift()?.resolve(m.deleted);
        break;
      case 'closed':
        closeWaiter?.();
        break;
    }
  });
  const onGone = (err: Error): void => {
    writerGone ??= err;
    reportError(err);
    for (const w of flushWaiters) w.reject(err);
    for (const w of retentionWaiters) w.reject(err);
    flushWaiters = [];
    retentionWaiters = [];
    closeWaiter?.();
  };
  worker.on('error', onGone);
  worker.on('exit', (code) => {
    if (!closed || code !== 0) onGone(new StoreError('store.writer_exited', `the store's writer thread exited (code ${code})`));
  });

  const post = (): void => {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (buffer.length === 0 && packedRows === 0) return;
    const rows = buffer;
    const chunks = packed;
    const n = rows.length + packedRows;
    buffer = [];
    packed = [];
    packedRows = 0;
    posted += n;
    const bytes = bufferedBytes;
    bufferedBytes = 0;
    if (writerGone) {
      failed += n;
      settled += n;
      return;
    }
    postedBatchBytes.push(bytes);
    postedBytes += bytes;
    worker.postMessage({ t: 'batch', rows, packed: chunks } satisfies ToWriter, chunks.map((c) => c.buf));
  };

  /** Posts a full batch now, or makes sure a partial one goes within flushIntervalMs. */
  const scheduled = (): void => {
    if (buffer.length + packedRows >= batchSize) post();
    else if (!timer) {
      timer = setTimeout(post, flushIntervalMs);
      timer.unref();
    }
  };

  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string): Database.Statement => {
    let s = statements.get(sql);
    if (!s) {
      s = db.prepare(sql);
      if (statements.size >= STATEMENT_CACHE) statements.delete(statements.keys().next().value as string);
      statements.set(sql, s);
    }
    return s;
  };

  /** Runs a read of the store, then closes the log files' descriptors it opened (EntryLogReader.release). */
  function reading<T>(read: () => T): T {
    try {
      return read();
    } finally {
      logReader.release();
    }
  }

  function runPage(...args: Parameters<typeof readPage>): ReturnType<typeof readPage> {
    return reading(() => readPage(...args));
  }

  /**
   * Reads candidates from `after` on, matching each, until `want` entries matched, the
   * scan budget ran out, or the candidates ended. `last` is the last row read.
   */
  function readPage(
    q: CompiledQuery | undefined,
    o: { from?: number; to?: number; order: 'asc' | 'desc' },
    after: Position | undefined,
    want: number,
    scanBudget: number,
    out: Entry[],
  ): { scanned: number; last?: Position; exhausted: boolean } {
    const spec = candidateSql({ plan: q?.plan ?? {}, from: o.from, to: o.to, order: o.order, after });
    if (!spec) return { scanned: 0, exhausted: true };
    const stmt = prepare(spec.sql);
    let scanned = 0;
    let last: Position | undefined;
    let exhausted = true;
    const has = textTest(q);
    for (const row of stmt.iterate(...spec.params) as IterableIterator<{ rowid: number; ts: number; entry: string | Buffer }>) {
      scanned++;
      last = { ts: row.ts, rowid: row.rowid };
      const entry = stored(row.entry, has);
      if (entry !== undefined && (!q || q.match(entry))) {
        out.push(q ? q.apply(entry) : entry);
        if (out.length >= want) {
          exhausted = false;
          break; // leaving the loop resets the statement
        }
      }
      if (scanned >= scanBudget) {
        exhausted = false;
        break;
      }
    }
    return { scanned, last, exhausted };
  }

  function query(qo: QueryOptions = {}): QueryResult {
    if (closed) throw new StoreError('store.closed', 'the store is closed');
    const order = qo.order ?? 'desc';
    if (order !== 'asc' && order !== 'desc') throw new StoreError('store.bad_order', `order must be 'asc' or 'desc'`);
    const pageSize = qo.limit ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1) throw new StoreError('store.bad_limit', `limit must be a whole number ≥ 1, got ${String(qo.limit)}`);
    checkTime('from', qo.from);
    checkTime('to', qo.to);
    const q = qo.kfl !== undefined && qo.kfl.trim() !== '' ? compile(qo.kfl) : undefined; // KflError propagates
    const cur = qo.cursor !== undefined ? decodeCursor(qo.cursor, order) : undefined;
    const returned = cur?.returned ?? 0;
    let want = Math.min(pageSize, MAX_PAGE_SIZE);
    if (q?.limit !== undefined) want = Math.min(want, q.limit - returned);
    const entries: Entry[] = [];
    if (want <= 0) return { entries, scanned: 0 };
    const r = runPage(q, { from: qo.from, to: qo.to, order }, cur?.pos, want, maxScanRows, entries);
    const result: QueryResult = { entries, scanned: r.scanned };
    const total = returned + entries.length;
    if (!r.exhausted && r.last && !(q?.limit !== undefined && total >= q.limit)) {
      result.cursor = encodeCursor({ pos: r.last, returned: total }, order);
    }
    return result;
  }

  function* iterate(io: IterateOptions = {}): IterableIterator<Entry> {
    const order = io.order ?? 'desc';
    checkTime('from', io.from);
    checkTime('to', io.to);
    const q = io.kfl !== undefined && io.kfl.trim() !== '' ? compile(io.kfl) : undefined;
    let left = q?.limit ?? Infinity;
    let after: Position | undefined;
    for (;;) {
      if (closed) throw new StoreError('store.closed', 'the store is closed');
      const page: Entry[] = [];
      const r = runPage(q, { from: io.from, to: io.to, order }, after, Math.min(ITERATE_PAGE, left), Infinity, page);
      for (const e of page) yield e;
      left -= page.length;
      if (r.exhausted || !r.last || left <= 0) return;
      after = r.last;
    }
  }

  function count(co: IterateOptions = {}): number {
    const q = co.kfl !== undefined && co.kfl.trim() !== '' ? compile(co.kfl) : undefined;
    checkTime('from', co.from);
    checkTime('to', co.to);
    const spec = candidateSql({ plan: q?.plan ?? {}, from: co.from, to: co.to, order: 'asc' });
    if (!spec) return 0;
    let n = 0;
    if (!q) {
      return (prepare(`SELECT count(*) AS n FROM (${spec.sql})`).get(...spec.params) as { n: number }).n;
    }
    const has = textTest(q);
    reading(() => {
      for (const row of prepare(spec.sql).iterate(...spec.params) as IterableIterator<{ entry: string | Buffer }>) {
        const entry = stored(row.entry, has);
        if (entry !== undefined && q.match(entry)) n++;
      }
    });
    return q.limit !== undefined ? Math.min(n, q.limit) : n;
  }

  const getStmt = db.prepare('SELECT entry FROM entries WHERE id = ?');
  const countsStmt = db.prepare('SELECT proto, n FROM proto_counts ORDER BY proto');
  // Streams are 12 digits wide, so the text order of the index is their number order.
  const maxStreamStmt = db.prepare('SELECT max(stream) AS s FROM entries');
  const oldestStmt = db.prepare('SELECT min(ts) AS t FROM entries');
  const newestStmt = db.prepare('SELECT max(ts) AS t FROM entries');

  function fileSize(p: string): number {
    try {
      return statSync(p).size;
    } catch {
      return 0;
    }
  }

  const store: EntryStore = {
    add(entry) {
      if (closed) throw new StoreError('store.closed', 'the store is closed');
      if (full()) {
        dropped++;
        return;
      }
      const row = rowOf(entry);
      buffer.push(row);
      bufferedBytes += row[11].length;
      scheduled();
    },
    addEncoded(rows) {
      if (closed) throw new StoreError('store.closed', 'the store is closed');
      if (rows.count === 0) return;
      if (full()) {
        dropped += rows.count;
        return;
      }
      packed.push(rows);
      packedRows += rows.count;
      bufferedBytes += rows.length;
      scheduled();
    },
    query,
    iterate,
    count,
    get(id) {
      const row = getStmt.get(id) as { entry: string | Buffer } | undefined;
      return reading(() => (row ? stored(row.entry) : undefined));
    },
    maxStream() {
      const s = (maxStreamStmt.get() as { s: string | null }).s;
      const n = s === null ? 0 : Number(s);
      return Number.isSafeInteger(n) && n > 0 ? n : 0;
    },
    stats() {
      const byProtocol: Record<string, number> = {};
      let entries = 0;
      for (const r of countsStmt.all() as { proto: string; n: number }[]) {
        byProtocol[r.proto] = r.n;
        entries += r.n;
      }
      return {
        entries,
        bytes: fileSize(path) + fileSize(path + '-wal') + logFilesBytes(logDir),
        oldest: (oldestStmt.get() as { t: number | null }).t,
        newest: (newestStmt.get() as { t: number | null }).t,
        byProtocol,
        pending: pendingEntries(),
        pendingBytes: pendingBytes(),
        dropped,
        failed,
        duplicates,
        expired,
      };
    },
    flush() {
      post();
      if (writerGone) return Promise.reject(writerGone);
      if (settled >= posted) return Promise.resolve();
      return new Promise((resolve, reject) => flushWaiters.push({ upTo: posted, resolve, reject }));
    },
    drain() {
      if (halfEmpty()) return Promise.resolve();
      post();
      return new Promise((resolve) => drainWaiters.push(resolve));
    },
    enforceRetention() {
      if (writerGone) return Promise.reject(writerGone);
      post();
      return new Promise((resolve, reject) => {
        retentionWaiters.push({ resolve, reject });
        worker.postMessage({ t: 'retain' } satisfies ToWriter);
      });
    },
    get committed() {
      return committed;
    },
    async close() {
      if (closed) return;
      post();
      closed = true;
      if (!writerGone) {
        await new Promise<void>((resolve) => {
          closeWaiter = resolve;
          worker.postMessage({ t: 'close' } satisfies ToWriter);
        });
      }
      for (const w of drainWaiters) w();
      drainWaiters = [];
      db.close();
      logReader.close();
    },
  };
  return store;
}

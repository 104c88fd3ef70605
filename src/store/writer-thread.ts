/**
 * The store's writer: a worker thread that owns the only writing connection. It commits
 * each batch the main thread sends in one transaction and enforces retention between
 * batches, in small chunks, so neither a large commit nor a large delete ever stalls the
 * main thread's event loop (README.md "Where writes happen" has the measurements).
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { nameThread } from '../common/thread-name.js';
import { setThreadNice } from '../common/thread-priority.js';
import { applyConnectionPragmas, decodeRows, INSERT_SQL, type EncodedRows, type EntryRow } from './schema.js';
import { decodeLogRef, EntryLogWriter, LOG_REF_BYTES } from './entry-log.js';

export interface WriterSettings {
  path: string;
  maxAgeSec?: number;
  maxBytes?: number;
  retentionIntervalMs: number;
  deleteChunk: number;
  /** Chunks one retention round deletes at most before it lets the next round go on. */
  maxChunksPerRound: number;
  vacuumPages: number;
  cacheMiB: number;
  /** The entry log files' folder (entry-log.ts). */
  logDir: string;
  /** Stored entries from this many bytes on go to a log file. */
  logFromBytes: number;
  /** A log file is closed once it holds this many bytes. */
  logFileBytes: number;
}

export type ToWriter = { t: 'batch'; rows: EntryRow[]; packed: EncodedRows[] } | { t: 'retain' } | { t: 'close' };

export type FromWriter =
  | { t: 'committed'; rows: number; inserted: number }
  | { t: 'retained'; deleted: number; requested: boolean }
  | { t: 'error'; message: string; rows: number }
  | { t: 'closed' };

const port = parentPort!;
const settings = workerData as WriterSettings;
nameThread('tl-store');
/**
 * Commits can wait; capture and dissection cannot (a packet they do not take in time is
 * lost). On a busy host the writer therefore yields the CPU to them: in a burst the
 * entries wait in the store's queue (bounded by maxPendingEntries and maxPendingBytes)
 * and are committed after it. Measured in the live benchmark on two cores (the whole
 * capture replayed in one burst): loss-free up to 339k pps at nice 0, where the writer's
 * 0.21 s of CPU in the step competed with the dissection thread, and up to 420k at 10.
 * The CPU each packet costs, and so the rate the tap can sustain, is the same.
 */
const WRITER_NICE = 10;
setThreadNice(WRITER_NICE);

const db = new Database(settings.path);
applyConnectionPragmas(db, settings.cacheMiB);
// The WAL file is cut back to this size after a checkpoint, so it cannot keep the
// largest size it ever reached.
db.pragma(`journal_size_limit = ${4 * 1024 * 1024}`);

const insert = db.prepare(INSERT_SQL);
const bumpCount = db.prepare('INSERT INTO proto_counts (proto, n) VALUES (?, ?) ON CONFLICT(proto) DO UPDATE SET n = n + excluded.n');
// A deleted row's log reference comes back with it; length() of a BLOB does not read it.
const RETURNING = `RETURNING proto, CASE WHEN typeof(entry) = 'blob' AND length(entry) = ${LOG_REF_BYTES} THEN entry END AS ref`;
const deleteOlderThan = db.prepare(
  `DELETE FROM entries WHERE rowid IN (SELECT rowid FROM entries WHERE ts < ? ORDER BY ts, rowid LIMIT ?) ${RETURNING}`,
);
const deleteOldest = db.prepare(`DELETE FROM entries WHERE rowid IN (SELECT rowid FROM entries ORDER BY ts, rowid LIMIT ?) ${RETURNING}`);
const countRows = db.prepare('SELECT count(*) FROM entries');
const dropEmptyCounts = db.prepare('DELETE FROM proto_counts WHERE n <= 0');
const bumpLog = db.prepare(
  'INSERT INTO entry_logs (file, rows, bytes) VALUES (?, ?, ?) ON CONFLICT(file) DO UPDATE SET rows = rows + excluded.rows, bytes = bytes + excluded.bytes',
);
const dropLog = db.prepare('DELETE FROM entry_logs WHERE file = ?');

/** Rows and bytes each log file holds, as entry_logs says (kept in step with it). */
const logLive = new Map<number, { rows: number; bytes: number }>();
let logLiveBytes = 0;
for (const r of db.prepare('SELECT file, rows, bytes FROM entry_logs').all() as { file: number; rows: number; bytes: number }[]) {
  logLive.set(r.file, { rows: r.rows, bytes: r.bytes });
  logLiveBytes += r.bytes;
}
const log = new EntryLogWriter(settings.logDir, settings.logFileBytes, new Map([...logLive].map(([f, t]) => [f, t.rows])));
/** Files whose last row went in a transaction that is not committed yet: deleted once it is. */
let emptied: number[] = [];

/** What a transaction changed in the log files' counts (file → rows, bytes). */
type LogTally = Map<number, { rows: number; bytes: number }>;

function tallyLog(t: LogTally, file: number, rows: number, bytes: number): void {
  const v = t.get(file);
  if (v) {
    v.rows += rows;
    v.bytes += bytes;
  } else t.set(file, { rows, bytes });
}

/** The tally of the transaction under way, applied to logLive once it commits (afterCommit). */
let pendingLog: LogTally | undefined;

/** Writes a tally to entry_logs, inside the caller's transaction; a file left with no row loses its row there. */
function applyLogTally(t: LogTally): void {
  for (const [file, d] of t) {
    const rows = (logLive.get(file)?.rows ?? 0) + d.rows;
    if (rows <= 0 && file !== log.current) {
      dropLog.run(file);
      emptied.push(file);
    } else bumpLog.run(file, d.rows, d.bytes);
  }
  pendingLog = t;
}

/** Deletes a log file no row points into any more, and forgets what it held. */
function forgetFile(file: number): void {
  logLiveBytes -= logLive.get(file)?.bytes ?? 0;
  logLive.delete(file);
  log.remove(file);
}

/** After a transaction: on commit, logLive takes its tally and the files it emptied are deleted; on rollback both are forgotten. */
function afterCommit(committed: boolean): void {
  const t = pendingLog;
  pendingLog = undefined;
  const files = emptied;
  emptied = [];
  if (!committed || t === undefined) return;
  for (const [file, d] of t) {
    const live = logLive.get(file) ?? { rows: 0, bytes: 0 };
    live.rows += d.rows;
    live.bytes += d.bytes;
    logLiveBytes += d.bytes;
    logLive.set(file, live);
  }
  for (const file of files) forgetFile(file);
}

/**
 * Deletes the log files closed since the last call that hold no row: all of a file's rows
 * may have expired while it was written, or its only batch failed to commit.
 */
function dropSealedEmpty(): void {
  for (const file of log.takeSealed()) {
    if ((logLive.get(file)?.rows ?? 0) > 0) continue;
    dropLog.run(file);
    forgetFile(file);
  }
}

/** Runs a transaction function and settles the log files' counts after it. */
function committing<A extends unknown[]>(tx: (...args: A) => number): (...args: A) => number {
  return (...args: A) => {
    let ok = false;
    try {
      const n = tx(...args);
      ok = true;
      return n;
    } finally {
      afterCommit(ok);
    }
  };
}

/**
 * Moves the big stored entries of a batch into the log (one write), replacing each by its
 * reference; written before the transaction that commits the rows (entry-log.ts).
 */
function toLog(rows: EntryRow[]): void {
  const bufs: Buffer[] = [];
  const json: boolean[] = [];
  const at: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    const e = rows[i]![11];
    if (e.length < settings.logFromBytes) continue;
    bufs.push(typeof e === 'string' ? Buffer.from(e, 'utf8') : e);
    json.push(typeof e === 'string');
    at.push(i);
  }
  if (bufs.length === 0) return;
  const refs = log.append(bufs, json);
  for (let k = 0; k < at.length; k++) rows[at[k]!]![11] = refs[k]!;
}

function tally(counts: Map<string, number>, proto: string | null, by: number): void {
  const k = proto ?? '';
  counts.set(k, (counts.get(k) ?? 0) + by);
}

const writeBatch = committing(db.transaction((rows: EntryRow[]): number => {
  const counts = new Map<string, number>();
  const logs: LogTally = new Map();
  let inserted = 0;
  for (const row of rows) {
    // OR IGNORE: an id already stored (a replayed capture) keeps its first entry.
    if (insert.run(row).changes === 1) {
      inserted++;
      tally(counts, row[3], 1);
      const ref = decodeLogRef(row[11]);
      if (ref) tallyLog(logs, ref.file, 1, ref.length);
    }
  }
  for (const [proto, n] of counts) bumpCount.run(proto, n);
  applyLogTally(logs);
  return inserted;
}));

const deleteChunk = committing(db.transaction((cutoff: number | undefined, limit: number = settings.deleteChunk): number => {
  const gone = (cutoff === undefined ? deleteOldest.all(limit) : deleteOlderThan.all(cutoff, limit)) as {
    proto: string | null;
    ref: Buffer | null;
  }[];
  const counts = new Map<string, number>();
  const logs: LogTally = new Map();
  for (const r of gone) {
    tally(counts, r.proto, -1);
    const ref = r.ref !== null ? decodeLogRef(r.ref) : undefined;
    if (ref) tallyLog(logs, ref.file, -1, -ref.length);
  }
  for (const [proto, n] of counts) bumpCount.run(proto, n);
  if (gone.length > 0) dropEmptyCounts.run();
  applyLogTally(logs);
  return gone.length;
}));

/**
 * Bytes of live pages (what the file shrinks to once free pages are vacuumed away) and of
 * the entries in log files (what their files shrink to as the files of expired rows go).
 */
function liveBytes(): number {
  const pages = db.pragma('page_count', { simple: true }) as number;
  const free = db.pragma('freelist_count', { simple: true }) as number;
  const size = db.pragma('page_size', { simple: true }) as number;
  return (pages - free) * size + logLiveBytes;
}

function walBytes(): number {
  try {
    return statSync(settings.path + '-wal').size;
  } catch {
    return 0;
  }
}

/** Lets queued batches commit between two retention chunks. */
const breathe = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

let retaining: Promise<number> | undefined;
let rounds = 0;

async function retainRound(): Promise<number> {
  let deleted = 0;
  if (settings.maxAgeSec !== undefined) {
    const cutoff = Date.now() - settings.maxAgeSec * 1000;
    for (let i = 0; i < settings.maxChunksPerRound; i++) {
      const n = deleteChunk(cutoff);
      deleted += n;
      if (n < settings.deleteChunk) break;
      await breathe();
    }
  }
  if (settings.maxBytes !== undefined) {
    // The WAL's share counts too, but it is bounded (autocheckpoint + journal_size_limit)
    // and never shrinks below what the last checkpoint left, so only its excess over the
    // limit above is charged.
    // The WAL's charge never takes more than half the budget: the newest entries are what
    // retention keeps, and a WAL awaiting its checkpoint must not make it delete them all.
    const budget = settings.maxBytes - Math.min(settings.maxBytes / 2, Math.max(0, walBytes() - 4 * 1024 * 1024));
    // Past the budget, delete down to a low-water mark (90 %) so retention does not run
    // again for every few new rows.
    let target = budget;
    for (let i = 0; i < settings.maxChunksPerRound; i++) {
      const live = liveBytes();
      if (live <= target) break;
      target = budget * 0.9;
      // Delete about as many of the oldest rows as the excess holds (by the mean row
      // size), never a whole fixed chunk: a small store over a small budget keeps its newest.
      const rows = countRows.pluck().get() as number;
      if (rows === 0) break;
      const excessRows = Math.ceil(((live - target) / live) * rows);
      const n = deleteChunk(undefined, Math.max(1, Math.min(settings.deleteChunk, excessRows)));
      deleted += n;
      if (n === 0) break;
      await breathe();
    }
    const free = db.pragma('freelist_count', { simple: true }) as number;
    if (free > 0) {
      db.pragma(`incremental_vacuum(${Math.min(free, settings.vacuumPages)})`);
      // In WAL mode the file only shrinks when a checkpoint copies the shorter database
      // back: do one now (PASSIVE: it never waits for a reader) instead of whenever the
      // WAL next reaches its autocheckpoint size.
      db.pragma('wal_checkpoint(PASSIVE)');
    }
  }
  // Keeps the planner's statistics fresh as the data grows (cheap when nothing changed).
  if (++rounds % 300 === 1) db.pragma('optimize');
  return deleted;
}

function retain(requested: boolean): void {
  if (retaining) {
    if (requested) void retaining.then(() => retain(true));
    return;
  }
  retaining = retainRound();
  retaining.then(
    (deleted) => {
      retaining = undefined;
      if (deleted > 0 || requested) port.postMessage({ t: 'retained', deleted, requested } satisfies FromWriter);
    },
    (err: unknown) => {
      retaining = undefined;
      port.postMessage({ t: 'error', message: `retention: ${String(err)}`, rows: 0 } satisfies FromWriter);
    },
  );
}

const hasRetention = settings.maxAgeSec !== undefined || settings.maxBytes !== undefined;
const timer = hasRetention ? setInterval(() => retain(false), settings.retentionIntervalMs) : undefined;

port.on('message', (m: ToWriter) => {
  switch (m.t) {
    case 'batch': {
      const n = m.rows.length + m.packed.reduce((sum, p) => sum + p.count, 0);
      try {
        const rows = m.rows;
        for (const p of m.packed) for (const row of decodeRows(p)) rows.push(row);
        let inserted: number;
        try {
          toLog(rows);
          inserted = writeBatch(rows);
        } finally {
          dropSealedEmpty();
        }
        port.postMessage({ t: 'committed', rows: n, inserted } satisfies FromWriter);
      } catch (err) {
        port.postMessage({ t: 'error', message: String(err), rows: n } satisfies FromWriter);
      }
      break;
    }
    case 'retain':
      retain(true);
      break;
    case 'close':
      if (timer) clearInterval(timer);
      void (retaining ?? Promise.resolve()).finally(() => {
        db.pragma('optimize');
        db.close();
        log.close();
        port.postMessage({ t: 'closed' } satisfies FromWriter);
        port.close();
      });
      break;
  }
});

/**
 * The table, its indexes and how an entry becomes a row. The indexed columns are exactly
 * what the KFL push-down plan (src/kfl/plan.ts) can ask about, derived with the matcher's
 * own notion of the value (a numeric string port or status counts as its number), so the
 * SQL never rejects an entry that `planAdmits` lets through.
 */
import type Database from 'better-sqlite3';
import type { Entry } from '../entries/index.js';

/** Bumped when the table changes shape; a store of another version is refused at open. */
export const SCHEMA_VERSION = 1;

/*
 * Why these indexes (measured, see README.md "Indexes"): every one ends in `ts` so that
 * `x = ? ORDER BY ts, rowid` walks the index in page order without a sort, and a cursor
 * seeks into it. Each side of an endpoint has its own index because the plan's
 * `src OR dst` is answered by SQLite's OR-union of two index lookups.
 */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS entries (
  ts        INTEGER NOT NULL,
  id        TEXT    NOT NULL UNIQUE,
  stream    TEXT,
  proto     TEXT,
  src_ip    TEXT,
  dst_ip    TEXT,
  src_port  INTEGER,
  dst_port  INTEGER,
  src_ns    TEXT,
  dst_ns    TEXT,
  status    INTEGER,
  json      TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_ts       ON entries(ts);
CREATE INDEX IF NOT EXISTS entries_proto    ON entries(proto, ts);
CREATE INDEX IF NOT EXISTS entries_status   ON entries(status, ts);
CREATE INDEX IF NOT EXISTS entries_src_ip   ON entries(src_ip, ts);
CREATE INDEX IF NOT EXISTS entries_dst_ip   ON entries(dst_ip, ts);
CREATE INDEX IF NOT EXISTS entries_src_port ON entries(src_port, ts);
CREATE INDEX IF NOT EXISTS entries_dst_port ON entries(dst_port, ts);
CREATE INDEX IF NOT EXISTS entries_src_ns   ON entries(src_ns, ts);
CREATE INDEX IF NOT EXISTS entries_dst_ns   ON entries(dst_ns, ts);
CREATE INDEX IF NOT EXISTS entries_stream   ON entries(stream);
-- Entries per protocol, kept in the same transactions as the inserts and deletes, so
-- stats() never counts a million rows.
CREATE TABLE IF NOT EXISTS proto_counts (
  proto TEXT PRIMARY KEY,
  n     INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** One row as it crosses to the writer thread: the columns in INSERT order. */
export type EntryRow = [
  ts: number,
  id: string,
  stream: string | null,
  proto: string | null,
  srcIp: string | null,
  dstIp: string | null,
  srcPort: number | null,
  dstPort: number | null,
  srcNs: string | null,
  dstNs: string | null,
  status: number | null,
  json: string,
];

export const INSERT_SQL =
  'INSERT OR IGNORE INTO entries (ts, id, stream, proto, src_ip, dst_ip, src_port, dst_port, src_ns, dst_ns, status, json) ' +
  'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';

/** The same test as KFL's numericValue (src/kfl/helpers.ts): the matcher's idea of a numeric string. */
const NUMERIC = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** A number as the matcher sees one: numbers, and strings that are written numbers. */
function numberOf(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && NUMERIC.test(v)) return Number(v);
  return null;
}

function stringOf(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function field(o: unknown, k: string): unknown {
  return o !== null && typeof o === 'object' && !Array.isArray(o) ? (o as Record<string, unknown>)[k] : undefined;
}

/**
 * The row of an entry. `json` is the entry exactly as given (serialized once here); the
 * other columns only serve the indexes. A timestamp that is not a number is stored as 0:
 * the match function, which always runs after the SQL, decides about such an entry.
 */
export function rowOf(entry: Entry): EntryRow {
  const src = entry.src as unknown;
  const dst = entry.dst as unknown;
  return [
    numberOf(entry.timestamp) ?? 0,
    String(entry.id),
    stringOf(entry.stream),
    stringOf(field(entry.protocol, 'name')),
    stringOf(field(src, 'ip')),
    stringOf(field(dst, 'ip')),
    numberOf(field(src, 'port')),
    numberOf(field(dst, 'port')),
    stringOf(field(src, 'namespace')),
    stringOf(field(dst, 'namespace')),
    numberOf(field(entry.response, 'status')),
    JSON.stringify(entry),
  ];
}

/**
 * Rows packed into one transferable buffer, so that a dissection thread can make them
 * (serializing the entries off the capture thread) and they reach the writer thread
 * without being copied on the way. Per row: u32 length + UTF-8 of the indexed columns as
 * a JSON array, then u32 length + UTF-8 of the entry's JSON.
 */
export interface EncodedRows {
  buf: ArrayBuffer;
  /** Bytes used at the start of buf. */
  length: number;
  /** Rows in it. */
  count: number;
}

export function encodeRows(entries: readonly Entry[]): EncodedRows {
  const parts: string[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const row = rowOf(entry);
    const json = row.pop() as string;
    const head = JSON.stringify(row);
    parts.push(head, json);
    bytes += 8 + Buffer.byteLength(head) + Buffer.byteLength(json);
  }
  const b = Buffer.allocUnsafeSlow(Math.max(1, bytes));
  let o = 0;
  for (const part of parts) {
    const n = b.write(part, o + 4, 'utf8');
    b.writeUInt32LE(n, o);
    o += 4 + n;
  }
  return { buf: b.buffer as ArrayBuffer, length: o, count: entries.length };
}

/**
 * The rows of an EncodedRows, in order, with the entry's JSON left as UTF-8 bytes (views
 * of enc.buf): the writer binds them as they are, so the text is neither decoded here nor
 * encoded again by SQLite (such a value is stored as a BLOB; `entryOfJson` reads both).
 */
export function decodeRows(enc: EncodedRows): StoredRow[] {
  const b = Buffer.from(enc.buf, 0, enc.length);
  const rows: StoredRow[] = [];
  let o = 0;
  while (o < b.length) {
    const hn = b.readUInt32LE(o);
    const head = b.toString('utf8', o + 4, o + 4 + hn);
    o += 4 + hn;
    const jn = b.readUInt32LE(o);
    const row = JSON.parse(head) as (string | number | null | Buffer)[];
    row.push(b.subarray(o + 4, o + 4 + jn));
    o += 4 + jn;
    rows.push(row as StoredRow);
  }
  return rows;
}

/** A row as the writer inserts it: the JSON as text (add) or as UTF-8 bytes (addEncoded). */
export type StoredRow = [...head: DropLast<EntryRow>, json: string | Buffer];
type DropLast<T extends unknown[]> = T extends [...infer H, unknown] ? H : never;

/** The entry of a stored `json` value, whichever way it was stored. */
export function entryOfJson(json: string | Buffer): Entry {
  return JSON.parse(typeof json === 'string' ? json : json.toString('utf8')) as Entry;
}

/** The entries of an EncodedRows, in order (for whoever watches them go by). */
export function decodeEntries(enc: EncodedRows): Entry[] {
  return decodeRows(enc).map((row) => entryOfJson(row[11]));
}

/**
 * Pragmas of every connection. WAL lets the reader on the main thread and the writer
 * thread work at once; synchronous=NORMAL commits without fsync (the WAL is synced at
 * checkpoints), which survives any crash of the process and, on power loss, can only
 * roll back the last commits, never corrupt (README.md "Crash safety").
 */
export function applyConnectionPragmas(db: Database.Database, cacheMiB: number): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`cache_size = ${-Math.round(cacheMiB * 1024)}`);
  db.pragma('temp_store = MEMORY');
  // A reader waiting on the writer's checkpoint retries instead of failing at once.
  db.pragma('busy_timeout = 5000');
}

/** Page size of a new file; see README.md "Size on disk" (rows of ~1.4 KB pack badly into 4 KiB pages). */
export const PAGE_SIZE = 8192;

/**
 * Settings only a new, empty file takes: the page size and auto_vacuum must be set before
 * the first table exists and before the switch to WAL.
 */
export function prepareNewFile(db: Database.Database): void {
  const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entries'").get() !== undefined;
  if (hasTable) return;
  db.pragma(`page_size = ${PAGE_SIZE}`);
  // INCREMENTAL: deleted pages can be handed back to the file system in small steps
  // (PRAGMA incremental_vacuum), so size retention makes the file shrink.
  db.pragma('auto_vacuum = INCREMENTAL');
}

/** Creates the tables on a new file (after prepareNewFile and the connection pragmas). */
export function createSchema(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entries'").get() !== undefined;
  if (hasTable && version !== SCHEMA_VERSION) {
    throw new Error(`entry store schema version ${version}, this Tapline reads version ${SCHEMA_VERSION}`);
  }
  db.exec(SCHEMA_SQL);
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
}

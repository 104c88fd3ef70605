/**
 * The table, its indexes and how an entry becomes a row. The indexed columns are exactly
 * what the KFL push-down plan (src/kfl/plan.ts) can ask about, derived with the matcher's
 * own notion of the value (a numeric string port or status counts as its number), so the
 * SQL never rejects an entry that `planAdmits` lets through.
 */
import type Database from 'better-sqlite3';
import { deserialize } from 'node:v8';
import { hasDeferred, resolveDeferred, type Entry } from '../entries/index.js';
import { BODY_SIDES } from '../entries/body-sides.js';
import { pendingText, stringifyUnsettled } from '../protocols/http/lazy-text.js';
import { hasRecordBytes, readSplit, splitBytes, splitParts, SPLIT_TAG, writeSplit, type SplitParts } from './split-form.js';

/**
 * Bumped when the table changes shape; a store of a newer version is refused at open, an
 * older one is brought up to date (createSchema).
 * 1: the entry as JSON text in `json`. 2: the column is `entry`, a BLOB holding the entry
 * as UTF-8 JSON or V8-serialized (`storedForm`); rows of version 1 keep their JSON text
 * and are read as such. 3: an `entry` may instead hold a reference into a log file
 * (entry-log.ts), whose live rows and bytes `entry_logs` counts; a store of version 2
 * only gains that table. 4: an entry with a body is written in the split form
 * (split-form.ts) instead of V8's; V8 rows of older versions are still read, so a store
 * of version 2 or 3 only has its number raised, while an older Tapline refuses this one.
 * 5: body texts still bytes are written as they are (split-form slots 7 and 8). 6: a DNS
 * entry's records may be written as their messages (split-form slots 9 and 10, which an
 * older Tapline would take for damage); a store of version 2 to 5 only has its number raised.
 * 7: an HTTP entry's records may be written with their heads' text in place of the fields
 * made from them (split-form slots 12 and 13); a store of version 2 to 6 only has its
 * number raised.
 */
export const SCHEMA_VERSION = 7;

/*
 * Why these indexes (measured, see README.md "Indexes"): every one ends in `ts` so that
 * `x = ? ORDER BY ts, rowid` walks the index in page order without a sort, and a cursor
 * seeks into it. Each side of an endpoint has its own index because the plan's
 * `src OR dst` is answered by SQLite's OR-union of two index lookups. Status and the
 * namespaces are often absent (DNS has no status, a host outside Kubernetes no
 * namespace), and the plan only ever asks for values, which imply NOT NULL: their
 * indexes leave the NULL rows out (an insert 7.9 → 7.0 µs on the benchmark capture's
 * rows). A store made before keeps its full indexes, which answer the same queries.
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
  entry     BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_ts       ON entries(ts);
CREATE INDEX IF NOT EXISTS entries_proto    ON entries(proto, ts);
CREATE INDEX IF NOT EXISTS entries_status   ON entries(status, ts) WHERE status IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_src_ip   ON entries(src_ip, ts);
CREATE INDEX IF NOT EXISTS entries_dst_ip   ON entries(dst_ip, ts);
CREATE INDEX IF NOT EXISTS entries_src_port ON entries(src_port, ts);
CREATE INDEX IF NOT EXISTS entries_dst_port ON entries(dst_port, ts);
CREATE INDEX IF NOT EXISTS entries_src_ns   ON entries(src_ns, ts) WHERE src_ns IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_dst_ns   ON entries(dst_ns, ts) WHERE dst_ns IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_stream   ON entries(stream);
-- Entries per protocol, kept in the same transactions as the inserts and deletes, so
-- stats() never counts a million rows.
CREATE TABLE IF NOT EXISTS proto_counts (
  proto TEXT PRIMARY KEY,
  n     INTEGER NOT NULL
) WITHOUT ROWID;
-- Rows and bytes each entry log file still holds (entry-log.ts), kept in the same
-- transactions as the inserts and deletes: a file whose rows are all gone is deleted.
CREATE TABLE IF NOT EXISTS entry_logs (
  file  INTEGER PRIMARY KEY,
  rows  INTEGER NOT NULL,
  bytes INTEGER NOT NULL
);
`;

/** One row as it crosses to the writer thread: the columns in INSERT order. */
export type EntryRow = [...EntryColumns, entry: string | Buffer];

/** The indexed columns of a row, in INSERT order. */
type EntryColumns = [
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
];

export const INSERT_SQL =
  'INSERT OR IGNORE INTO entries (ts, id, stream, proto, src_ip, dst_ip, src_port, dst_port, src_ns, dst_ns, status, entry) ' +
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

/** Body text from which an entry is stored in the split form rather than as JSON (see storedForm). */
export const SPLIT_FROM_BODY_CHARS = 1024;

/** Characters of a body's text, without making it when it is still bytes (lazyText). */
function textLength(side: unknown, key: string): number {
  const body = field(side, key);
  const pending = pendingText(body);
  if (pending !== undefined) return pending.base64 ? Math.ceil(pending.bytes.length / 3) * 4 : pending.bytes.length;
  const t = field(body, 'text');
  return typeof t === 'string' ? t.length : 0;
}

/** Whether an entry is stored in the split form (its bodies as they are) rather than as JSON text. */
function splits(entry: Entry): boolean {
  let body = 0;
  for (const [side, key] of BODY_SIDES) body += textLength(entry[side], key);
  return body >= SPLIT_FROM_BODY_CHARS || hasDeferred(entry) || hasRecordBytes(entry);
}

/**
 * The entry as stored, serialized once: JSON text for most (SQLite hands it back as a
 * string, the cheapest thing to parse); the split form (split-form.ts, a BLOB) for an
 * entry with at least SPLIT_FROM_BODY_CHARS of body text, where JSON's escaping dominates,
 * or with a body still compressed (deferGzipBodies), whose bytes JSON cannot keep.
 * Measured (README.md "Schema and indexes"): with no body JSON writes in 5.5 µs and reads
 * in 4.4 µs against V8's 7.0 and 8.3; with 1 KiB of body text V8 was ahead (4.0 / 7.0 µs
 * against 11.9 / 8.0). The split form, which replaced V8's, costs the same as a buffer of
 * its own and less in encodeRows, which writes it straight into the packed rows. Every
 * form reads back as the same plain data: an entry holds nothing JSON would change.
 */
export function storedForm(entry: Entry): string | Buffer {
  return (splits(entry) ? splitBytes(entry) : undefined) ?? stringifyUnsettled(entry);
}

/**
 * The row of an entry. `entry` is the entry exactly as given (storedForm); the other
 * columns only serve the indexes. A timestamp that is not a number is stored as 0:
 * the match function, which always runs after the SQL, decides about such an entry.
 */
export function rowOf(entry: Entry): EntryRow {
  return [...indexedColumns(entry), storedForm(entry)];
}

/** The columns of a row before `entry`, which only serve the indexes. */
function indexedColumns(entry: Entry): EntryColumns {
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
  ];
}

/**
 * Rows packed into one transferable buffer, so that a dissection thread can make them
 * (serializing the entries off the capture thread) and they reach the writer thread
 * without being copied on the way. Per row: u32 length + the indexed columns, each a
 * kind byte (COLUMN_*) and its value (a string as u32 length + UTF-8, a number as f64),
 * then u32 length + the stored entry (the split form, or the JSON as UTF-8).
 */
export interface EncodedRows {
  buf: ArrayBuffer;
  /** Bytes used at the start of buf. */
  length: number;
  /** Rows in it. */
  count: number;
}

const COLUMN_NULL = 0;
const COLUMN_STRING = 1;
const COLUMN_NUMBER = 2;

/** UTF-8 bytes of a string of `chars` UTF-16 code units, at most (a unit becomes at most 3 bytes). */
const utf8Bound = (chars: number): number => 3 * chars;

/**
 * The buffer is sized from bounds (utf8Bound) and each string written once, straight into
 * it: measuring every string's UTF-8 length first was a second pass over all the text.
 */
export function encodeRows(entries: readonly Entry[]): EncodedRows {
  const heads: EntryColumns[] = new Array(entries.length);
  const stored: (string | SplitParts)[] = new Array(entries.length);
  let bound = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const head = indexedColumns(entry);
    const parts = splits(entry) ? splitParts(entry) : undefined;
    const form = parts ?? stringifyUnsettled(entry);
    heads[i] = head;
    stored[i] = form;
    bound += 8 + (typeof form === 'string' ? utf8Bound(form.length) : form.maxBytes);
    for (const v of head) bound += typeof v === 'string' ? 5 + utf8Bound(v.length) : 9;
  }
  // Each entry goes into this buffer once, the bodies of the split form included.
  const b = Buffer.allocUnsafeSlow(Math.max(1, bound));
  let o = 0;
  for (let i = 0; i < entries.length; i++) {
    let at = o + 4;
    for (const v of heads[i]!) {
      if (typeof v === 'string') {
        b[at] = COLUMN_STRING;
        const n = b.write(v, at + 5, 'utf8');
        b.writeUInt32LE(n, at + 1);
        at += 5 + n;
      } else if (v === null) {
        b[at++] = COLUMN_NULL;
      } else {
        b[at] = COLUMN_NUMBER;
        b.writeDoubleLE(v, at + 1);
        at += 9;
      }
    }
    b.writeUInt32LE(at - o - 4, o);
    o = at;
    const form = stored[i]!;
    const n = typeof form === 'string' ? b.write(form, o + 4, 'utf8') : writeSplit(form, b, o + 4);
    b.writeUInt32LE(n, o);
    o += 4 + n;
  }
  // Bounds can be three times the text: a pack that is mostly text (no bodies) is copied to
  // its size, so that rows waiting for the writer do not hold twice their bytes unused.
  // With bodies, which are sized exactly, it stays as it is and nothing is copied.
  const buf = o < b.length / 2 ? b.buffer.slice(0, o) : b.buffer;
  return { buf: buf as ArrayBuffer, length: o, count: entries.length };
}

/** The rows of an EncodedRows, in order; split forms are views of enc.buf, JSON ones text again. */
export function decodeRows(enc: EncodedRows): EntryRow[] {
  const b = Buffer.from(enc.buf, 0, enc.length);
  const rows: EntryRow[] = [];
  let o = 0;
  while (o < b.length) {
    const headEnd = o + 4 + b.readUInt32LE(o);
    const row: (string | number | null | Buffer)[] = [];
    for (let at = o + 4; at < headEnd; ) {
      const kind = b[at]!;
      if (kind === COLUMN_STRING) {
        const n = b.readUInt32LE(at + 1);
        row.push(b.toString('utf8', at + 5, at + 5 + n));
        at += 5 + n;
      } else if (kind === COLUMN_NUMBER) {
        row.push(b.readDoubleLE(at + 1));
        at += 9;
      } else {
        row.push(null);
        at++;
      }
    }
    o = headEnd;
    const en = b.readUInt32LE(o);
    row.push(b[o + 4] === SPLIT_TAG ? b.subarray(o + 4, o + 4 + en) : b.toString('utf8', o + 4, o + 4 + en));
    o += 4 + en;
    rows.push(row as EntryRow);
  }
  return rows;
}

/**
 * A test of a stored `entry` value (JSON text, the split form, or V8-serialized bytes of
 * stores before version 4) for the texts of a KFL plan (PushDownPlan.texts: printable
 * ASCII, none that JSON escapes): false only when some text is surely absent, so the row
 * can be skipped without being parsed. JSON, the split form's UTF-8 JSON skeleton, and
 * the texts it keeps of DNS records written as messages, hold such a text as it is; V8
 * holds a string as one-byte text when all of its characters fit in Latin-1, else as
 * UTF-16LE, so both spellings are looked for.
 */
export function storedFormHas(texts: readonly string[]): (stored: string | Buffer) => boolean {
  const oneByte = texts.map((t) => Buffer.from(t, 'latin1'));
  const twoByte = texts.map((t) => Buffer.from(t, 'utf16le'));
  return (stored) => {
    if (typeof stored === 'string') {
      for (const t of texts) if (!stored.includes(t)) return false;
      return true;
    }
    for (let i = 0; i < texts.length; i++) if (stored.indexOf(oneByte[i]!) === -1 && stored.indexOf(twoByte[i]!) === -1) return false;
    return true;
  };
}

/**
 * The entry of a stored `entry` value, its deferred bodies decoded: JSON text, the split
 * form (storedForm), or V8-serialized bytes (what stores before version 4 hold). A
 * deferred body's bytes are views of `stored`.
 */
export function entryOf(stored: string | Buffer): Entry {
  if (typeof stored === 'string') return JSON.parse(stored) as Entry;
  return resolveDeferred(stored[0] === SPLIT_TAG ? readSplit(stored) : (deserialize(stored) as Entry));
}

/**
 * The entries of an EncodedRows, in order (for whoever watches them go by). A deferred
 * body's bytes are views of what entryOf reads, so each split form is copied first: the
 * rows themselves go on to the writer thread, which takes their memory away from this one
 * (and can do so before the watchers have read them).
 */
export function decodeEntries(enc: EncodedRows): Entry[] {
  return decodeRows(enc).map((row) => entryOf(typeof row[11] === 'string' ? row[11] : Buffer.from(row[11])));
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

/**
 * Creates the tables on a new file (after prepareNewFile and the connection pragmas), or
 * brings an older store up to this version: from 1, the entry column is renamed (its JSON
 * text rows stay as they are: `entryOf` reads both kinds); from 2, entry_logs is created;
 * from 3 and 4, only the number changes (`entryOf` reads V8 rows and split ones alike; 5
 * adds the split form's slots 7 and 8, binary bodies kept raw).
 */
export function createSchema(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entries'").get() !== undefined;
  if (hasTable && version > SCHEMA_VERSION) {
    throw new Error(`entry store schema version ${version}, this Tapline reads versions up to ${SCHEMA_VERSION}`);
  }
  if (hasTable && version === 1) {
    db.transaction(() => {
      db.exec('ALTER TABLE entries RENAME COLUMN json TO entry');
      db.pragma('user_version = 2');
    })();
  } else if (hasTable && !(version >= 2 && version <= SCHEMA_VERSION)) {
    throw new Error(`entry store schema version ${version} is not one this Tapline knows`);
  }
  db.exec(SCHEMA_SQL);
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
}

/**
 * Entry log files: the stored form of large entries lives in flat append-only files
 * beside the database (`log/00000001.log` …) and the row's `entry` column holds a
 * 16-byte reference to it. SQLite writes every byte of a row twice (WAL, then the
 * checkpoint into the file) and packs big rows into overflow pages; a log file takes each
 * byte once (README.md "Entry log files" has the figures), through an AppendFile: with
 * O_DIRECT where the addon is built, not through the page cache (common/append-file.ts).
 *
 * Reference layout (little-endian):
 *
 *     fe           tag (a V8-serialized entry begins with ff, a JSON one is TEXT)
 *     00|01        form: 0 bytes (the split form, or V8-serialized before schema 4), 1 JSON as UTF-8
 *     xx xx xx xx  log file number
 *     xx × 6       byte offset in it
 *     xx xx xx xx  length
 *
 * Crash safety: a batch's bytes are written before the transaction that commits its
 * rows, so a committed row never points past what was written; bytes of a batch whose
 * commit never happened are dead weight that goes with their file.
 */
import { closeSync, openSync, readdirSync, readSync, unlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openAppendFile, type AppendFile } from '../common/append-file.js';
import { makeDirs } from '../common/make-dirs.js';

export const LOG_REF_TAG = 0xfe;
export const LOG_REF_BYTES = 16;
/** Stored entries from this size on go to a log file (rows this big no longer fit an 8 KiB page by half). */
export const DEFAULT_LOG_FROM_BYTES = 4096;
/** A log file is closed and the next one begun once it holds this much. */
export const DEFAULT_LOG_FILE_BYTES = 64 << 20;
/** The AppendFile's buffer: a batch's bytes beyond it are written as it fills. */
const LOG_BUFFER_BYTES = 1 << 20;

const FILE_RE = /^(\d{8})\.log$/;

export interface LogRef {
  file: number;
  offset: number;
  length: number;
  json: boolean;
}

export function logFileName(file: number): string {
  return `${String(file).padStart(8, '0')}.log`;
}

export function encodeLogRef(r: LogRef): Buffer {
  const b = Buffer.allocUnsafe(LOG_REF_BYTES);
  b[0] = LOG_REF_TAG;
  b[1] = r.json ? 1 : 0;
  b.writeUInt32LE(r.file, 2);
  b.writeUIntLE(r.offset, 6, 6);
  b.writeUInt32LE(r.length, 12);
  return b;
}

/** The reference a stored value holds, or undefined when it is an entry itself. */
export function decodeLogRef(stored: string | Buffer): LogRef | undefined {
  if (typeof stored === 'string' || stored.length !== LOG_REF_BYTES || stored[0] !== LOG_REF_TAG) return undefined;
  return { json: stored[1] === 1, file: stored.readUInt32LE(2), offset: stored.readUIntLE(6, 6), length: stored.readUInt32LE(12) };
}

/** The log files in `dir` by number (none when the folder does not exist). */
export function listLogFiles(dir: string): Map<number, string> {
  const out = new Map<number, string>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const m = FILE_RE.exec(name);
    if (m) out.set(Number(m[1]), join(dir, name));
  }
  return out;
}

/** Bytes the log files take on disk. */
export function logFilesBytes(dir: string): number {
  let n = 0;
  for (const path of listLogFiles(dir).values()) {
    try {
      n += statSync(path).size;
    } catch {
      // deleted by retention meanwhile
    }
  }
  return n;
}

/**
 * The writer's side: owned by the store's writer thread, the only one that appends.
 * `live` is what the database says each file still holds (entry_logs); a file not in it
 * (a batch written, its commit lost to a crash) is deleted at open, and a new file is
 * begun at every open, so a torn tail is never appended to.
 */
export class EntryLogWriter {
  private file: AppendFile | null = null;
  private offset = 0;
  private sealed: number[] = [];
  current: number;

  constructor(
    private readonly dir: string,
    private readonly fileBytes: number,
    live: ReadonlyMap<number, number>,
  ) {
    makeDirs(dir);
    let last = 0;
    for (const [file, path] of listLogFiles(dir)) {
      last = Math.max(last, file);
      if (!((live.get(file) ?? 0) > 0)) unlinkSync(path);
    }
    for (const file of live.keys()) last = Math.max(last, file);
    this.current = last + 1;
  }

  /**
   * Writes the buffers one after the other; their references, in order. A file is closed,
   * and the next begun, as soon as it holds fileBytes, within a batch too, so no file
   * outgrows that by more than one entry. Throws what the write throws (ENOSPC…).
   */
  append(bufs: readonly Buffer[], json: readonly boolean[]): Buffer[] {
    const refs: Buffer[] = [];
    let i = 0;
    while (i < bufs.length) {
      if (this.file !== null && this.offset >= this.fileBytes) this.roll();
      if (this.file === null) {
        this.file = openAppendFile(join(this.dir, logFileName(this.current)), { bufferBytes: LOG_BUFFER_BYTES, native: true });
        this.offset = 0;
      }
      // The run of buffers that fits in this file (at least one).
      let end = i;
      let bytes = 0;
      do bytes += bufs[end++]!.length;
      while (end < bufs.length && this.offset + bytes + bufs[end]!.length <= this.fileBytes);
      try {
        for (let k = i; k < end; k++) this.file.append(bufs[k]!, 0, bufs[k]!.length);
        // In the file before the transaction that commits the rows pointing to them.
        this.file.flush();
      } catch (e) {
        // A failed write (disk full, I/O error) closes the file: what it got of this batch
        // is dead weight no row will point to, and the next batch begins a new file,
        // which works again as soon as the disk does.
        this.roll();
        throw e;
      }
      for (let k = i; k < end; k++) {
        refs.push(encodeLogRef({ file: this.current, offset: this.offset, length: bufs[k]!.length, json: json[k]! }));
        this.offset += bufs[k]!.length;
      }
      i = end;
    }
    return refs;
  }

  /** Files closed since the last call (their rows may all be gone already: the caller checks). */
  takeSealed(): number[] {
    const s = this.sealed;
    this.sealed = [];
    return s;
  }

  /** Closes the file being written; the next append begins a new one. Returns the closed file's number. */
  roll(): number {
    const done = this.current;
    this.sealed.push(done);
    this.closeFile();
    this.current++;
    return done;
  }

  /** Removes a file no row points into any more (never the one being written). */
  remove(file: number): void {
    if (file === this.current) return;
    try {
      unlinkSync(join(this.dir, logFileName(file)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  close(): void {
    this.closeFile();
  }

  /**
   * Closes the file being written. Every append ended with a flush, so closing writes
   * nothing of use: after a failed write it can only fail the same way, over bytes no
   * row points to.
   */
  private closeFile(): void {
    const f = this.file;
    this.file = null;
    try {
      f?.close();
    } catch {
      /* dead weight, see above */
    }
  }
}

/**
 * What a stored `entry` value holds: the value itself, or the bytes its reference points
 * to (JSON as text again); undefined when they cannot be read (EntryLogReader.read).
 */
export function resolveStored(value: string | Buffer, reader: EntryLogReader): string | Buffer | undefined {
  const ref = decodeLogRef(value);
  if (!ref) return value;
  const bytes = reader.read(ref);
  if (bytes === undefined) return undefined;
  return ref.json ? bytes.toString('utf8') : bytes;
}

/** Read side: what a reference points to, through a few open descriptors. */
export class EntryLogReader {
  private readonly fds = new Map<number, number>();

  constructor(
    private readonly dir: string,
    private readonly maxOpen = 16,
  ) {}

  /** The stored bytes, or undefined when the file is gone (retention deleted it) or too short (lost in a crash of the machine). */
  read(ref: LogRef): Buffer | undefined {
    let fd = this.fds.get(ref.file);
    if (fd === undefined) {
      try {
        fd = openSync(join(this.dir, logFileName(ref.file)), 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
      if (this.fds.size >= this.maxOpen) {
        const [oldFile, oldFd] = this.fds.entries().next().value as [number, number];
        closeSync(oldFd);
        this.fds.delete(oldFile);
      }
      this.fds.set(ref.file, fd);
    }
    const b = Buffer.allocUnsafe(ref.length);
    let got = 0;
    while (got < ref.length) {
      const n = readSync(fd, b, got, ref.length - got, ref.offset + got);
      if (n === 0) return undefined;
      got += n;
    }
    return b;
  }

  /**
   * Closes the descriptors it holds; the next read opens what it needs again. Called after
   * every query: a descriptor kept on a file that retention has deleted would keep its
   * disk space in use.
   */
  release(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }

  close(): void {
    this.release();
  }
}

import { writeSync } from 'node:fs';
import { JSON_TEXT_GROWTH, type JsonParts, type WriteJsonText } from './json-line.js';

/**
 * Writes lines of text to a file descriptor in large blocks, straight from the thread that
 * made them: dissection threads write their own output, so no text crosses threads.
 * Threads sharing one descriptor take a lock (a SharedArrayBuffer word) around each block,
 * so lines never interleave, and share a line counter, so `limit(n)` holds across threads.
 * Writes block: a full pipe slows dissection down instead of filling memory.
 */
export interface SharedOutput {
  /** [0] the lock (0 free, 1 held), [1] lines written by every thread together, [2] 1 once the reader went away (EPIPE). */
  words: Int32Array;
  /** Lines to write at most, across threads (-1: no limit). */
  limit: number;
}

export function createSharedOutput(limit: number | undefined): SharedOutput {
  return { words: new Int32Array(new SharedArrayBuffer(12)), limit: limit ?? -1 };
}

const LOCK = 0;
const COUNT = 1;
const CLOSED = 2;

/** Whether limit(n) is reached: producers can stop rendering. */
export function outputFull(shared: SharedOutput): boolean {
  return shared.limit >= 0 && Atomics.load(shared.words, COUNT) >= shared.limit;
}

/** The reader of the output went away (`tapline read … | head`): stop quietly. */
export function outputClosed(shared: SharedOutput): boolean {
  return Atomics.load(shared.words, CLOSED) === 1;
}
const NEWLINE = 0x0a;

/** Lines of text gathered in a buffer; what is done with a full buffer is the subclass's. */
abstract class LineBuffer {
  protected buf: Buffer;
  protected pos = 0;
  protected lines = 0;

  constructor(protected readonly blockSize: number) {
    this.buf = Buffer.allocUnsafeSlow(blockSize);
  }

  line(text: string): void {
    this.reserve(text.length * 3 + 1);
    this.pos += this.buf.write(text, this.pos, 'utf8');
    this.buf[this.pos++] = NEWLINE;
    this.lines++;
  }

  /** One line made of strings and of body bytes that `writeText` writes as JSON text (entryJsonParts). */
  lineParts(parts: JsonParts, writeText: WriteJsonText): void {
    let room = 1;
    for (const p of parts) room += typeof p === 'string' ? p.length * 3 : p.bytes.length * JSON_TEXT_GROWTH;
    this.reserve(room);
    for (const p of parts) {
      this.pos = typeof p === 'string' ? this.pos + this.buf.write(p, this.pos, 'utf8') : writeText(p.bytes, this.buf, this.pos, p.base64);
    }
    this.buf[this.pos++] = NEWLINE;
    this.lines++;
  }

  /** Makes room for `bytes` more: one UTF-8 byte per char at best, three at worst, so callers ask for the worst case. */
  private reserve(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    this.spill();
    // A line larger than a block gets a buffer of its own, given back at the next flush.
    if (bytes > this.buf.length) this.buf = Buffer.allocUnsafeSlow(bytes);
  }

  /** The buffer has no room for the next line: empty it. */
  protected abstract spill(): void;
}

/**
 * Lines kept in blocks instead of written: a dissection thread's lines, sent to the thread
 * that puts every thread's lines in order (OrderedOutput).
 */
export class LineBlocks extends LineBuffer {
  private readonly done: LineBlock[] = [];

  constructor(blockSize = 1 << 20) {
    super(blockSize);
  }

  /** Every line so far, in blocks (empty when there are none); the buffers are the caller's to keep or transfer. */
  take(): LineBlock[] {
    this.spill();
    return this.done.splice(0);
  }

  protected spill(): void {
    if (this.pos === 0) return;
    let bytes: Uint8Array;
    if (this.pos * 2 >= this.buf.length) {
      // At least half full: handed over as it is, and a new one made.
      bytes = new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.pos);
      this.buf = Buffer.allocUnsafeSlow(this.blockSize);
    } else {
      bytes = new Uint8Array(this.buf.buffer.slice(this.buf.byteOffset, this.buf.byteOffset + this.pos));
      if (this.buf.length > this.blockSize) this.buf = Buffer.allocUnsafeSlow(this.blockSize);
    }
    this.done.push({ bytes, lines: this.lines });
    this.pos = 0;
    this.lines = 0;
  }
}

/** Lines of text as they are written: `bytes` ends with a newline, `lines` of them. */
export interface LineBlock {
  bytes: Uint8Array;
  lines: number;
}

export class FdLineWriter extends LineBuffer {
  constructor(
    private readonly fd: number,
    private readonly shared: SharedOutput,
    blockSize = 1 << 20,
  ) {
    super(blockSize);
  }

  /** Lines written so far by all threads sharing the output. */
  get written(): number {
    const n = Atomics.load(this.shared.words, COUNT);
    return this.shared.limit >= 0 ? Math.min(n, this.shared.limit) : n;
  }

  /** Whether limit(n) is already reached: producers can stop rendering. */
  get full(): boolean {
    return outputFull(this.shared);
  }

  protected spill(): void {
    this.flush();
  }

  flush(): void {
    if (this.pos === 0) return;
    try {
      this.write(this.buf, this.pos, this.lines);
    } finally {
      this.pos = 0;
      this.lines = 0;
      if (this.buf.length > this.blockSize) this.buf = Buffer.allocUnsafeSlow(this.blockSize);
    }
  }

  /** Lines made elsewhere (a LineBlock), after the ones waiting here: a small block is copied in, a large one written as it is. */
  writeBlock(block: LineBlock): void {
    const n = block.bytes.length;
    if (n === 0) return;
    if (n <= this.blockSize >> 2) {
      if (this.pos + n > this.buf.length) this.flush();
      this.buf.set(block.bytes, this.pos);
      this.pos += n;
      this.lines += block.lines;
      return;
    }
    this.flush();
    this.write(block.bytes, n, block.lines);
  }

  /** Writes `lines` lines, `buf`'s first `end` bytes, under the lock, up to the shared limit. */
  private write(buf: Uint8Array, end: number, lines: number): void {
    const words = this.shared.words;
    this.lock();
    try {
      if (this.shared.limit >= 0) {
        const before = Atomics.add(words, COUNT, lines);
        const allowed = Math.max(0, Math.min(lines, this.shared.limit - before));
        if (allowed < lines) end = allowed === 0 ? 0 : nthNewline(buf, allowed, end) + 1;
      } else {
        Atomics.add(words, COUNT, lines);
      }
      if (Atomics.load(words, CLOSED) === 0 && !writeAll(this.fd, buf, end)) Atomics.store(words, CLOSED, 1);
    } finally {
      this.unlock();
    }
  }

  private lock(): void {
    const words = this.shared.words;
    while (Atomics.compareExchange(words, LOCK, 0, 1) !== 0) Atomics.wait(words, LOCK, 1, 50);
  }

  private unlock(): void {
    Atomics.store(this.shared.words, LOCK, 0);
    Atomics.notify(this.shared.words, LOCK, 1);
  }
}

function nthNewline(buf: Uint8Array, n: number, end: number): number {
  let at = -1;
  for (let k = 0; k < n; k++) {
    at = buf.indexOf(NEWLINE, at + 1);
    if (at < 0 || at >= end) return end - 1;
  }
  return at;
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * writeSync until every byte is out; a non-blocking pipe that is full (EAGAIN) is waited
 * for. False when the reader has gone (EPIPE).
 */
function writeAll(fd: number, buf: Uint8Array, end: number): boolean {
  let off = 0;
  while (off < end) {
    try {
      off += writeSync(fd, buf, off, end - off);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') return false;
      if (code !== 'EAGAIN') throw err;
      Atomics.wait(pause, 0, 0, 2);
    }
  }
  return true;
}

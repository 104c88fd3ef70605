/**
 * One message body as it streams past: decoded (gzip, deflate, br), counted, and only
 * its first `cap` decoded bytes kept. A large body is never held whole.
 */
import zlib from 'node:zlib';
import { addIssue } from './head.js';
import { BODY_SIDES } from '../../entries/body-sides.js';
import { lazyText, pendingText } from './lazy-text.js';

/**
 * Node offers no public synchronous *streaming* inflate: the stream classes answer
 * asynchronously and `inflateSync` wants the whole input. The zlib handle behind every
 * stream class has the synchronous `writeSync` that `inflateSync` itself loops over, so
 * the decoder drives it directly, one call per input slice, into one shared output buffer.
 */
interface ZlibHandle {
  writeSync(flush: number, input: Buffer, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void;
  onerror: (message: string, errno: number, code?: string) => void;
}
interface ZlibInternals {
  _handle: ZlibHandle | null;
  _writeState: Uint32Array;
  close(): void;
  reset(): void;
}

const ignoreError = (): void => {};

const GUNZIP = 0;
const BROTLI = 1;
const INFLATE = 2;
const INFLATE_RAW = 3;

/**
 * Decoders that finished a body without an error, reset and kept for the next body of the
 * same kind (per thread). Making one is a zlib stream object with its Writable state and a
 * native handle, then a close: most of the cost of a small gzip body.
 */
const idleEngines: ZlibInternals[][] = [[], [], [], []];
const IDLE_ENGINES_PER_KIND = 8;

function newEngine(kind: number): ZlibInternals {
  const stream =
    kind === GUNZIP ? zlib.createGunzip(TINY) : kind === BROTLI ? zlib.createBrotliDecompress(TINY) : kind === INFLATE ? zlib.createInflate(TINY) : zlib.createInflateRaw(TINY);
  return stream as unknown as ZlibInternals;
}

const OUT = Buffer.allocUnsafe(64 * 1024);
/** The stream's own output buffer is never used (output goes to OUT): make it the smallest allowed. */
const TINY = { chunkSize: zlib.constants.Z_MIN_CHUNK };
const EMPTY = Buffer.alloc(0);

export const CODING_NONE = 0;
export const CODING_GZIP = 1;
export const CODING_DEFLATE = 2;
export const CODING_BR = 3;
/** An encoding this parser does not decode: the raw bytes are kept. */
export const CODING_UNKNOWN = 4;

/** Content-Encoding value → coding. RFC 9110 8.4.1.3: "x-gzip ... SHOULD be considered as equivalent to gzip". */
export function codingOf(contentEncoding: string): number {
  if (contentEncoding === '') return CODING_NONE;
  const v = contentEncoding.trim().toLowerCase();
  switch (v) {
    case 'identity':
      return CODING_NONE;
    case 'gzip':
    case 'x-gzip':
      return CODING_GZIP;
    case 'deflate':
      return CODING_DEFLATE;
    case 'br':
      return CODING_BR;
    default:
      return CODING_UNKNOWN;
  }
}

export interface BodyLimits {
  /** Decoded bytes produced per body before decoding stops (a decompression bomb). */
  maxDecodedBytes: number;
}

export interface BodyResult {
  /** Decoded bytes (for gzip cut at the cap: the ISIZE trailer). */
  size: number;
  kept: Buffer;
  truncated: boolean;
  /** The kept bytes are still content-coded (an encoding this parser does not decode). */
  raw: boolean;
  issues: string[] | null;
  /** Set instead of the fields above (which are then empty) when decoding waits for the entry to be read (DeferredGzipBody). */
  deferred?: DeferredBody;
}

/**
 * A gzip body whose decoding waits until its entry is read (`deferGzipBodies`): the
 * compressed bytes BodyCollector would have inflated, and what else it needs to reach the
 * same result (replayDeferred). Plain data: it crosses threads and is stored with the entry.
 */
export interface DeferredBody {
  cap: number;
  maxDecodedBytes: number;
  /** The first compressed bytes of the body, at most deferredKeepBytes(cap). */
  bytes: Buffer;
  /** More compressed bytes came than `bytes` holds. */
  overflow: boolean;
  /** Bytes of the body were not captured, after those in `bytes`. */
  gapped: boolean;
  /** The last (up to) 4 bytes of the body: gzip's ISIZE. */
  tail: Buffer;
  /** The body ended where its framing said. */
  complete: boolean;
}

/** The last up to 4 bytes of a stream, for gzip's ISIZE trailer. */
class TailBytes {
  readonly bytes = Buffer.alloc(4);
  length = 0;

  add(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n >= 4) {
      buf.copy(this.bytes, 0, end - 4, end);
      this.length = 4;
    } else {
      const keepOld = Math.min(this.length, 4 - n);
      this.bytes.copy(this.bytes, 0, this.length - keepOld, this.length);
      buf.copy(this.bytes, keepOld, start, end);
      this.length = keepOld + n;
    }
  }

  /** RFC 1952 2.3.1: "ISIZE (Input SIZE) This contains the size of the original (uncompressed) input data modulo 2^32." */
  get isize(): number | undefined {
    return this.length === 4 ? this.bytes.readUInt32LE(0) : undefined;
  }
}

/**
 * Body buffers given back once their entry has been written, for the next bodies of this
 * thread: `tapline read`'s printer is the last to look at an entry (createEntryPrinter with
 * `recycleBodies`), and a buffer per body, grown by doubling, was 229 MB of allocations on
 * the benchmark capture, each one memory V8 counts towards its next collection. Sizes are
 * powers of two from 4 KiB (smaller ones come from Node's slab and are not taken back);
 * only buffers made here are taken back, each once.
 */
class BodyBuffers {
  private readonly free: ArrayBuffer[][] = [];
  /** Buffers made here and out with a body now. */
  private readonly out = new WeakSet<ArrayBuffer>();
  private freeBytes = 0;

  take(minBytes: number): Buffer {
    // Below 4 KiB Node cuts buffers from a shared slab, cheaper than any list.
    if (minBytes < MIN_BODY_BUFFER) return Buffer.allocUnsafe(minBytes);
    const k = sizeClass(minBytes);
    const size = MIN_BODY_BUFFER * 2 ** k;
    const ab = this.free[k]?.pop();
    if (ab !== undefined) {
      this.freeBytes -= size;
      this.out.add(ab);
      return Buffer.from(ab);
    }
    const buf = Buffer.allocUnsafeSlow(size);
    this.out.add(buf.buffer);
    return buf;
  }

  give(bytes: Uint8Array): void {
    const ab = bytes.buffer as ArrayBuffer;
    if (!this.out.delete(ab)) return;
    const size = ab.byteLength;
    if (this.freeBytes + size > MAX_FREE_BODY_BYTES) return;
    (this.free[sizeClass(size)] ??= []).push(ab);
    this.freeBytes += size;
  }
}

const MIN_BODY_BUFFER = 4096;

/**
 * k for the smallest buffer size MIN_BODY_BUFFER * 2^k that holds `bytes`. Below 2^31 by
 * the leading zeros of (bytes - 1) / 4096 (a loop of `2 ** k` was 10 ms of the tap's
 * dissection thread over the benchmark capture); a cap may pass 2^31, where shifts stop.
 */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_BODY_BUFFER) return 0;
  if (bytes <= 0x7fffffff) return 32 - Math.clz32((bytes - 1) >> 12);
  let k = 19;
  while (MIN_BODY_BUFFER * 2 ** k < bytes) k++;
  return k;
}
/** Bytes of given-back buffers kept for reuse, at most. */
const MAX_FREE_BODY_BYTES = 16 << 20;

let bodyBuffers: BodyBuffers | null = null;

/** From now on this thread's bodies are kept in buffers that giveBodyBuffer takes back. */
export function recycleBodyBuffers(): void {
  bodyBuffers ??= new BodyBuffers();
}

/**
 * The buffer under `bytes` (a body's kept bytes, or a view of them) is free for another
 * body: nothing will read those bytes again. Buffers not made for bodies are ignored.
 */
export function giveBodyBuffer(bytes: Uint8Array): void {
  bodyBuffers?.give(bytes);
}

/**
 * Gives back every body buffer an entry still holds: texts still bytes (lazyText) and the
 * bytes of deferred gzip bodies. For the entry's last reader, once it has copied what it
 * keeps (the tap's dissection thread after encodeRows): nothing may read the entry after.
 */
export function giveEntryBodyBuffers(entry: { request?: unknown; response?: unknown }): void {
  if (bodyBuffers === null) return;
  for (const [sideKey, key] of BODY_SIDES) {
    const side = entry[sideKey];
    const body = side !== null && typeof side === 'object' ? (side as Record<string, unknown>)[key] : undefined;
    if (body === null || typeof body !== 'object') continue;
    const pending = pendingText(body);
    if (pending !== undefined) bodyBuffers.give(pending.bytes);
    const deferred = (body as { deferred?: DeferredBody }).deferred;
    if (deferred !== undefined && deferred.bytes instanceof Uint8Array) bodyBuffers.give(deferred.bytes);
  }
}

function newBuffer(bytes: number): Buffer {
  return bodyBuffers === null ? Buffer.allocUnsafe(bytes) : bodyBuffers.take(bytes);
}

/** The first `limit` bytes of a stream, in a buffer that grows by doubling from `firstSize`. */
class BytePrefix {
  private buf: Buffer | null = null;
  length = 0;

  constructor(
    private readonly limit: number,
    private readonly firstSize: number,
  ) {}

  /** Keeps what fits of buf[start, end); returns how many bytes that was. */
  add(buf: Buffer, start: number, end: number): number {
    const n = Math.min(this.limit - this.length, end - start);
    if (n <= 0) return 0;
    if (this.buf === null) this.buf = newBuffer(Math.min(this.limit, Math.max(this.firstSize, n)));
    else if (this.buf.length < this.length + n) this.grow(Math.min(this.limit, Math.max(this.buf.length * 2, this.length + n)));
    buf.copy(this.buf, this.length, start, start + n);
    this.length += n;
    return n;
  }

  /**
   * Free bytes after `length` in the buffer (`buffer`), made or grown here while fewer than
   * `limit` bytes are kept; 0 once `limit` are. Whoever writes there calls commit.
   */
  room(): number {
    if (this.length >= this.limit) return 0;
    if (this.buf === null) this.buf = newBuffer(Math.min(this.limit, this.firstSize));
    else if (this.length === this.buf.length) this.grow(Math.min(this.limit, this.buf.length * 2));
    // A recycled buffer may be longer than the limit.
    return Math.min(this.buf.length, this.limit) - this.length;
  }

  private grow(bytes: number): void {
    const grown = newBuffer(bytes);
    this.buf!.copy(grown, 0, 0, this.length);
    giveBodyBuffer(this.buf!);
    this.buf = grown;
  }

  /** The buffer room() made room in. */
  get buffer(): Buffer {
    return this.buf!;
  }

  /** `n` bytes were written at `length` (after room()). */
  commit(n: number): void {
    this.length += n;
  }

  /** The bytes kept (a view). */
  get bytes(): Buffer {
    return this.buf === null ? EMPTY : this.buf.subarray(0, this.length);
  }
}

export class BodyCollector {
  /** Decoded bytes seen. */
  private decoded = 0;
  private readonly kept: BytePrefix;
  private engine: ZlibInternals | null = null;
  private engineKind = GUNZIP;
  private failed = false;
  /** gzip cut at the cap: the rest is not decoded and the size comes from ISIZE. */
  private stopped = false;
  private gapped = false;
  private decodeLimitHit = false;
  /** gzip's last 4 bytes (made for a gzip body only: a Buffer of its own per body otherwise). */
  private tail: TailBytes | null = null;
  private coding: number;
  issues: string[] | null = null;

  constructor(
    private readonly cap: number,
    coding: number,
    sizeHint: number,
    private readonly limits: BodyLimits,
  ) {
    this.coding = coding;
    this.kept = new BytePrefix(cap, sizeHint > 0 && coding === CODING_NONE ? sizeHint : 4096);
    if (coding === CODING_UNKNOWN) this.issues = addIssue(this.issues, 'http.unsupported_content_encoding');
  }

  write(buf: Buffer, start: number, end: number): void {
    if (start >= end) return;
    const c = this.coding;
    // Past a decoding error nothing more is kept: what follows is neither the decoded body
    // nor, cut wherever the error fell in a segment, the same bytes for every chunk split.
    if (this.failed) return;
    if (c === CODING_NONE || c === CODING_UNKNOWN) {
      this.decoded += end - start;
      this.kept.add(buf, start, end);
      return;
    }
    if (c === CODING_GZIP) (this.tail ??= new TailBytes()).add(buf, start, end);
    if (this.stopped || this.gapped) return;
    if (this.engine === null) this.engine = this.open(buf[start]);
    this.inflate(buf, start, end, c === CODING_BR ? zlib.constants.BROTLI_OPERATION_PROCESS : zlib.constants.Z_NO_FLUSH);
  }

  /** `length` bytes of the body were not captured. */
  gap(): void {
    this.gapped = true;
    this.issues = addIssue(this.issues, 'tcp.gap');
    this.closeEngine();
  }

  /** `complete`: the body ended where its framing said (no gap, not cut by close). */
  finish(complete: boolean): BodyResult {
    if (this.engine !== null && !this.failed && !this.stopped && complete && !this.gapped) {
      // A stream that stops before its end is corrupt: Z_FINISH on no more input says so.
      const flush = this.coding === CODING_BR ? zlib.constants.BROTLI_OPERATION_FINISH : zlib.constants.Z_FINISH;
      this.inflate(EMPTY, 0, 0, flush);
    }
    this.closeEngine();
    let size = this.decoded;
    const isize = this.tail?.isize;
    if (this.stopped && complete && !this.gapped && isize !== undefined && isize >= size) size = isize;
    // A body the connection (or broken chunk framing) ended early is not whole, even when every byte seen was kept.
    const truncated = !complete || this.stopped || this.gapped || this.failed || size > this.kept.length;
    const kept = this.kept.bytes;
    return { size, kept, truncated, raw: this.coding === CODING_UNKNOWN, issues: this.issues };
  }

  /** Frees the native decoder (the flow ended before the body did). */
  dispose(): void {
    this.closeEngine();
  }

  private open(firstByte: number): ZlibInternals {
    // RFC 9110 8.4.1.2: "deflate ... a "zlib" data format [RFC1950] containing a "deflate"
    // compressed data stream"; some servers send the raw stream, told apart by the zlib
    // header (CM = 8 in the low nibble of the first byte).
    const kind = this.coding === CODING_GZIP ? GUNZIP : this.coding === CODING_BR ? BROTLI : (firstByte & 0x0f) === 8 ? INFLATE : INFLATE_RAW;
    this.engineKind = kind;
    const engine = idleEngines[kind]!.pop() ?? newEngine(kind);
    engine._handle!.onerror = () => {
      this.failed = true;
    };
    return engine;
  }

  private inflate(buf: Buffer, start: number, end: number, flush: number): void {
    const engine = this.engine!;
    const handle = engine._handle!;
    const state = engine._writeState;
    let inOff = start;
    let inLen = end - start;
    // Output is produced up to where decoding stops (one byte past the cap for gzip, the
    // decode limit for all), never a whole buffer beyond: where it stops, and so the size
    // reported for a body that ends early, is then the same however the body was cut into
    // segments.
    const stopAt = this.coding === CODING_GZIP ? Math.min(this.cap + 1, this.limits.maxDecodedBytes) : this.limits.maxDecodedBytes;
    const kept = this.kept;
    for (;;) {
      // Output goes straight into the kept prefix while it has room, then (to be counted
      // and dropped) into OUT.
      const room = kept.room();
      const out = room > 0 ? kept.buffer : OUT;
      const outOff = room > 0 ? kept.length : 0;
      const outLen = Math.min(room > 0 ? room : OUT.length, stopAt - this.decoded);
      handle.writeSync(flush, buf, inOff, inLen, out, outOff, outLen);
      if (this.failed) {
        this.issues = addIssue(this.issues, 'http.bad_content_encoding');
        this.closeEngine();
        return;
      }
      const outLeft = state[0];
      const inLeft = state[1];
      const have = outLen - outLeft;
      if (have > 0) {
        this.decoded += have;
        if (room > 0) kept.commit(have);
        if (this.decoded > this.cap && this.coding === CODING_GZIP) {
          // The kept prefix is full; the size will come from ISIZE, so stop inflating.
          this.stopped = true;
          this.closeEngine();
          return;
        }
        if (this.decoded >= this.limits.maxDecodedBytes) {
          this.decodeLimitHit = true;
          this.stopped = true;
          this.issues = addIssue(this.issues, 'http.decode_limit');
          this.closeEngine();
          return;
        }
      }
      inOff += inLen - inLeft;
      inLen = inLeft;
      if (outLeft !== 0) return; // the output had room: all input that could be used was used
    }
  }

  /** Gives the decoder back: reset for the next body when it met no error, else closed. */
  private closeEngine(): void {
    const engine = this.engine;
    if (engine === null) return;
    this.engine = null;
    const idle = idleEngines[this.engineKind]!;
    if (!this.failed && idle.length < IDLE_ENGINES_PER_KIND) {
      engine._handle!.onerror = ignoreError;
      engine.reset();
      idle.push(engine);
    } else engine.close();
  }

  /** Replaying a deferred body: the real tail of the whole body, of which only a prefix was written. */
  setTail(tail: Buffer): void {
    this.tail = new TailBytes();
    this.tail.add(tail, 0, tail.length);
  }

  /** Decoding stopped (past the cap, or at the decode limit): the rest of the input would not have been decoded. */
  get stoppedEarly(): boolean {
    return this.stopped;
  }
}

/**
 * Compressed bytes a deferred body keeps: enough for BodyCollector to pass the cap (it
 * stops inflating there) unless the data grew when compressed by more than an eighth.
 */
export function deferredKeepBytes(cap: number): number {
  return cap + (cap >> 3) + 1024;
}

/**
 * A gzip body recorded, not inflated, as it streams past: the parser of a tap, where the
 * dissection thread is what limits the loss-free rate, leaves decoding to whoever reads
 * the entry (replayDeferred, src/entries/deferred.ts). Measured on the benchmark capture
 * (README.md "Deferred gzip bodies").
 */
export class DeferredGzipBody {
  private readonly kept: BytePrefix;
  private overflow = false;
  private gapped = false;
  private readonly tail = new TailBytes();
  issues: string[] | null = null;

  constructor(
    private readonly cap: number,
    private readonly limits: BodyLimits,
  ) {
    this.kept = new BytePrefix(deferredKeepBytes(cap), 4096);
  }

  write(buf: Buffer, start: number, end: number): void {
    if (start >= end) return;
    this.tail.add(buf, start, end);
    if (this.gapped || this.overflow) return;
    if (this.kept.add(buf, start, end) < end - start) this.overflow = true;
  }

  gap(): void {
    this.gapped = true;
    this.issues = addIssue(this.issues, 'tcp.gap');
  }

  finish(complete: boolean): BodyResult {
    const kept = this.kept.bytes;
    const deferred: DeferredBody = {
      cap: this.cap,
      maxDecodedBytes: this.limits.maxDecodedBytes,
      // The kept bytes themselves, not a copy: the entry's last reader gives their buffer
      // back (giveEntryBodyBuffers). A copy per body was a malloc and, at a later
      // collection, a free (glibc's _int_free led the live dissection thread's profile).
      bytes: kept,
      overflow: this.overflow,
      gapped: this.gapped,
      tail: Buffer.from(this.tail.bytes.subarray(0, this.tail.length)),
      complete,
    };
    // A body that does not open with a gzip member header (a server that says gzip and
    // sends plain text, an empty or tiny body, a gap at the start) is decoded now: it
    // fails or ends within its first bytes, so it costs next to nothing, and its issues
    // are counted with the rest of dissection's (the tap's /metrics) rather than found
    // only when the entry is read. What is left deferred is a well-formed start.
    if (!opensGzipMember(kept)) {
      const decoded = replayDeferred(deferred);
      // The replay kept what it decoded in buffers of its own.
      giveBodyBuffer(kept);
      return decoded;
    }
    return { size: 0, kept: EMPTY, truncated: false, raw: false, issues: this.issues, deferred };
  }

  dispose(): void {}
}

/** RFC 1952 2.3: a member opens with ID1 ID2 (1f 8b), CM 8 (deflate) and FLG with its reserved bits 5-7 clear, in a 10-byte header. */
function opensGzipMember(b: Buffer): boolean {
  return b.length >= 10 && b[0] === 0x1f && b[1] === 0x8b && b[2] === 8 && (b[3] & 0xe0) === 0;
}

/** What BodyCollector would have made of a deferred body. */
export function replayDeferred(d: DeferredBody): BodyResult {
  const c = new BodyCollector(d.cap, CODING_GZIP, 0, { maxDecodedBytes: d.maxDecodedBytes });
  c.write(d.bytes, 0, d.bytes.length);
  if (d.gapped) c.gap();
  c.setTail(d.tail);
  // Past the kept bytes, BodyCollector would have gone on inflating unless it had stopped.
  return c.finish(d.complete && (!d.overflow || c.stoppedEarly));
}

/**
 * HAR's postData / content of a decoded body: text when the media type is text, base64
 * otherwise; cut at the cap and marked. With `lazy` the text stays bytes until read (lazyText).
 */
export function bodyContent(mimeType: string, body: BodyResult, withSize: boolean, lazy = false): Record<string, unknown> {
  const rec: Record<string, unknown> = { mimeType };
  if (withSize) rec.size = body.size;
  const text = !body.raw && (mimeType !== '' ? isTextMime(mimeType) : looksLikeText(body.kept));
  if (text) {
    if (lazy) lazyText(rec, body.kept.subarray(0, utf8PrefixEnd(body.kept, body.truncated)));
    else rec.text = utf8Prefix(body.kept, body.truncated);
  } else {
    if (lazy) lazyText(rec, body.kept, true);
    else rec.text = body.kept.toString('base64');
    rec.encoding = 'base64';
  }
  if (body.truncated) rec.truncated = true;
  return rec;
}

/** RFC 2046 / RFC 6838 media types whose bodies are text. */
export function isTextMime(contentType: string): boolean {
  let end = contentType.indexOf(';');
  if (end === -1) end = contentType.length;
  const t = contentType.slice(0, end).trim().toLowerCase();
  if (t.startsWith('text/')) return true;
  if (t.endsWith('+json') || t.endsWith('+xml')) return true;
  switch (t) {
    case 'application/json':
    case 'application/xml':
    case 'application/javascript':
    case 'application/ecmascript':
    case 'application/x-javascript':
    case 'application/x-www-form-urlencoded':
    case 'application/graphql':
    case 'application/x-ndjson':
    case 'application/yaml':
    case 'application/x-yaml':
    case 'application/sql':
    case 'image/svg+xml':
      return true;
    default:
      return false;
  }
}

/** No Content-Type: text when the first bytes hold no control bytes but TAB, CR, LF. */
export function looksLikeText(buf: Buffer): boolean {
  const n = Math.min(buf.length, 512);
  for (let i = 0; i < n; i++) {
    const c = buf[i];
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
    if (c === 0x7f) return false;
  }
  return true;
}

/** UTF-8 text of a prefix cut at the cap, without a half character at the end. */
export function utf8Prefix(buf: Buffer, cut: boolean): string {
  return buf.toString('utf8', 0, utf8PrefixEnd(buf, cut));
}

/** Where utf8Prefix ends the text of buf. */
function utf8PrefixEnd(buf: Buffer, cut: boolean): number {
  let end = buf.length;
  if (cut && end > 0) {
    // Step back over continuation bytes to the lead byte of the last character.
    let i = end - 1;
    while (i > 0 && end - i < 4 && (buf[i] & 0xc0) === 0x80) i--;
    const lead = buf[i];
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (end - i < need) end = i;
  }
  return end;
}

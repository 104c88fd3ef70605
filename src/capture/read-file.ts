/**
 * Reading a whole capture file (or standard input) through the push parser, with gzip
 * undone on the way. Memory stays constant whatever the file's size: one chunk is parsed
 * while the next is being read, and nothing is kept but what the packet sink keeps.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { closeSync, createReadStream, fstatSync, openSync } from 'node:fs';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { createCaptureParser, type CaptureParserOptions } from './capture-parser.js';
import { CaptureFileError, type CaptureSummary, type PacketSink } from './types.js';
import { fileErrorText } from '../common/file-errors.js';

export interface ReadCaptureOptions extends CaptureParserOptions {
  /** Called after every chunk read from the file (compressed bytes for a gzip file). */
  onProgress?(bytesRead: number, totalBytes: number | undefined): void;
  /**
   * Called before each chunk is parsed; when it returns a promise, reading waits for it.
   * This is how downstream back-pressure (a full output pipe, busy dissection threads)
   * reaches the reader, so nothing queues without bound.
   */
  beforeRead?(): Promise<unknown> | undefined;
  /** Bytes per read of a plain file: default 4 MiB, each read into a fresh buffer. */
  chunkBytes?: number;
}

export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
/** Output buffer size of the gunzip stream: big enough that few records straddle two. */
const GUNZIP_CHUNK_BYTES = 1024 * 1024;
const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/**
 * Reads the capture file at `path` (`'-'` for standard input), calling `onPacket` for every
 * packet. Resolves with the summary; rejects with a CaptureFileError at damage, after
 * every packet before it was delivered.
 */
export async function readCaptureFile(path: string, onPacket: PacketSink, opts: ReadCaptureOptions = {}): Promise<CaptureSummary> {
  if (path === '-') return readCaptureStream(process.stdin, onPacket, opts);
  const fh = await open(path, 'r');
  try {
    const stat = await fh.stat();
    if (stat.isDirectory()) throw Object.assign(new Error(`EISDIR: ${path} is a directory`), { code: 'EISDIR', syscall: 'open', path });
    if (!stat.isFile()) {
      // A FIFO or a device: no size and no positioned reads.
      return await readCaptureStream(createReadStream('', { fd: fh.fd, autoClose: false, highWaterMark: 1 << 20 }), onPacket, opts);
    }
    return await parseChunks(fileChunks(fh, opts.chunkBytes ?? DEFAULT_CHUNK_BYTES), onPacket, opts, stat.size);
  } finally {
    await fh.close();
  }
}

/**
 * Why `path` cannot be read as a capture file, in words (fileErrorText), or undefined when
 * it opens as something to read: a file, a FIFO, a device ("-", standard input, always
 * does). A command asks before it starts anything else.
 */
export function captureFileProblem(path: string): string | undefined {
  if (path === '-') return undefined;
  let fd: number;
  const directory = 'a directory, not a capture file';
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return (e as { code?: string }).code === 'EISDIR' ? directory : (fileErrorText(e) ?? (e as Error).message);
  }
  try {
    return fstatSync(fd).isDirectory() ? directory : undefined;
  } finally {
    closeSync(fd);
  }
}

/** Reads a capture from any byte stream (standard input, a socket, a test's Readable); gzip is undone. */
export function readCaptureStream(
  stream: AsyncIterable<Buffer | Uint8Array>,
  onPacket: PacketSink,
  opts: ReadCaptureOptions = {},
): Promise<CaptureSummary> {
  return parseChunks(asBuffers(stream), onPacket, opts, undefined);
}

async function* asBuffers(stream: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<Buffer> {
  for await (const chunk of stream) {
    yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

/**
 * Fresh buffers read from `fh`, the next read already under way while the caller parses
 * the current one. A buffer is never reused: packets downstream keep views of it.
 */
async function* fileChunks(fh: FileHandle, chunkBytes: number): AsyncGenerator<Buffer> {
  let position = 0;
  const readAt = async (at: number): Promise<Buffer> => {
    const buf = Buffer.allocUnsafeSlow(chunkBytes);
    const { bytesRead } = await fh.read(buf, 0, chunkBytes, at);
    return bytesRead === chunkBytes ? buf : buf.subarray(0, bytesRead);
  };
  let next = readAt(position);
  try {
    for (;;) {
      const chunk = await next;
      if (chunk.length === 0) return;
      position += chunk.length;
      next = readAt(position);
      yield chunk;
    }
  } finally {
    // The consumer may stop early (damage): let the read in flight finish before the file closes.
    await next.catch(() => undefined);
  }
}

async function parseChunks(
  source: AsyncGenerator<Buffer>,
  onPacket: PacketSink,
  opts: ReadCaptureOptions,
  totalBytes: number | undefined,
): Promise<CaptureSummary> {
  const parser = createCaptureParser(onPacket, opts);
  const onProgress = opts.onProgress;
  const beforeRead = opts.beforeRead;
  let bytesRead = 0;
  const counted = (async function* () {
    for await (const chunk of source) {
      bytesRead += chunk.length;
      onProgress?.(bytesRead, totalBytes);
      yield chunk;
    }
  })();

  // Look at the first two bytes (they may come in separate chunks from a pipe) for gzip's magic.
  const head: Buffer[] = [];
  let headBytes = 0;
  while (headBytes < 2) {
    const r = await counted.next();
    if (r.done) break;
    head.push(r.value);
    headBytes += r.value.length;
  }
  const first = head.length > 0 ? Buffer.concat(head, Math.min(headBytes, 2)) : Buffer.alloc(0);
  const gzipped = first.length === 2 && first[0] === GZIP_MAGIC_0 && first[1] === GZIP_MAGIC_1;
  const all = (async function* () {
    yield* head;
    yield* counted;
  })();

  if (gzipped) {
    const input = Readable.from(all, { objectMode: false });
    const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES });
    input.on('error', (err) => gunzip.destroy(err));
    input.pipe(gunzip);
    let inflated = 0;
    try {
      for await (const out of gunzip as AsyncIterable<Buffer>) {
        inflated += out.length;
        const wait = beforeRead?.();
        if (wait !== undefined) await wait;
        parser.push(out);
      }
    } catch (err) {
      // zlib's own errors (Z_DATA_ERROR, Z_BUF_ERROR for a cut-off stream) are damage of the file.
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('Z_')) {
        throw new CaptureFileError('capture.bad_gzip', inflated, `gzip data damaged after ${inflated} decompressed bytes: ${(err as Error).message}`);
      }
      throw err;
    } finally {
      input.destroy();
    }
  } else {
    for await (const chunk of all) {
      const wait = beforeRead?.();
      if (wait !== undefined) await wait;
      parser.push(chunk);
    }
  }
  return parser.end();
}
